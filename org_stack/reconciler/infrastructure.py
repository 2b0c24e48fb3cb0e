"""The reconciler function's CDK construct: the function, what it may read and change, the rules
and schedule that run it, and its run on every deploy that changes it.

Its resources are created in the org stack's scope under the ids the stack used before this unit
existed (`ReconcilerFunction`, `OrganizationsChangesToReconciler`, `ReconcileSchedule`,
`ReconcileOnDeploy`), so deployed org stacks keep their logical ids.
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
from aws_cdk import triggers
from constructs import Construct

import contracts
from cdk_support import nag
from cdk_support.functions import python_function
from cdk_support.lambda_asset import ORG_RECONCILER_ASSET, lambda_code
from config.model import DsdashConfig
from enrollment.placement.infrastructure import (
    acknowledge_organizations_read,
    acknowledge_stack_sets,
    check_environment_size,
    grant_organizations_read,
    organizations_pattern,
    our_stack_sets_arn,
    partition_arn,
)
from enrollment.placement.stackset_names import STACKSET_NAME_PREFIX
from enrollment.placement.targeting import TargetingSettings
from org_stack.reconciler.runtime.settings import ReconcilerSettings
from org_stack.reconciler.runtime.triggers import RECONCILE_TRIGGER_EVENT_NAMES
from runtime_common.settings import environment_of

HANDLER: Final = "org_stack.reconciler.runtime.handler.handler"
RECONCILE_SCHEDULE: Final = events.Schedule.rate(cdk.Duration.hours(1))
# Above the reconciler's bounded wait for running StackSet operations (max_wait_seconds, 300 s)
# plus the organization walk and its API calls; Lambda's maximum.
RECONCILER_TIMEOUT: Final = cdk.Duration.minutes(15)
# A reconcile request older than the next scheduled reconcile is superseded by it.
RECONCILER_MAX_EVENT_AGE: Final = cdk.Duration.hours(1)
RECONCILER_RETRY_ATTEMPTS: Final = 2
STACK_INSTANCE_READ_ACTIONS: Final = (
    "cloudformation:DescribeStackInstance",
    "cloudformation:ListStackInstances",
    "cloudformation:ListStackSetOperations",
)
STACK_INSTANCE_WRITE_ACTIONS: Final = (
    "cloudformation:CreateStackInstances",
    "cloudformation:DeleteStackInstances",
    "cloudformation:UpdateStackInstances",
)


def reconciler_organizations_pattern() -> events.EventPattern:
    """The Organizations rows of the reconciler's trigger table (`runtime.triggers`)."""
    return organizations_pattern(RECONCILE_TRIGGER_EVENT_NAMES)


class ReconcilerFunction:
    """The reconciler in the org stack (`scope`), run by `lifecycle_bus`'s Organizations events
    (the default bus when None), hourly, and after `stack_sets` change on deploy."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: DsdashConfig,
        settings: TargetingSettings,
        lifecycle_bus: events.IEventBus | None,
        failed_invocations_queue: sqs.IQueue,
        stack_sets: Sequence[cdk.CfnResource],
    ) -> None:
        stack = cdk.Stack.of(scope)
        environment = environment_of(ReconcilerSettings(targeting=settings))
        check_environment_size(contracts.ORG_RECONCILER_FUNCTION_NAME, environment)
        function = python_function(
            scope,
            "ReconcilerFunction",
            function_name=contracts.ORG_RECONCILER_FUNCTION_NAME,
            handler=HANDLER,
            code=lambda_code(ORG_RECONCILER_ASSET),
            timeout=RECONCILER_TIMEOUT,
            memory_size=512,
            environment=environment,
        )
        self.function = function
        function.configure_async_invoke(
            max_event_age=RECONCILER_MAX_EVENT_AGE,
            retry_attempts=RECONCILER_RETRY_ATTEMPTS,
            on_failure=destinations.SqsDestination(failed_invocations_queue),
        )
        grant_organizations_read(function, config, describe_account=True)
        stack_sets_arn = our_stack_sets_arn(stack)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(STACK_INSTANCE_READ_ACTIONS), resources=[stack_sets_arn]
            )
        )
        # CreateStackInstances and its siblings authorize the StackSet, every deployment target
        # and every resource type in the template (Service Authorization Reference, AWS
        # CloudFormation: stackset*, stackset-target*, type*).
        stack_set_targets = partition_arn(
            f"cloudformation:*:{stack.account}:stackset-target/{STACKSET_NAME_PREFIX}*"
        )
        resource_types = partition_arn("cloudformation:*::type/resource/*")
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(STACK_INSTANCE_WRITE_ACTIONS),
                resources=[stack_sets_arn, stack_set_targets, resource_types],
            )
        )
        events.Rule(
            scope,
            "OrganizationsChangesToReconciler",
            description="OU tags and account moves, creations and closures: reconcile",
            event_bus=lifecycle_bus,
            event_pattern=reconciler_organizations_pattern(),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        events.Rule(
            scope,
            "ReconcileSchedule",
            description="Backstop: CloudTrail delivery of Organizations events is best effort",
            schedule=RECONCILE_SCHEDULE,
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        policy = function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        acknowledge_organizations_read(policy, config)
        acknowledge_stack_sets(stack, policy, "reads and changes the stack instances")
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:*:"
            f"{config.organization.administrator_account_id}:stackset-target/"
            f"{STACKSET_NAME_PREFIX}*]",
            "Stack instance operations authorize each deployment target (OU or account) of the "
            "StackSet; OUs come from tags at run time, so the targets are scoped by our "
            "StackSet name prefix in any target region.",
        )
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:*::type/resource/*]",
            "Stack instance operations authorize every resource type the template creates "
            "(Service Authorization Reference, type*); the template is ours and the types are "
            "AWS's own, in every target region.",
        )
        self._reconcile_on_deploy(scope, stack_sets)

    def _reconcile_on_deploy(self, scope: Construct, stack_sets: Sequence[cdk.CfnResource]) -> None:
        # Asynchronous, so a deployment never waits on (or fails with) a long reconcile; the
        # function's version changes with its code and environment, so each such change reconciles.
        triggers.Trigger(
            scope,
            "ReconcileOnDeploy",
            handler=self.function,
            invocation_type=triggers.InvocationType.EVENT,
            execute_after=list(stack_sets),
            execute_on_handler_change=True,
        )
        # The trigger invokes the function's current version, and its provider role is granted
        # lambda:InvokeFunction on `<function arn>:*`, which covers every version.
        cdk.Annotations.of(self.function).acknowledge_warning(
            "@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias",
            "The trigger provider's role may invoke every version of the reconciler",
        )
