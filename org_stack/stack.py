"""The org stack: one spoke StackSet per project, the OU-tag reconciler, and the
enrollment function with the lifecycle rules that drive both (docs/architecture.md §2 flows 2-5).

Who owns what
-------------
- **This stack owns each StackSet's definition**: its template (the project's synthesized spoke
  template, `spoke_stackset.stack`), its parameters' defaults (hub, code location), permission
  model, auto-deployment, managed execution and operation preferences. `cdk deploy` changes them;
  CloudFormation then rolls the change out to every existing instance.
- **The reconciler owns the stack instances**: which OUs and accounts get an instance of which
  StackSet, with which `Environment` override (`org_stack.reconciler`). The StackSets
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

Units composed here (docs/architecture.md §3): the reconciler (`org_stack.reconciler`) runs on
the Organizations events of its trigger table, hourly as a backstop (CloudTrail delivery is best
effort), and on every deploy that changes it; the enrollment function
(`enrollment.enrollment_function`) runs on StackInstance status changes of our StackSets, on the
account lifecycle events of its trigger table, and every 30 minutes with a sweep request. This
stack grants what happens where they meet: enrollment may invoke the reconciler. Both functions'
asynchronous failures go to this stack's failed-invocations queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import aws_cdk as cdk
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_support import nag
from config.model import DsdashConfig
from enrollment.enrollment_function.infrastructure import EnrollmentFunction
from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import TargetingSettings
from org_stack.alarms import OrgAlarms
from org_stack.artifact_buckets import SpokeCodeArtifacts, artifact_bucket_prefix
from org_stack.delegation import LifecycleEventBus
from org_stack.reconciler.infrastructure import ReconcilerFunction
from spoke_stackset.stack import TEMPLATE_BODY_MAX_BYTES, SpokeParameter, SpokeTemplate

CallAs = Literal["SELF", "DELEGATED_ADMIN"]

FAILED_INVOCATIONS_RETENTION: Final = cdk.Duration.days(14)

# Suited to hundreds of accounts: regions in parallel, a quarter of the accounts at a time, and
# an operation that goes on while at most a tenth of the accounts fail (the reconciler uses the
# same numbers, see TargetingSettings.operation_preferences).
MAX_CONCURRENT_PERCENTAGE: Final = 25
FAILURE_TOLERANCE_PERCENTAGE: Final = 10


class SpokeTemplateTooLargeError(ValueError):
    """A spoke template passed CloudFormation's inline TemplateBody limit."""


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
        self.settings = TargetingSettings.from_config(config, call_as=self.call_as)
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
        self.reconciler = ReconcilerFunction(
            self,
            config=config,
            settings=self.settings,
            lifecycle_bus=self.lifecycle_bus,
            failed_invocations_queue=self.failed_invocations_queue,
            stack_sets=list(self.stack_sets.values()),
        )
        self.reconciler_function = self.reconciler.function
        self.enrollment = EnrollmentFunction(
            self,
            config=config,
            settings=self.settings,
            lifecycle_bus=self.lifecycle_bus,
            failed_invocations_queue=self.failed_invocations_queue,
            stack_set_arns=[
                self._stack_set_arn(stack_set) for stack_set in self.stack_sets.values()
            ],
        )
        self.enrollment_function = self.enrollment.function
        # Where the units meet: enrollment starts a reconcile of an account the reconciler's own
        # rules do not cover (Control Tower's CreateManagedAccount, a re-assigned spoke).
        self.enrollment_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[self.reconciler_function.function_arn],
            )
        )
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
