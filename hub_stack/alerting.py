"""The hub's alerting: the alert topic, the ingest function's alert settings, the
platform-health function it composes (its unit: `hub_stack.platform_health`), and the CloudWatch
alarms on the platform's own health (docs/architecture.md §7, "Alerts").

Alarms, all on the alert topic (ALARM and OK), each named `dsdash-hub-<what>`:
- ingest dead-letter queue holding messages (ApproximateNumberOfMessagesVisible > 0);
- ingest function errors (Lambda Errors > 0 in 5 minutes);
- quarantined events in one hour above `notifications.quarantined_events_per_hour` (a metric
  filter on the ingest log counts them: no extra call on the ingest path);
- spokes failed and spokes stale (> 0), from the metrics the platform-health function publishes
  every `HEALTH_CHECK_MINUTES` minutes.

The enrollment failure queue is in the management account: its alarm is in the org stack, on
that account's own topic (`org_stack.stack`), because CloudWatch alarm actions publish only to
topics of their own account.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

import contracts
from cdk_support.alert_topic import AlertTopic
from config.model import DsdashConfig
from hub_stack.ingest.runtime.alert_rules import ProjectAlertRule, encode_alert_rules
from hub_stack.ingest.runtime.ingest_settings import IngestAlertSettings
from hub_stack.platform_health.infrastructure import (
    HEALTH_CHECK_MINUTES,
    HealthFunction,
    health_settings,
)
from hub_stack.runtime import health_metrics
from runtime_common.settings import environment_of

# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ENVIRONMENT_MAX_BYTES: Final = 4 * 1024


class AlertRulesTooLargeError(ValueError):
    """The config's alerts no longer fit the ingest function's 4 KB environment."""


def alert_rules_of(config: DsdashConfig) -> list[ProjectAlertRule]:
    """Every project's alerts, as the ingest function reads them."""
    return [
        ProjectAlertRule(
            project=project.name,
            name=rule.name,
            metric=rule.metric,
            comparison=rule.comparison,
            threshold=Decimal(str(rule.threshold)),
            consecutive=rule.consecutive,
            severity=rule.severity,
            dimensions=rule.dimensions,
            environments=tuple(e for e in rule.environments if e in project.environments),
        )
        for project in config.projects.values()
        for rule in project.alerts
        if rule.applies_to_any(project.environments)
    ]


class HubAlerting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        table: dynamodb.Table,
        ingest_function: lambda_.Function,
        dead_letter_queue: sqs.Queue,
        reserved_ingest_environment_bytes: int = 0,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        ingest_role = ingest_function.role
        assert ingest_role is not None  # python_function always gives one
        self.alert_topic = AlertTopic(
            self,
            "AlertTopic",
            topic_name=contracts.HUB_ALERT_TOPIC_NAME,
            display_name="dsdash alerts",
            subscriptions=config.notifications.subscriptions,
            publisher_roles=[ingest_role],
        )
        self.topic = self.alert_topic.topic
        self._configure_ingest(ingest_function, reserved_bytes=reserved_ingest_environment_bytes)
        self.health_function = HealthFunction(
            self, settings=health_settings(config, table), table=table
        ).function
        action = cloudwatch_actions.SnsAction(self.topic)
        self.alarms = [
            self._alarm(
                "IngestDeadLetterQueueAlarm",
                name="dead-letter-queue",
                metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(5), statistic="Maximum"
                ),
                threshold=0,
                description="Metric events are waiting in the ingest dead-letter queue: they"
                " failed ingest repeatedly (see the ingest logs, then redrive the queue).",
            ),
            self._alarm(
                "IngestErrorsAlarm",
                name="ingest-errors",
                metric=ingest_function.metric_errors(period=cdk.Duration.minutes(5)),
                threshold=0,
                description="The ingest function failed (an invocation error, or every"
                " record of a batch failed): SQS redelivers, the dead-letter queue fills next.",
            ),
            self._alarm(
                "QuarantinedEventsAlarm",
                name="quarantined-events",
                metric=self._quarantine_metric(ingest_function),
                threshold=config.notifications.quarantined_events_per_hour,
                description="More events than notifications.quarantined_events_per_hour were"
                " quarantined in one hour (see `dsdash quarantine list`).",
            ),
            self._alarm(
                "SpokesFailedAlarm",
                name="spokes-failed",
                metric=self._health_metric(health_metrics.SPOKES_FAILED),
                threshold=0,
                description="A spoke's enrollment failed (see `dsdash status`).",
            ),
            self._alarm(
                "SpokesStaleAlarm",
                name="spokes-stale",
                metric=self._health_metric(health_metrics.SPOKES_STALE),
                threshold=0,
                description="An enrolled spoke sent no data for two refresh periods (see"
                " `dsdash status`).",
            ),
        ]
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)

    def _configure_ingest(self, function: lambda_.Function, *, reserved_bytes: int) -> None:
        rules = alert_rules_of(self.config)
        environment = environment_of(
            IngestAlertSettings(
                rules=tuple(rules),
                topic_arn=self.topic.topic_arn,
                dashboard_url=self.config.notifications.dashboard_url,
            )
        )
        encoded = encode_alert_rules(rules)
        # The fixed variables take a few hundred bytes; the rules and the other variables that
        # grow with the config (`reserved_bytes`, the project aliases) share the rest.
        budget = LAMBDA_ENVIRONMENT_MAX_BYTES - 1024 - reserved_bytes
        if len(encoded.encode()) > budget:
            raise AlertRulesTooLargeError(
                f"the alerts of the config take {len(encoded.encode()):,} bytes in the ingest"
                f" function's environment, over the {budget:,} left of Lambda's 4 KB (after"
                f" {reserved_bytes:,} bytes of project aliases): define shared alerts once under"
                " defaults.alerts, or fewer per project"
            )
        for name, value in environment.items():
            function.add_environment(name, value)

    def _quarantine_metric(self, ingest_function: lambda_.Function) -> cloudwatch.Metric:
        logs.MetricFilter(
            self,
            "QuarantinedEventsFilter",
            log_group=ingest_function.log_group,
            filter_pattern=logs.FilterPattern.string_value(
                "$.message", "=", health_metrics.QUARANTINE_LOG_MESSAGE
            ),
            metric_namespace=health_metrics.NAMESPACE,
            metric_name=health_metrics.QUARANTINED_EVENTS,
            metric_value="1",
            default_value=0,
            unit=cloudwatch.Unit.COUNT,
        )
        return cloudwatch.Metric(
            namespace=health_metrics.NAMESPACE,
            metric_name=health_metrics.QUARANTINED_EVENTS,
            statistic="Sum",
            period=cdk.Duration.hours(1),
        )

    @staticmethod
    def _health_metric(name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=health_metrics.NAMESPACE,
            metric_name=name,
            statistic="Maximum",
            period=cdk.Duration.minutes(HEALTH_CHECK_MINUTES),
        )

    def _alarm(
        self,
        construct_id: str,
        *,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"dsdash-hub-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # No data means nothing happened (no message, no error, no quarantine), except for
            # the spoke metrics, whose absence means the health function stopped: shown as
            # INSUFFICIENT_DATA rather than a false OK.
            treat_missing_data=(
                cloudwatch.TreatMissingData.MISSING
                if name.startswith("spokes-")
                else cloudwatch.TreatMissingData.NOT_BREACHING
            ),
        )
