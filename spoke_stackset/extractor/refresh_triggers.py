"""What starts a spoke's extraction besides the hub bus's refresh events (docs/architecture.md §7).

- The periodic refresh is the spoke's own: an EventBridge Scheduler schedule with the config's
  `refresh.schedule` and a flexible time window, so thousands of spokes spread their extractions
  (and their events to the hub) over the window instead of hitting the hub in the same second.
  The hub holds no resource per spoke for it.
- On-demand refreshes come from the hub refresh topic (organization mode): the spoke subscribes
  its extractor, with a Lambda permission for that topic only. Subscriptions have no filter
  policy (SNS allows 200 per topic by default); the extractor checks the scope.
"""

from __future__ import annotations

import json
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

import contracts
from config.schedule import refresh_period_seconds

# The widest spread, and never more than half the period, so consecutive runs do not overlap.
MAX_STAGGER_MINUTES: Final = 15


def stagger_window_minutes(schedule_expression: str) -> int:
    """The flexible window for a schedule: half its period (config.schedule's reading: exact for
    rate(), the longest gap between firings for cron()), from 1 to 15 minutes."""
    period_minutes = refresh_period_seconds(schedule_expression) // 60
    return max(1, min(MAX_STAGGER_MINUTES, period_minutes // 2))


class SpokeRefreshTriggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        extractor: lambda_.IFunction,
        schedule_expression: str,
        hub_account_id: str,
        hub_region: str,
        subscribe_to_hub_topic: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        account = cdk.Stack.of(self).account
        role = iam.Role(
            self,
            "ScheduleRole",
            description="EventBridge Scheduler runs this spoke's extractor on its schedule",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            ),
        )
        # The function itself only: grant_invoke would add its versions (ARN:*) too.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[extractor.function_arn]
            )
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            description="Periodic dsdash extraction (config refresh.schedule), staggered",
            schedule_expression=schedule_expression,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(
                mode="FLEXIBLE",
                maximum_window_in_minutes=stagger_window_minutes(schedule_expression),
            ),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=extractor.function_arn,
                role_arn=role.role_arn,
                input=json.dumps({"source": "dsdash.spoke-schedule"}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=2),
            ),
        )
        self.subscription: sns.CfnSubscription | None = None
        if not subscribe_to_hub_topic:
            return
        topic_arn = cdk.Fn.sub(
            contracts.refresh_topic_arn("${AWS::Partition}", hub_region, hub_account_id)
        )
        permission = lambda_.CfnPermission(
            self,
            "HubTopicInvokesExtractor",
            action="lambda:InvokeFunction",
            function_name=extractor.function_name,
            principal="sns.amazonaws.com",
            source_arn=topic_arn,
        )
        self.subscription = sns.CfnSubscription(
            self,
            "HubRefreshTopicSubscription",
            topic_arn=topic_arn,
            protocol="lambda",
            endpoint=extractor.function_arn,
            region=cdk.Fn.sub(hub_region),
        )
        self.subscription.add_dependency(permission)
