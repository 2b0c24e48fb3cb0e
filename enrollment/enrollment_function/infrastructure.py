"""The enrollment function's CDK construct: the function, what it may read and assume, and the
rules that run it, derived from its trigger table (`runtime.lifecycle_triggers`), plus the
30-minute sweep.

Its resources are created in the org stack's scope under the ids the stack used before this unit
existed (`EnrollmentFunction`, `StackInstanceChangesToEnrollment`, `AccountLifecycleToEnrollment`,
`ManagedAccountsToEnrollment`, `EnrollmentSweepSchedule`), so deployed org stacks keep their
logical ids. The grant to start a reconcile is the org stack's, where the two units meet.

Enrollment at scale: one invocation at a time (reserved concurrency 1), since each one drives the
hub's connection function, which itself runs one at a time, so parallel enrollments would only
wait on (or be throttled by) it. A burst of lifecycle events, say a new OU of a hundred accounts,
queues in Lambda's asynchronous event queue instead, where an event is kept and retried for up to
six hours (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html). What still fails,
and what ages out, goes to the failed-invocations queue, and the sweep repairs the registry's
failed and pending spokes in any case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

import contracts
from cdk_support import nag
from cdk_support.functions import python_function
from cdk_support.lambda_asset import ORG_ENROLLMENT_ASSET, lambda_code
from config.model import DsdashConfig
from enrollment.enrollment_function.runtime.lifecycle_events import (
    CLOUDFORMATION_EVENT_SOURCE,
    CONTROL_TOWER_EVENT_SOURCE,
    CREATE_MANAGED_ACCOUNT_EVENT_NAME,
    OPERATOR_REQUEST_KEY,
    STACK_INSTANCE_DETAIL_TYPE,
)
from enrollment.enrollment_function.runtime.lifecycle_triggers import ORGANIZATIONS_EVENT_NAMES
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from enrollment.placement.infrastructure import (
    acknowledge_organizations_read,
    acknowledge_stack_sets,
    check_environment_size,
    grant_organizations_read,
    organizations_pattern,
    our_stack_sets_arn,
    partition_arn,
)
from enrollment.placement.organizations_events import SERVICE_EVENT_DETAIL_TYPE
from enrollment.placement.targeting import TargetingSettings
from runtime_common.settings import environment_of

HANDLER: Final = "enrollment.enrollment_function.runtime.handler.handler"
# Enrollment retries each step with backoff while a new account becomes usable.
ENROLLMENT_TIMEOUT: Final = cdk.Duration.minutes(15)
# One enrollment at a time (see the module docstring); events wait in Lambda's async queue for
# up to its maximum age, six hours, and are retried twice (Lambda's maximum) when they fail.
ENROLLMENT_CONCURRENCY: Final = 1
ENROLLMENT_MAX_EVENT_AGE: Final = cdk.Duration.hours(6)
ENROLLMENT_RETRY_ATTEMPTS: Final = 2
# The sweep finishes enrollments recorded failed or left pending (`runtime.sweep`).
ENROLLMENT_SWEEP_SCHEDULE: Final = events.Schedule.rate(cdk.Duration.minutes(30))
ENROLLMENT_SWEEP_REQUEST: Final = {OPERATOR_REQUEST_KEY: "sweep"}


def enrollment_organizations_pattern() -> events.EventPattern:
    """The Organizations rows of the enrollment function's trigger table."""
    return organizations_pattern(ORGANIZATIONS_EVENT_NAMES)


def control_tower_pattern() -> events.EventPattern:
    # https://docs.aws.amazon.com/controltower/latest/userguide/lifecycle-events.html
    return events.EventPattern(
        source=[CONTROL_TOWER_EVENT_SOURCE],
        detail_type=[SERVICE_EVENT_DETAIL_TYPE],
        detail={"eventName": [CREATE_MANAGED_ACCOUNT_EVENT_NAME]},
    )


def stack_instance_pattern(stack_set_arns: Sequence[str]) -> events.EventPattern:
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stackset-stack-instance-status-change.html
    return events.EventPattern(
        source=[CLOUDFORMATION_EVENT_SOURCE],
        detail_type=[STACK_INSTANCE_DETAIL_TYPE],
        detail={"stack-set-arn": list(stack_set_arns)},
    )


