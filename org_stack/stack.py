"""The org stack: one spoke StackSet per project, the OU-tag reconciler, and the
enrollment function with the lifecycle rules that drive both (docs/architecture.md §2 flows 2-5).

Who owns what
-------------
- **This stack owns each StackSet's definition**: its template (the project's synthesized spoke
  template, `spoke_stackset.stack`), its parameters' defaults (hub, code location), permission
  model, auto-deployment, managed execution and operation preferences. `cdk deploy` changes them;
  CloudFormation then rolls the change out to every existing instance.
- **The reconciler owns the stack instances**: which OUs and accounts get an instance of which
  StackSet, with which `Environment` override (`org_stack.runtime.reconciler`). The StackSets
  therefore declare no `StackInstancesGroup`: a deploy never adds or removes instances, and the
  reconciler never edits a template. Deleting this stack deletes the StackSets, which
  CloudFormation refuses while instances remain: untag the OUs (or run the reconciler with an
  empty project list) first.

Where it runs
-------------
The stack is deployed into `config.organization.administrator_account_id`, in its *home region*:
`config.organization.regions[0]` unless the app is given `-c dsdash:org-region=<region>`. The
StackSets live there, so their StackInstance status events arrive there too. Each configured
region also gets an `artifact_buckets.ArtifactBucketStack` holding the spoke code, in the same
account.

- `stackset_admin: management` (the default): the account is the management account and every
  StackSet call is made with `CallAs: SELF`. Organizations events arrive in us-east-1 only; when
  the home region is another one, the app adds `lifecycle_rules.OrganizationsEventForwarderStack`
  in us-east-1, which forwards them to the home region's default bus, where this stack's rules
  match them.
- `stackset_admin: delegated`: the account is the StackSets delegated administrator, every
  StackSet call is made with `CallAs: DELEGATED_ADMIN`, and the lifecycle rules sit on the
  `dsdash-org-lifecycle` bus (`delegation.LifecycleEventBus`), fed by the management account's
  `management_forwarder.ManagementForwarderStack`. See `org_stack.delegation`.

The hub's and spokes' enrollment roles trust this stack's enrollment function role, in this
stack's account (`cdk_support.functions.enrollment_role`).

The reconciler runs on Organizations TagResource, UntagResource, MoveAccount, CreateAccountResult
and CloseAccount, on a schedule as a backstop (CloudTrail delivery is best effort), and on every
deploy that changes it (a CDK trigger). The enrollment function runs on StackInstance status
changes of our StackSets, on Control Tower CreateManagedAccount, on Organizations
CreateAccountResult, MoveAccount and CloseAccount, and every 30 minutes with a sweep request that
re-runs enrollment for spokes recorded failed, or pending for too long.

Enrollment at scale
-------------------
Enrollment runs one invocation at a time (reserved concurrency 1): each one drives the hub's
connection function, which itself runs one at a time, so parallel enrollments would only wait on
(or be throttled by) it. A burst of lifecycle events, say a new OU of a hundred accounts, queues in
Lambda's asynchronous event queue instead, where an event is kept and retried for up to six hours
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html). What still fails, and
what ages out, goes to the failed-invocations queue (the reconciler's too), and the sweep
repairs the registry's failed and pending spokes in any case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import aws_cdk as cdk
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from aws_cdk import triggers
from constructs import Construct, IConstruct

import contracts
from cdk_support import nag
from cdk_support.functions import python_function
from cdk_support.lambda_asset import ORG_ENROLLMENT_ASSET, ORG_RECONCILER_ASSET, lambda_code
from config.model import DsdashConfig
from enrollment.runtime.lifecycle_events import OPERATOR_REQUEST_KEY
from org_stack.alarms import OrgAlarms
from org_stack.artifact_buckets import SpokeCodeArtifacts, artifact_bucket_prefix
from org_stack.delegation import LifecycleEventBus
from org_stack.lifecycle_rules import (
    control_tower_pattern,
    enrollment_organizations_pattern,
    reconciler_organizations_pattern,
    stack_instance_pattern,
)
from org_stack.runtime.reconciler import ReconcilerSettings
from org_stack.runtime.stackset_names import STACKSET_NAME_PREFIX, stackset_name
from spoke_stackset.stack import TEMPLATE_BODY_MAX_BYTES, SpokeParameter, SpokeTemplate

CallAs = Literal["SELF", "DELEGATED_ADMIN"]

RECONCILE_SCHEDULE: Final = events.Schedule.rate(cdk.Duration.hours(1))
# Above the reconciler's bounded wait for running StackSet operations (max_wait_seconds, 300 s)
# plus the organization walk and its API calls; Lambda's maximum.
RECONCILER_TIMEOUT: Final = cdk.Duration.minutes(15)
# Enrollment retries each step with backoff while a new account becomes usable.
ENROLLMENT_TIMEOUT: Final = cdk.Duration.minutes(15)
# One enrollment at a time (see "Enrollment at scale"); events wait in Lambda's async queue for
# up to its maximum age, six hours, and are retried twice (Lambda's maximum) when they fail.
ENROLLMENT_CONCURRENCY: Final = 1
ENROLLMENT_MAX_EVENT_AGE: Final = cdk.Duration.hours(6)
ENROLLMENT_RETRY_ATTEMPTS: Final = 2
# The sweep finishes enrollments recorded failed or left pending (enrollment.runtime.enrollment).
ENROLLMENT_SWEEP_SCHEDULE: Final = events.Schedule.rate(cdk.Duration.minutes(30))
ENROLLMENT_SWEEP_REQUEST: Final = {OPERATOR_REQUEST_KEY: "sweep"}
# A reconcile request older than the next scheduled reconcile is superseded by it.
RECONCILER_MAX_EVENT_AGE: Final = cdk.Duration.hours(1)
RECONCILER_RETRY_ATTEMPTS: Final = 2
FAILED_INVOCATIONS_RETENTION: Final = cdk.Duration.days(14)

# Suited to hundreds of accounts: regions in parallel, a quarter of the accounts at a time, and
# an operation that goes on while at most a tenth of the accounts fail (the reconciler uses the
# same numbers, see ReconcilerSettings.operation_preferences).
MAX_CONCURRENT_PERCENTAGE: Final = 25
FAILURE_TOLERANCE_PERCENTAGE: Final = 10

ORGANIZATIONS_READ_ACTIONS: Final = (
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListParents",
    "organizations:ListTagsForResource",
)
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

# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ENVIRONMENT_MAX_BYTES: Final = 4 * 1024


class SpokeTemplateTooLargeError(ValueError):
    """A spoke template passed CloudFormation's inline TemplateBody limit."""


