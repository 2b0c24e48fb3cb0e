"""The spoke stack: one plain CloudFormation template per project, deployed by a StackSet.

The org stack (`org_stack.stack`) embeds this template in a service-managed StackSet, which
deploys it into every account and region the reconciler targets (docs/architecture.md §2 flows 2-4, §5).
Service-managed StackSets impose what this module is built around:

- plain CloudFormation: no macros, no transforms, no CDK bootstrap parameters and no CDK assets
  (the target accounts are not bootstrapped, and the template must be deployable on its own).
  The stack uses `BootstraplessSynthesizer`, which refuses assets at synth time;
- Lambda code comes from the org stack's artifact bucket in the instance's own region
  (`${CodeBucketPrefix}-${AWS::Region}`, readable by every account of the organization), at the
  keys given by the `ExtractorCodeKey` and `ConnectionCodeKey` parameters;
- one template per project, because least privilege differs per metric set: the metric selection
  (`METRICS`) and the event version are baked in at synth time, and the extraction role allows
  exactly the union of the selected metrics' declared statements (`iam_statements_for`);
- IAM role names carry the region, because IAM is global and one account holds one instance per
  region; function names carry the unit ("spoke"), so one account can be both hub and spoke.

Resources: the `dsdash` bus and its statement admitting the hub; the `/monitors/<HubName>`
parameter naming the hub account; the extraction function with what runs it (the extractor
unit's construct, `spoke_stackset.extractor.infrastructure`: the rule for refresh events from the
hub bus, scoped by project, environment and account, its own staggered schedule and, in
organization mode, its subscription to the hub refresh topic); the spoke's connection function;
the role the spoke's forward rules use to put metric events on the hub bus; the narrow enrollment
role the org stack's enrollment function assumes (management account or delegated admin).

`synthesize_spoke_template` synthesizes one project's template in an app of its own, with cdk-nag,
and returns it as CloudFormation receives it.

This module imports aws_cdk; no Lambda asset ever contains it (see
`cdk_support.lambda_asset.SPOKE_EXTRACTOR_ASSET`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

import contracts
from cdk_support import nag
from cdk_support.functions import enrollment_role, nag_arn, parameter_arn
from config.model import DsdashConfig
from enrollment.connection.infrastructure import ConnectionFunction
from enrollment.connection.runtime.connection import ConnectionSettings
from metrics.registry import build_metric
from spoke_stackset.extractor.infrastructure import ExtractorFunction
from spoke_stackset.extractor.runtime.extractor import ExtractorSettings

# CloudFormation's limit on an inline template (CreateStackSet/UpdateStackSet TemplateBody);
# TemplateURL allows 1 MB (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
TEMPLATE_BODY_MAX_BYTES: Final = 51_200

DEFAULT_ENVIRONMENT: Final = "unassigned"
# The metric event contract's patterns, so a parameter CloudFormation accepts is a value the hub
# accepts too (contracts/metric_event_v2.schema.json).
_V2_PROPERTIES: Final = contracts.load_schema("metric-event-v2")["properties"]
ENVIRONMENT_PATTERN: Final = str(_V2_PROPERTIES["Environment"]["pattern"])
ACCOUNT_ID_PATTERN: Final = contracts.ACCOUNT_ID_PATTERN
REGION_PATTERN: Final = contracts.REGION_NAME_PATTERN
HUB_NAME_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,128}$"
BUCKET_PREFIX_PATTERN: Final = r"^[a-z0-9][a-z0-9.-]{1,40}$"
S3_KEY_PATTERN: Final = r"^[A-Za-z0-9!_.*'()/-]{1,1024}\.zip$"


class SpokeParameter:
    """Names of the spoke template's parameters: the StackSet and the reconciler set them."""

    PROJECT_NAME: Final = "ProjectName"
    ENVIRONMENT: Final = "Environment"
    HUB_ACCOUNT_ID: Final = "HubAccountId"
    HUB_REGION: Final = "HubRegion"
    HUB_NAME: Final = "HubName"
    CODE_BUCKET_PREFIX: Final = "CodeBucketPrefix"
    EXTRACTOR_CODE_KEY: Final = "ExtractorCodeKey"
    CONNECTION_CODE_KEY: Final = "ConnectionCodeKey"


