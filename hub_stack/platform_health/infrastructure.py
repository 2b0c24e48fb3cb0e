"""The platform-health function's CDK construct: the function, its reads of the hub table, its
right to put the health metrics, and the schedule that runs it.

Built in the scope of the hub's alerting construct under the ids it used before this unit
existed (`HealthFunction`, `HealthSchedule`), so deployed hub stacks keep their logical ids.
Its environment is `environment_of(HealthSettings)`. The alarms on its metrics stay with the
alerting (`hub_stack.alerting`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

import contracts
from cdk_support import nag
from cdk_support.functions import python_function
from cdk_support.lambda_asset import LambdaAssetSpec, lambda_code
from config.model import DsdashConfig
from config.schedule import refresh_period_seconds
from hub_stack import table_design
from hub_stack.platform_health.runtime.platform_health import HealthSettings
from hub_stack.runtime import health_metrics
from runtime_common.settings import environment_of

HANDLER: Final = "hub_stack.platform_health.runtime.platform_health.handler"
# The asset holds its handler's import closure (cdk_support.lambda_asset).
HUB_HEALTH_ASSET: Final = LambdaAssetSpec(
    name="hub-health", handler_module="hub_stack.platform_health.runtime.platform_health"
)
HEALTH_CHECK_MINUTES: Final = 15
HEALTH_TIMEOUT: Final = cdk.Duration.seconds(60)
HEALTH_MEMORY_MB: Final = 256


def health_settings(config: DsdashConfig, table: dynamodb.ITable) -> HealthSettings:
    """A spoke is stale after as many refresh periods as `dsdash status` allows it."""
    period = refresh_period_seconds(config.refresh_schedule)
    return HealthSettings(
        table_name=table.table_name,
        stale_after=timedelta(seconds=contracts.STALE_AFTER_REFRESH_PERIODS * period),
    )


class HealthFunction:
    """The platform-health function in `scope`, run every `HEALTH_CHECK_MINUTES` minutes."""

    def __init__(
        self, scope: Construct, *, settings: HealthSettings, table: dynamodb.ITable
    ) -> None:
        function = python_function(
            scope,
            "HealthFunction",
            function_name=contracts.HUB_HEALTH_FUNCTION_NAME,
            handler=HANDLER,
            code=lambda_code(HUB_HEALTH_ASSET),
            timeout=HEALTH_TIMEOUT,
            memory_size=HEALTH_MEMORY_MB,
            environment=environment_of(settings),
        )
        self.function = function
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[table.table_arn],
                # The registry, and the latest items that hold each spoke's freshness.
                conditions={
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": [
                            table_design.SPOKE_REGISTRY_PARTITION,
                            "LATEST#*",
                        ]
                    }
                },
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": health_metrics.NAMESPACE}},
            )
        )
        nag.acknowledge(
            function.role.node.find_child("DefaultPolicy") if function.role else function,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource-level permissions; the grant is limited"
            f" to the '{health_metrics.NAMESPACE}' namespace by the cloudwatch:namespace"
            " condition (https://docs.aws.amazon.com/service-authorization/latest/reference/"
            "list_amazoncloudwatch.html).",
        )
        events.Rule(
            scope,
            "HealthSchedule",
            description="Publishes the number of stale and failed spokes for the health alarms",
            schedule=events.Schedule.rate(cdk.Duration.minutes(HEALTH_CHECK_MINUTES)),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