class EnrollmentFunction:
    """The enrollment function in the org stack (`scope`), run by the StackInstance events of
    `stack_set_arns`, by account lifecycle events on `lifecycle_bus` (the default bus when
    None), and by the sweep schedule."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: DsdashConfig,
        settings: TargetingSettings,
        lifecycle_bus: events.IEventBus | None,
        failed_invocations_queue: sqs.IQueue,
        stack_set_arns: Sequence[str],
    ) -> None:
        stack = cdk.Stack.of(scope)
        environment = environment_of(
            EnrollmentSettings(
                hub_account_id=config.hub.account_id,
                hub_region=config.hub.region,
                hub_name=config.hub.name,
                spoke_regions=tuple(config.organization.regions),
                targeting=settings,
                # Organization mode: the hub side has nothing per spoke (docs/architecture.md §7).
                hub_bus_policy=config.hub.bus_policy,
            )
        )
        check_environment_size(contracts.ORG_ENROLLMENT_FUNCTION_NAME, environment)
        function = python_function(
            scope,
            "EnrollmentFunction",
            function_name=contracts.ORG_ENROLLMENT_FUNCTION_NAME,
            # The hub and spoke enrollment roles trust exactly this role name.
            role_name=contracts.ENROLLMENT_FUNCTION_ROLE_NAME,
            handler=HANDLER,
            code=lambda_code(ORG_ENROLLMENT_ASSET),
            timeout=ENROLLMENT_TIMEOUT,
            memory_size=256,
            reserved_concurrent_executions=ENROLLMENT_CONCURRENCY,
            environment=environment,
        )
        self.function = function
        function.configure_async_invoke(
            max_event_age=ENROLLMENT_MAX_EVENT_AGE,
            retry_attempts=ENROLLMENT_RETRY_ATTEMPTS,
            on_failure=destinations.SqsDestination(failed_invocations_queue),
        )
        grant_organizations_read(function, config)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "cloudformation:DescribeStackInstance",
                    "cloudformation:ListStackInstances",
                ],
                resources=[our_stack_sets_arn(stack)],
            )
        )
        # Only dsdash's narrow roles: the hub's, in the hub account, and the spokes', in any
        # member account (`runtime.cross_account` refuses any other name as well).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[
                    partition_arn(
                        f"iam::{config.hub.account_id}:role/{contracts.HUB_ENROLLMENT_ROLE_NAME}"
                    ),
                    partition_arn(f"iam::*:role/{contracts.spoke_enrollment_role_name('*')}"),
                ],
            )
        )
        self._rules(scope, lifecycle_bus, stack_set_arns)
        policy = function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        acknowledge_organizations_read(policy, config)
        acknowledge_stack_sets(stack, policy, "reads a stack instance's environment override")
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/"
            f"{contracts.spoke_enrollment_role_name('*')}]",
            "Spokes are member accounts that join at run time, and IAM role names carry the "
            "region (IAM is global); the grant covers only dsdash's narrow spoke enrollment "
            "role, which trusts only this function's role.",
        )

    def _rules(
        self,
        scope: Construct,
        lifecycle_bus: events.IEventBus | None,
        stack_set_arns: Sequence[str],
    ) -> None:
        function = self.function
        events.Rule(
            scope,
            "StackInstanceChangesToEnrollment",
            description="Spoke stack instances created, updated or deleted: enroll or offboard",
            event_pattern=stack_instance_pattern(stack_set_arns),
            targets=[targets.LambdaFunction(function, retry_attempts=4)],
        )
        events.Rule(
            scope,
            "AccountLifecycleToEnrollment",
            description="Accounts created, moved or closed: record pending or offboard",
            event_bus=lifecycle_bus,
            event_pattern=enrollment_organizations_pattern(),
            targets=[targets.LambdaFunction(function, retry_attempts=4)],
        )
        events.Rule(
            scope,
            "ManagedAccountsToEnrollment",
            description="Control Tower account factory accounts: record pending",
            event_bus=lifecycle_bus,
            event_pattern=control_tower_pattern(),
            targets=[targets.LambdaFunction(function, retry_attempts=4)],
        )
        events.Rule(
            scope,
            "EnrollmentSweepSchedule",
            description="Finish enrollments recorded failed, or pending for too long",
            schedule=ENROLLMENT_SWEEP_SCHEDULE,
            targets=[
                targets.LambdaFunction(
                    function,
                    event=events.RuleTargetInput.from_object(ENROLLMENT_SWEEP_REQUEST),
                    retry_attempts=2,
                )
            ],
        )