SPOKE_PARAMETER_NAMES: Final = (
    SpokeParameter.PROJECT_NAME,
    SpokeParameter.ENVIRONMENT,
    SpokeParameter.HUB_ACCOUNT_ID,
    SpokeParameter.HUB_REGION,
    SpokeParameter.HUB_NAME,
    SpokeParameter.CODE_BUCKET_PREFIX,
    SpokeParameter.EXTRACTOR_CODE_KEY,
    SpokeParameter.CONNECTION_CODE_KEY,
)

CONNECTION_TIMEOUT: Final = cdk.Duration.minutes(5)

# What the org stack's enrollment function does through the spoke enrollment role.
ENROLLMENT_SSM_ACTIONS: Final = ("ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter")


class SpokeStack(cdk.Stack):
    """One project's spoke template. Environment-agnostic: the StackSet picks account and region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        project: str,
        synthesizer: cdk.IStackSynthesizer | None = None,
    ) -> None:
        settings = config.project(project)
        super().__init__(
            scope,
            construct_id,
            synthesizer=synthesizer or cdk.BootstraplessSynthesizer(),
            description=(
                f"dsdash spoke for project {project}: metric extraction, spoke bus, connection "
                "and enrollment access (deployed by a service-managed StackSet)"
            ),
        )
        self.config = config
        self.project = settings

        self.parameters = self._parameters()
        self.code_bucket = s3.Bucket.from_bucket_name(
            self,
            "CodeBucket",
            cdk.Fn.sub(f"${{{SpokeParameter.CODE_BUCKET_PREFIX}}}-${{AWS::Region}}"),
        )
        self.bus = self._event_bus()
        self.monitors_parameter = self._monitors_parameter()
        self.extractor = ExtractorFunction(
            self,
            code=self._code(SpokeParameter.EXTRACTOR_CODE_KEY),
            settings=ExtractorSettings(
                project_name=self._parameter(SpokeParameter.PROJECT_NAME),
                environment=self._parameter(SpokeParameter.ENVIRONMENT),
                metrics=tuple(
                    build_metric(selection.name, selection.args) for selection in settings.metrics
                ),
                spoke_bus_name=self.bus.event_bus_name,
                event_version=config.event_version,
            ),
            bus=self.bus,
            refresh_schedule=config.refresh_schedule,
            hub_account_id=f"${{{SpokeParameter.HUB_ACCOUNT_ID}}}",
            hub_region=f"${{{SpokeParameter.HUB_REGION}}}",
            subscribe_to_hub_topic=config.hub.bus_policy == "organization",
        )
        self.extractor_function = self.extractor.function
        self.forwarder_role = self._forwarder_role()
        self.connection_function = self._connection_function()
        self.enrollment_role = self._enrollment_role()
        self._outputs()

    # --- parameters ------------------------------------------------------------------------

    def _parameters(self) -> dict[str, cdk.CfnParameter]:
        config, project = self.config, self.project.name
        definitions: dict[str, dict[str, Any]] = {
            SpokeParameter.PROJECT_NAME: {
                "default": project,
                # The template's IAM and metric selection belong to this project only.
                "allowed_values": [project],
                "description": "The project this spoke serves (fixed per template)",
            },
            SpokeParameter.ENVIRONMENT: {
                "default": DEFAULT_ENVIRONMENT,
                "allowed_pattern": ENVIRONMENT_PATTERN,
                "description": "The stage, set per stack instance by the reconciler's override",
            },
            SpokeParameter.HUB_ACCOUNT_ID: {
                "default": config.hub.account_id,
                "allowed_pattern": ACCOUNT_ID_PATTERN,
                "description": "The hub account, admitted on the spoke bus",
            },
            SpokeParameter.HUB_REGION: {
                "default": config.hub.region,
                "allowed_pattern": REGION_PATTERN,
                "description": "The hub's region, where its dsdash-hub bus is",
            },
            SpokeParameter.HUB_NAME: {
                "default": config.hub.name,
                "allowed_pattern": HUB_NAME_PATTERN,
                "description": "The hub's name (SSM parameter /monitors/<HubName>)",
            },
            SpokeParameter.CODE_BUCKET_PREFIX: {
                "allowed_pattern": BUCKET_PREFIX_PATTERN,
                "description": "Artifact bucket name without its '-<region>' suffix",
            },
            SpokeParameter.EXTRACTOR_CODE_KEY: {
                "allowed_pattern": S3_KEY_PATTERN,
                "description": "S3 key of the extraction function's zip in the artifact bucket",
            },
            SpokeParameter.CONNECTION_CODE_KEY: {
                "allowed_pattern": S3_KEY_PATTERN,
                "description": "S3 key of the connection function's zip in the artifact bucket",
            },
        }
        return {
            name: cdk.CfnParameter(self, name, type="String", **properties)
            for name, properties in definitions.items()
        }

    def _parameter(self, name: str) -> str:
        return self.parameters[name].value_as_string

    # --- event bus -------------------------------------------------------------------------

    def _event_bus(self) -> events.EventBus:
        bus = events.EventBus(self, "SpokeBus", event_bus_name=contracts.SPOKE_BUS_NAME)
        # The statement is exactly the one the connection function's EBPut writes for this hub
        # (enrollment.connection.runtime.bus_policy.account_statement: same Sid, principal, action and
        # resource), so EBPut finds it in place and changes nothing, and the hub's refresh
        # fan-out can deliver as soon as the hub's own rule exists. L1 on purpose: the L2
        # `add_to_resource_policy` would prefix the Sid with "cdk-".
        statement_id = cdk.Fn.sub(
            f"{contracts.ACCOUNT_STATEMENT_ID_PREFIX}${{{SpokeParameter.HUB_ACCOUNT_ID}}}"
        )
        events.CfnEventBusPolicy(
            self,
            "SpokeBusHubPolicy",
            event_bus_name=bus.event_bus_name,
            statement_id=statement_id,
            statement={
                "Sid": statement_id,
                "Effect": "Allow",
                "Principal": {
                    "AWS": cdk.Fn.sub(
                        f"arn:${{AWS::Partition}}:iam::${{{SpokeParameter.HUB_ACCOUNT_ID}}}:root"
                    )
                },
                "Action": "events:PutEvents",
                "Resource": bus.event_bus_arn,
            },
        )
        return bus

    def _monitors_parameter(self) -> ssm.StringParameter:
        # `/monitors/<HubName>` = hub account id, exactly what enrollment writes (it reads first
        # and leaves an equal value alone), so the connection function finds its hub as soon as
        # the instance exists, and deleting the stack instance removes the parameter with it.
        # The name's leading "/" makes it a path; `simple_name=False` tells the CDK so, since a
        # token hides it (otherwise the ARN of the parameter gets an extra "/").
        return ssm.StringParameter(
            self,
            "MonitorsHubParameter",
            parameter_name=cdk.Fn.sub(
                contracts.monitor_parameter_name(f"${{{SpokeParameter.HUB_NAME}}}")
            ),
            string_value=self._parameter(SpokeParameter.HUB_ACCOUNT_ID),
            simple_name=False,
            description="The hub this spoke sends its metrics to (dsdash enrollment contract)",
        )

    # --- connection ------------------------------------------------------------------------

    def _forwarder_role(self) -> iam.Role:
        """The role the spoke's forward rules carry to put metric events on the hub bus."""
        role = iam.Role(
            self,
            "MetricForwarderRole",
            role_name=cdk.Fn.sub(contracts.spoke_metric_forwarder_role_name("${AWS::Region}")),
            description="EventBridge forwards metric events from the spoke bus to the hub bus",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        hub_bus = cdk.Fn.sub(
            contracts.hub_bus_arn(
                "${AWS::Partition}",
                f"${{{SpokeParameter.HUB_REGION}}}",
                f"${{{SpokeParameter.HUB_ACCOUNT_ID}}}",
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[hub_bus]))
        return role

    def _connection_function(self) -> lambda_.Function:
        return ConnectionFunction(
            self,
            function_name=contracts.SPOKE_CONNECTION_FUNCTION_NAME,
            code=self._code(SpokeParameter.CONNECTION_CODE_KEY),
            timeout=CONNECTION_TIMEOUT,
            settings=ConnectionSettings(
                unit="spoke",
                bus_name=self.bus.event_bus_name,
                forwarder_role_arn=self.forwarder_role.role_arn,
                hub_region=self._parameter(SpokeParameter.HUB_REGION),
            ),
            bus=self.bus,
            bus_name=contracts.SPOKE_BUS_NAME,
            rule_prefix=contracts.FORWARD_METRICS_RULE_PREFIX,
            parameter_path=contracts.MONITORS_PREFIX,
            forwarder_role=self.forwarder_role,
            parameters_reason=(
                "The connection function reads every hub this spoke reports to from "
                f"{contracts.MONITORS_PREFIX}<HubName>; hubs other than this template's are "
                "written at enrollment time, so only the path prefix is known when the StackSet "
                "is defined."
            ),
            rules_reason=(
                "One forward rule per hub account is created at enrollment time, named "
                f"'{contracts.FORWARD_METRICS_RULE_PREFIX}<hub account>'; the wildcard is limited "
                f"to rules with that prefix on the {contracts.SPOKE_BUS_NAME} bus."
            ),
        ).function

    # --- enrollment access -------------------------------------------------------------------

    def _enrollment_role(self) -> iam.Role:
        role = enrollment_role(
            self,
            "EnrollmentRole",
            role_name=cdk.Fn.sub(contracts.spoke_enrollment_role_name("${AWS::Region}")),
            description=cdk.Fn.sub(
                "Assumed only by the dsdash enrollment function of the org stack, "
                f"to connect this spoke to hub ${{{SpokeParameter.HUB_NAME}}}"
            ),
            enrollment_account_id=self.config.organization.administrator_account_id,
        )
        monitors = contracts.MONITORS_PREFIX.strip("/")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(ENROLLMENT_SSM_ACTIONS),
                resources=[parameter_arn(self, f"{monitors}/*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[self.connection_function.function_arn],
            )
        )
        nag.acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{nag_arn(self, 'ssm', 'parameter', monitors + '/*')}]",
            f"Enrollment writes {contracts.MONITORS_PREFIX}<HubName> (and deletes it when the "
            "spoke is offboarded, also under a previous hub name); only that path prefix is "
            "allowed, and only the org stack's enrollment function assumes this role.",
        )
        return role

    # --- shared helpers ----------------------------------------------------------------------

    def _code(self, key_parameter: str) -> lambda_.Code:
        """A zip in the regional artifact bucket, at the key the StackSet passes."""
        return lambda_.Code.from_bucket(self.code_bucket, self._parameter(key_parameter))

    # --- outputs -----------------------------------------------------------------------------

    def _outputs(self) -> None:
        """What the enrollment function and operators read from an instance stack."""
        values = {
            "ExtractorFunctionName": self.extractor_function.function_name,
            "ConnectionFunctionName": self.connection_function.function_name,
            "SpokeBusArn": self.bus.event_bus_arn,
            "EnrollmentRoleArn": self.enrollment_role.role_arn,
        }
        for output_id, value in values.items():
            cdk.CfnOutput(self, output_id, value=value)