class FunctionEnvironmentTooLargeError(ValueError):
    """A function's environment (the reconciler settings, mostly) passed Lambda's 4 KB."""


def _check_environment_size(function_name: str, environment: Mapping[str, str]) -> None:
    """Fail the synth, not the deployment, when the config no longer fits an environment."""
    size = sum(
        len(key.encode()) + len(value.encode())
        for key, value in environment.items()
        if not cdk.Token.is_unresolved(value)
    )
    if size > LAMBDA_ENVIRONMENT_MAX_BYTES:
        raise FunctionEnvironmentTooLargeError(
            f"the environment of {function_name} is {size:,} bytes, over Lambda's "
            f"{LAMBDA_ENVIRONMENT_MAX_BYTES:,}: the CONFIG value grows with projects, "
            "environments and explicitly listed accounts; list fewer accounts in the config"
        )


class OrgStack(cdk.Stack):
    """The org stack, in the administrator account's home region (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        region: str,
        spoke_templates: Mapping[str, SpokeTemplate],
        artifacts: SpokeCodeArtifacts,
        call_as: CallAs | None = None,
        synthesizer: cdk.IStackSynthesizer | None = None,
    ) -> None:
        """`call_as` defaults to the config's (`SELF`, or `DELEGATED_ADMIN` in delegated mode)."""
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(
                account=config.organization.administrator_account_id, region=region
            ),
            synthesizer=synthesizer,
            description=(
                "dsdash organization: spoke StackSets per project, OU-tag reconciler, enrollment"
            ),
        )
        missing = sorted(set(config.projects) - set(spoke_templates))
        if missing:
            raise ValueError(f"no synthesized spoke template for project(s) {', '.join(missing)}")
        self.config = config
        self.call_as: CallAs = call_as if call_as is not None else config.organization.call_as
        self.settings = ReconcilerSettings.from_config(config, call_as=self.call_as)
        # Delegated mode: lifecycle events come forwarded by the management account to this bus;
        # management mode: they arrive on (or are forwarded to) the default bus.
        self.lifecycle_bus: events.IEventBus | None = (
            LifecycleEventBus(
                self,
                "LifecycleEvents",
                management_account_id=config.organization.management_account_id,
            ).bus
            if config.organization.is_delegated
            else None
        )

        self.stack_sets = {
            project: self._stack_set(spoke_templates[project], artifacts)
            for project in sorted(config.projects)
        }
        self.failed_invocations_queue = self._failed_invocations_queue()
        self.reconciler_function = self._reconciler_function()
        self.enrollment_function = self._enrollment_function()
        self._reconcile_on_deploy()
        self.alarms = OrgAlarms(
            self,
            "Alarms",
            config=config,
            failed_invocations_queue=self.failed_invocations_queue,
        )
        self._outputs()

    # --- StackSets -----------------------------------------------------------------------------

    def _stack_set(
        self, spoke: SpokeTemplate, artifacts: SpokeCodeArtifacts
    ) -> cloudformation.CfnStackSet:
        if not spoke.fits_template_body:
            raise SpokeTemplateTooLargeError(
                f"the spoke template of project {spoke.project} is {spoke.body_bytes:,} bytes, "
                f"over CloudFormation's TemplateBody limit of {TEMPLATE_BODY_MAX_BYTES:,}; "
                "upload it and pass TemplateURL instead (up to 1 MB)"
            )
        hub = self.config.hub
        defaults = {
            SpokeParameter.PROJECT_NAME: spoke.project,
            SpokeParameter.HUB_ACCOUNT_ID: hub.account_id,
            SpokeParameter.HUB_REGION: hub.region,
            SpokeParameter.HUB_NAME: hub.name,
            SpokeParameter.CODE_BUCKET_PREFIX: artifact_bucket_prefix(
                self.config.organization.administrator_account_id
            ),
            SpokeParameter.EXTRACTOR_CODE_KEY: artifacts.extractor.key,
            SpokeParameter.CONNECTION_CODE_KEY: artifacts.connection.key,
        }
        return cloudformation.CfnStackSet(
            self,
            f"SpokeStackSet-{spoke.project}",
            stack_set_name=stackset_name(spoke.project),
            description=f"dsdash spoke for project {spoke.project}; instances: the reconciler",
            permission_model="SERVICE_MANAGED",
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=False
            ),
            # Managed execution queues operations instead of failing on a running one, and runs
            # non-conflicting ones concurrently.
            managed_execution={"Active": True},
            capabilities=["CAPABILITY_NAMED_IAM"],
            call_as=self.call_as,
            operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
                region_concurrency_type="PARALLEL",
                max_concurrent_percentage=MAX_CONCURRENT_PERCENTAGE,
                failure_tolerance_percentage=FAILURE_TOLERANCE_PERCENTAGE,
            ),
            template_body=spoke.body,
            parameters=[
                cloudformation.CfnStackSet.ParameterProperty(
                    parameter_key=key, parameter_value=value
                )
                for key, value in defaults.items()
            ],
        )

    def _stack_set_arn(self, stack_set: cloudformation.CfnStackSet) -> str:
        # Ref of a StackSet is its id, `<name>:<uuid>`, the resource part of its ARN.
        return self.format_arn(
            service="cloudformation", resource="stackset", resource_name=stack_set.ref
        )

    # --- failed asynchronous invocations ---------------------------------------------------------

    def _failed_invocations_queue(self) -> sqs.Queue:
        # SSE-SQS: Lambda's destination delivery then needs no KMS key policy
        # (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
        queue = sqs.Queue(
            self,
            "FailedInvocationsQueue",
            retention_period=FAILED_INVOCATIONS_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        nag.acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue: the on-failure destination of the "
            "reconciler's and enrollment's asynchronous invocations, kept for operators to "
            "inspect; nothing consumes it automatically, so no message fails to be processed.",
        )
        return queue

    # --- reconciler ----------------------------------------------------------------------------

    def _reconciler_function(self) -> lambda_.Function:
        environment = {"CONFIG": self.settings.to_config_json(), "CALL_AS": self.call_as}
        _check_environment_size(contracts.ORG_RECONCILER_FUNCTION_NAME, environment)
        function = python_function(
            self,
            "ReconcilerFunction",
            function_name=contracts.ORG_RECONCILER_FUNCTION_NAME,
            handler="org_stack.runtime.reconciler.handler",
            code=lambda_code(ORG_RECONCILER_ASSET),
            timeout=RECONCILER_TIMEOUT,
            memory_size=512,
            environment=environment,
        )
        function.configure_async_invoke(
            max_event_age=RECONCILER_MAX_EVENT_AGE,
            retry_attempts=RECONCILER_RETRY_ATTEMPTS,
            on_failure=destinations.SqsDestination(self.failed_invocations_queue),
        )
        self._grant_organizations_read(function, describe_account=True)
        stack_sets = self._our_stack_sets_arn()
        function.add_to_role_policy(
            iam.PolicyStatement(actions=list(STACK_INSTANCE_READ_ACTIONS), resources=[stack_sets])
        )
        # CreateStackInstances and its siblings authorize the StackSet, every deployment target
        # and every resource type in the template (Service Authorization Reference, AWS
        # CloudFormation: stackset*, stackset-target*, type*).
        stack_set_targets = self._arn(
            f"cloudformation:*:{self.account}:stackset-target/{STACKSET_NAME_PREFIX}*"
        )
        resource_types = self._arn("cloudformation:*::type/resource/*")
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(STACK_INSTANCE_WRITE_ACTIONS),
                resources=[stack_sets, stack_set_targets, resource_types],
            )
        )
        events.Rule(
            self,
            "OrganizationsChangesToReconciler",
            description="OU tags and account moves, creations and closures: reconcile",
            event_bus=self.lifecycle_bus,
            event_pattern=reconciler_organizations_pattern(),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        events.Rule(
            self,
            "ReconcileSchedule",
            description="Backstop: CloudTrail delivery of Organizations events is best effort",
            schedule=RECONCILE_SCHEDULE,
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        policy = function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        self._acknowledge_organizations_read(policy)
        self._acknowledge_stack_sets(policy, "reads and changes the stack instances")
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:*:"
            f"{self.config.organization.administrator_account_id}:stackset-target/"
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
        return function

    def _reconcile_on_deploy(self) -> None:
        # Asynchronous, so a deployment never waits on (or fails with) a long reconcile; the
        # function's version changes with its code and CONFIG, so each such change reconciles.
        triggers.Trigger(
            self,
            "ReconcileOnDeploy",
            handler=self.reconciler_function,
            invocation_type=triggers.InvocationType.EVENT,
            execute_after=list(self.stack_sets.values()),
            execute_on_handler_change=True,
        )
        # The trigger invokes the function's current version, and its provider role is granted
        # lambda:InvokeFunction on `<function arn>:*`, which covers every version.
        cdk.Annotations.of(self.reconciler_function).acknowledge_warning(
            "@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias",
            "The trigger provider's role may invoke every version of the reconciler",
        )

    # --- enrollment ----------------------------------------------------------------------------

    def _enrollment_function(self) -> lambda_.Function:
        config = self.config
        environment = {
            "HUB_ACCOUNT_ID": config.hub.account_id,
            "HUB_REGION": config.hub.region,
            "HUB_NAME": config.hub.name,
            # Organization mode: the hub side has nothing per spoke (docs/architecture.md §7).
            "HUB_BUS_POLICY": config.hub.bus_policy,
            "HUB_TABLE_NAME": contracts.HUB_TABLE_NAME,
            "SPOKE_REGIONS": ",".join(config.organization.regions),
            "CONFIG": self.settings.to_config_json(),
            "CALL_AS": self.call_as,
        }
        _check_environment_size(contracts.ORG_ENROLLMENT_FUNCTION_NAME, environment)
        function = python_function(
            self,
            "EnrollmentFunction",
            function_name=contracts.ORG_ENROLLMENT_FUNCTION_NAME,
            # The hub and spoke enrollment roles trust exactly this role name.
            role_name=contracts.ENROLLMENT_FUNCTION_ROLE_NAME,
            handler="enrollment.runtime.enrollment.handler",
            code=lambda_code(ORG_ENROLLMENT_ASSET),
            timeout=ENROLLMENT_TIMEOUT,
            memory_size=256,
            # See "Enrollment at scale" in the module docstring.
            reserved_concurrent_executions=ENROLLMENT_CONCURRENCY,
            environment=environment,
        )
        function.configure_async_invoke(
            max_event_age=ENROLLMENT_MAX_EVENT_AGE,
            retry_attempts=ENROLLMENT_RETRY_ATTEMPTS,
            on_failure=destinations.SqsDestination(self.failed_invocations_queue),
        )
        self._grant_organizations_read(function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "cloudformation:DescribeStackInstance",
                    "cloudformation:ListStackInstances",
                ],
                resources=[self._our_stack_sets_arn()],
            )
        )
        # Only dsdash's narrow roles: the hub's, in the hub account, and the spokes', in any
        # member account (enrollment.runtime.cross_account refuses any other name as well).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[
                    self._arn(
                        f"iam::{config.hub.account_id}:role/{contracts.HUB_ENROLLMENT_ROLE_NAME}"
                    ),
                    self._arn(f"iam::*:role/{contracts.spoke_enrollment_role_name('*')}"),
                ],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[self.reconciler_function.function_arn],
            )
        )
        events.Rule(
            self,
            "StackInstanceChangesToEnrollment",
            description="Spoke stack instances created, updated or deleted: enroll or offboard",
            event_pattern=stack_instance_pattern(
                [self._stack_set_arn(stack_set) for stack_set in self.stack_sets.values()]
            ),
            targets=[targets.LambdaFunction(function, retry_attempts=4)],
        )
        events.Rule(
            self,
            "AccountLifecycleToEnrollment",
            description="Accounts created, moved or closed: record pending or offboard",
            event_bus=self.lifecycle_bus,
            event_pattern=enrollment_organizations_pattern(),
            targets=[targets.LambdaFunction(function, retry_attempts=4)],
        )
        events.Rule(
            self,
            "ManagedAccountsToEnrollment",
            description="Control Tower account factory accounts: record pending",
            event_bus=self.lifecycle_bus,
            event_pattern=control_tower_pattern(),
            targets=[targets.LambdaFunction(function, retry_attempts=4)],
        )
        events.Rule(
            self,
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
        policy = function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        self._acknowledge_organizations_read(policy)
        self._acknowledge_stack_sets(policy, "reads a stack instance's environment override")
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/"
            f"{contracts.spoke_enrollment_role_name('*')}]",
            "Spokes are member accounts that join at run time, and IAM role names carry the "
            "region (IAM is global); the grant covers only dsdash's narrow spoke enrollment "
            "role, which trusts only this function's role.",
        )
        return function

    # --- permissions helpers -------------------------------------------------------------------

    def _grant_organizations_read(
        self, function: lambda_.Function, *, describe_account: bool = False
    ) -> None:
        """What `org_stack.runtime.org_tree` calls: ListRoots, then per root and OU its child
        OUs, accounts and tags, within our organization only; and what
        `org_stack.runtime.account_placement` calls: ListParents of an account and of each OU
        above it (and, for the reconciler, DescribeAccount for its state)."""
        function.add_to_role_policy(
            # ListRoots supports no resource-level permission.
            iam.PolicyStatement(actions=["organizations:ListRoots"], resources=["*"])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(ORGANIZATIONS_READ_ACTIONS), resources=self._organization_nodes()
            )
        )
        organization = self.config.organization
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "organizations:ListParents",
                    *(["organizations:DescribeAccount"] if describe_account else []),
                ],
                resources=[
                    self._arn(
                        f"organizations::{organization.management_account_id}:account/"
                        f"{organization.id}/*"
                    )
                ],
            )
        )

    def _organization_nodes(self) -> list[str]:
        organization = self.config.organization
        return [
            self._arn(
                f"organizations::{organization.management_account_id}:{kind}/{organization.id}/{prefix}*"
            )
            for kind, prefix in (("root", "r-"), ("ou", "ou-"))
        ]

    def _acknowledge_organizations_read(self, policy: IConstruct) -> None:
        organization = self.config.organization
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "organizations:ListRoots supports no resource-level permission (Service "
            "Authorization Reference, AWS Organizations) and is the only action granted on "
            "'*'; the organization walk starts from the roots.",
        )
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::"
            f"{organization.management_account_id}:account/{organization.id}/*]",
            "An event about one account reads that account's parents (and state) to place it "
            "without walking the organization; accounts join at run time, so only the "
            f"organization ({organization.id}) is known at deploy time. Read-only.",
        )
        for kind, prefix in (("root", "r-"), ("ou", "ou-")):
            nag.acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::"
                f"{organization.management_account_id}:{kind}/{organization.id}/{prefix}*]",
                "The organization walk lists the child OUs, accounts and tags of every root and "
                f"OU of organization {organization.id}, whose ids change as OUs are created; "
                "read-only List actions, within this organization only.",
            )

    def _our_stack_sets_arn(self) -> str:
        return self.format_arn(
            service="cloudformation",
            resource="stackset",
            resource_name=f"{STACKSET_NAME_PREFIX}*:*",
        )

    def _acknowledge_stack_sets(self, policy: IConstruct, what: str) -> None:
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:"
            f"{self.region}:{self.account}:stackset/{STACKSET_NAME_PREFIX}*:*]",
            f"The function {what} of dsdash's spoke StackSets only (one per project, named "
            f"'{STACKSET_NAME_PREFIX}<project>'); a StackSet ARN ends in a uuid known only "
            "after creation.",
        )

    def _arn(self, rest: str) -> str:
        return cdk.Fn.sub(f"arn:${{AWS::Partition}}:{rest}")

    # --- outputs -------------------------------------------------------------------------------

    def _outputs(self) -> None:
        values = {
            "ReconcilerFunctionName": self.reconciler_function.function_name,
            "EnrollmentFunctionName": self.enrollment_function.function_name,
            "EnrollmentRoleArn": self.enrollment_function.role.role_arn,  # type: ignore[union-attr]
            "FailedInvocationsQueueUrl": self.failed_invocations_queue.queue_url,
            "AlertTopicArn": self.alarms.topic.topic_arn,
        }
        for project, stack_set in self.stack_sets.items():
            values[f"StackSetId{_output_suffix(project)}"] = stack_set.ref
        for output_id, value in values.items():
            cdk.CfnOutput(self, output_id, value=value)


def _output_suffix(project: str) -> str:
    """Output ids are alphanumeric: `fraud-detection` -> `FraudDetection`."""
    return "".join(part.capitalize() for part in project.split("-"))
