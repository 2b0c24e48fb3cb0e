"""The management account's alarm: failed reconciler and enrollment invocations waiting in the
failed-invocations queue (docs/architecture.md §7, "Alerts").

CloudWatch alarm actions publish only to SNS topics of the alarm's own account, and the queue
is in the management account, so the alarm and its topic live here, beside the queue, rather
than in the hub. The topic is built like the hub's (`cdk_support.alert_topic`: KMS-encrypted,
only this account's alarms may publish) and gets the same config subscriptions; operators who
attach subscribers by hand attach them to both topics (README, "Alerts").
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

import contracts
from cdk_support.alert_topic import AlertTopic
from config.model import DsdashConfig

ENROLLMENT_FAILURES_ALARM_NAME = "dsdash-org-enrollment-failures"


class OrgAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        failed_invocations_queue: sqs.Queue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alert_topic = AlertTopic(
            self,
            "AlertTopic",
            topic_name=contracts.ORG_ALERT_TOPIC_NAME,
            display_name="dsdash organization alarms",
            subscriptions=config.notifications.subscriptions,
        )
        self.topic = self.alert_topic.topic
        self.enrollment_failures = cloudwatch.Alarm(
            self,
            "EnrollmentFailuresAlarm",
            alarm_name=ENROLLMENT_FAILURES_ALARM_NAME,
            alarm_description="A reconciler or enrollment invocation failed after its retries;"
            " its event waits in the failed-invocations queue (see FailedInvocationsQueueUrl and"
            " `dsdash status`).",
            metric=failed_invocations_queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        self.enrollment_failures.add_alarm_action(action)
        self.enrollment_failures.add_ok_action(action)