# --- synthesis for a StackSet --------------------------------------------------------------


@dataclass(frozen=True)
class SpokeTemplate:
    """One project's synthesized spoke template, as CloudFormation receives it."""

    project: str
    template: dict[str, Any]
    # Minified JSON: what TemplateBody carries and what the size limit applies to.
    body: str
    assembly_directory: Path
    validation_report: dict[str, Any]

    @property
    def body_bytes(self) -> int:
        return len(self.body.encode("utf-8"))

    @property
    def fits_template_body(self) -> bool:
        return self.body_bytes <= TEMPLATE_BODY_MAX_BYTES


def spoke_stack_id(project: str) -> str:
    return f"DsdashSpoke-{project}"


def synthesize_spoke_template(
    config: DsdashConfig,
    project: str,
    *,
    outdir: Path,
    builtin_validation: bool | None = None,
) -> SpokeTemplate:
    """Synthesize one project's spoke template in an app of its own, with cdk-nag.

    A separate app, because the template is not a stack of the dsdash app: nothing deploys it
    with `cdk deploy`; the org stack hands it to a StackSet. Path metadata and the CDK analytics
    resource are left out (overriding what the CDK CLI passes), so the template holds nothing
    but the spoke's resources. An unacknowledged cdk-nag error fails the synth
    (`ValidationFailed`); `builtin_validation` is the CDK's own CloudFormation validation
    (None: the CDK default, which `CDK_VALIDATION=false` turns off).
    """
    app = cdk.App(
        outdir=str(outdir),
        analytics_reporting=False,
        builtin_cloud_formation_validation=builtin_validation,
        post_cli_context={"aws:cdk:enable-path-metadata": False},
    )
    nag.add_aws_solutions_checks(app)
    stack = SpokeStack(app, spoke_stack_id(project), config=config, project=project)
    assembly = app.synth()
    template: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    return SpokeTemplate(
        project=project,
        template=template,
        body=json.dumps(template, separators=(",", ":"), sort_keys=True),
        assembly_directory=Path(assembly.directory),
        validation_report=nag.read_validation_report(Path(assembly.directory)),
    )
