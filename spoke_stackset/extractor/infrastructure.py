"""The spoke extractor's CDK construct: the function, its role, and what starts it.

`ExtractorFunction` builds the extraction function (`cdk_support.functions.python_function`)
with its environment written from `ExtractorSettings` (`environment_of`: the variables the
handler reads, by the same fields); grants it exactly the union of the selected metrics'
declared statements (`metrics.registry.iam_statements_for`, never hand-written) and PutEvents on
the spoke bus; and adds what runs it: the rule for the hub's refresh events on the spoke bus,
scoped to this spoke by EventBridge, and the spoke's own staggered schedule and hub-topic
subscription (`refresh_triggers`). Its resources are created in the scope the stack passes,
under the ids the spoke stack used before this unit existed (`ExtractorFunction`,
`ExtractorFunctionRole`, `ExtractorFunctionLogs`, `RefreshEventsToExtractor`,
`RefreshTriggers`), so the logical ids of deployed spokes do not change.
"""

from __future__ import annotations

import re
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

import contracts
from cdk_support import nag
from cdk_support.functions import python_function
from metrics.registry import iam_statements_for
from runtime_common.settings import environment_of
from spoke_stackset.extractor.refresh_triggers import SpokeRefreshTriggers
from spoke_stackset.extractor.runtime.extractor import ExtractorSettings

CONSTRUCT_ID: Final = "ExtractorFunction"
HANDLER: Final = "spoke_stackset.extractor.runtime.extractor.handler"
TIMEOUT: Final = cdk.Duration.minutes(5)
# The cheapest size holding 1.5x the extractor's measured peak RSS (about 65 MB with its clients
# kept between invocations), rounded up to a 64 MB step (docs/architecture.md §7, "Lambda
# sizing"): below 1,769 MB its CPU time costs the same GB-seconds at any size, and the time it
# waits for AWS costs less at less memory.
MEMORY_MB: Final = 128

_CLOUDFORMATION_PSEUDO = re.compile(r"\$\{AWS::[A-Za-z]+\}")


class ExtractorFunction:
    """One project's extraction function in `scope` (the spoke stack), and its triggers.

    `settings` carry the project's metric selection, baked in at synth time, and the project and
    environment as the template's parameters (tokens): the refresh rule matches the same values.
    `refresh_schedule` is the config's `refresh.schedule`; with `subscribe_to_hub_topic` (the
    hub's organization mode) the function also hears the hub's refresh topic in `hub_region` of
    `hub_account_id` (both `${Parameter}` references).
    """

    def __init__(
        self,
        scope: Construct,
        *,
        code: lambda_.Code,
        settings: ExtractorSettings,
        bus: events.IEventBus,
        refresh_schedule: str,
        hub_account_id: str,
        hub_region: str,
        subscribe_to_hub_topic: bool,
    ) -> None:
        self.function = python_function(
            scope,
            CONSTRUCT_ID,
            function_name=contracts.SPOKE_EXTRACTOR_FUNCTION_NAME,
            handler=HANDLER,
            code=code,
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            environment=environment_of(settings),
        )
        _grant_metric_permissions(self.function, settings)
        bus.grant_put_events_to(self.function)
        self.refresh_rule = _refresh_rule(scope, self.function, settings, bus)
        self.refresh_triggers = SpokeRefreshTriggers(
            scope,
            "RefreshTriggers",
            extractor=self.function,
            schedule_expression=refresh_schedule,
            hub_account_id=hub_account_id,
            hub_region=hub_region,
            subscribe_to_hub_topic=subscribe_to_hub_topic,
        )


def _grant_metric_permissions(function: lambda_.Function, settings: ExtractorSettings) -> None:
    """The union of the selected metrics' statements; a `*` resource is acknowledged for cdk-nag
    naming the metrics that declare it."""
    statements = iam_statements_for(settings.metrics)
    for statement in statements:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(statement.actions),
                resources=[_cloudformation_resource(r) for r in statement.resources],
            )
        )
    for statement in statements:
        if "*" not in statement.resources:
            continue
        metric_names = ", ".join(
            metric.metric_name()
            for metric in settings.metrics
            if any(
                set(declared.actions) & set(statement.actions) and "*" in declared.resources
                for declared in metric.resolved_permissions()
            )
        )
        nag.acknowledge(
            function.role.node.find_child("DefaultPolicy"),  # type: ignore[union-attr]
            "AwsSolutions-IAM5[Resource::*]",
            f"{', '.join(statement.actions)} support no resource-level permission "
            "(Service Authorization Reference, Amazon SageMaker) and are read-only "
            f"listings; the metrics that declare them ({metric_names}) need them, and "
            "the statement is derived from those metrics' declared permissions.",
        )


def _refresh_rule(
    scope: Construct,
    function: lambda_.IFunction,
    settings: ExtractorSettings,
    bus: events.IEventBus,
) -> events.Rule:
    # Absent scope fields mean "everyone"; present ones must name this spoke
    # (contracts/refresh_event.schema.json). EventBridge enforces the scope, so a spoke
    # never runs an extraction it was not asked for.
    def this_spoke_or_unscoped(value: str) -> list[Any]:
        return [{"exists": False}, value]

    return events.Rule(
        scope,
        "RefreshEventsToExtractor",
        event_bus=bus,
        description="Refresh events from the hub, scoped to this project/environment/account",
        event_pattern=events.EventPattern(
            source=[contracts.REFRESH_EVENT_SOURCE],
            detail_type=[contracts.REFRESH_EVENT_DETAIL_TYPE],
            detail={
                "ProjectName": this_spoke_or_unscoped(settings.project_name),
                "Environment": this_spoke_or_unscoped(settings.environment),
                "AccountId": this_spoke_or_unscoped(cdk.Stack.of(scope).account),
            },
        ),
        targets=[targets.LambdaFunction(function, retry_attempts=2)],
    )


def _cloudformation_resource(resource: str) -> str:
    """A metric's resource, with `${AWS::...}` placeholders resolved by CloudFormation."""
    return cdk.Fn.sub(resource) if _CLOUDFORMATION_PSEUDO.search(resource) else resource
