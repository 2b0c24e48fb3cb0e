"""The hub account's stack: bus, ingest path, table, refresh, connection and enrollment access.

It composes the hub's function units (`hub_stack.ingest`, `hub_stack.refresh`,
`hub_stack.dashboard_publisher`; the alerting composes `hub_stack.platform_health`) and
`enrollment.connection`, and grants where they meet (docs/architecture.md §3, "Units").
Built from the config model only (docs/architecture.md §2 flows 6-8, §4, §5):
- the dedicated `dsdash-hub` bus. In organization mode its policy is ONE statement admitting the
  organization (`aws:PrincipalOrgID`), so its size does not grow with the number of spokes. In
  per-account mode the stack writes no statement: the connection function adds one per spoke;
- metric events (v1 and v2 share source and detail-type) -> SQS queue (with a dead-letter queue)
  -> the ingest Lambda in batches with partial-batch failure reporting; with
  `hub.accept_sample_spokes`, also from the default bus (`hub_stack.sample_spokes`);
- the DynamoDB table laid out by `hub_stack.table_design` (latest values, registry, quarantine,
  alert state) and the history storage (`hub_stack.history_storage`: Parquet bucket, Glue table,
  Athena workgroup, the Firehose stream ingest writes history to);
- the on-demand refresh Lambda, the refresh topic spokes of the organization subscribe to
  (organization mode; `refresh_topic`), the hub's connection Lambda, the role EventBridge uses to
  forward refresh events to spoke buses (per-account mode), and the narrow role the org stack's
  enrollment function assumes (in the management account or the StackSets delegated
  administrator). The periodic refresh is each spoke's own staggered schedule
  (spoke_stackset/extractor/refresh_triggers.py), so the hub holds nothing per spoke for it;
- alerting (`hub_stack.alerting`): the encrypted alert topic, the ingest function's alert rules,
  the platform-health function and the CloudWatch alarms;
- the dashboard publisher (`hub_stack.dashboard_publisher`): the private dashboard bucket and the
  function that keeps the page in it current.

This module imports aws_cdk; no Lambda asset ever contains it (each function's asset is its
handler's import closure, named in its unit's `infrastructure.py`).
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

import contracts
from cdk_support import nag
from cdk_support.functions import (
    enrollment_role,
    nag_arn,
    parameter_arn,
)
from cdk_support.lambda_asset import CONNECTION_FUNCTION_ASSET, lambda_code
from config.model import DsdashConfig
from contracts import history_table
from enrollment.connection.infrastructure import ConnectionFunction
from enrollment.connection.runtime.connection import ConnectionSettings
from hub_stack import table_design
from hub_stack.alerting import HubAlerting
from hub_stack.dashboard_publisher.infrastructure import DashboardPublisher
from hub_stack.history_storage import HistoryStorage
from hub_stack.ingest.infrastructure import IngestFunction, ingest_visibility_timeout
from hub_stack.ingest.runtime.ingest_settings import IngestAlertSettings, IngestSettings
from hub_stack.ingest.runtime.sample_compatibility import ProjectDirectory
from hub_stack.refresh.infrastructure import RefreshFunction
from hub_stack.refresh.runtime.refresh import RefreshSettings
from hub_stack.refresh_topic import RefreshTopic
from hub_stack.sample_spokes import sample_spoke_metric_rule

# The connection function names the hub's refresh fan-out rules with this prefix; the IAM policy
# below allows rule management for these names only.
REFRESH_FANOUT_RULE_PREFIX: Final = contracts.REFRESH_FANOUT_RULE_PREFIX
ORGANIZATION_STATEMENT_ID: Final = contracts.ORGANIZATION_STATEMENT_ID

# A message that failed this many receives goes to the dead-letter queue for inspection.
INGEST_MAX_RECEIVE_COUNT: Final = 5
DEAD_LETTER_RETENTION: Final = cdk.Duration.days(14)

# The enrollment function only reads, lists (its sweep) and updates spoke registry items
# (PK "SPOKE").
ENROLLMENT_TABLE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")
ENROLLMENT_SSM_ACTIONS: Final = (
    "ssm:DeleteParameter",
    # A re-assigned spoke's other per-account parameters, by name, 10 per call.
    "ssm:DeleteParameters",
    "ssm:GetParameter",
    "ssm:GetParametersByPath",
    "ssm:PutParameter",
)


class HubStack(cdk.Stack):
    """The hub stack, deployed into the hub account and region named by the config."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        synthesizer: cdk.IStackSynthesizer | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=config.hub.account_id, region=config.hub.region),
            synthesizer=synthesizer,
            description=description
            or f"dsdash hub {config.hub.name}: metric bus, ingest, table, refresh, connection",
        )
        self.config = config

        self.bus = self._event_bus()
        self.table = self._table()
        self.history = HistoryStorage(self, "History", retention_days=config.retention_days)
        self.dead_letter_queue, self.ingest_queue = self._ingest_queues()
        self.metric_rule = self._metric_rule()
        self.sample_spoke_rule = (
            sample_spoke_metric_rule(
                self, ingest_queue=self.ingest_queue, dead_letter_queue=self.dead_letter_queue
            )
            if config.hub.accept_sample_spokes
            else None
        )
        self.ingest_function = IngestFunction(
            self,
            settings=IngestSettings(
                table_name=self.table.table_name,
                retention_days=config.retention_days,
                # The alerting writes these (`HubAlerting`): its topic admits this function.
                alerts=IngestAlertSettings(),
                project_directory=self._project_directory(),
            ),
            queue=self.ingest_queue,
            table=self.table,
            history=self.history,
        ).function
        # Organization mode: spokes subscribe to the hub refresh topic. Per-account mode serves
        # accounts outside the organization, which the topic policy does not admit: the hub's
        # fan-out rules reach them (bounded by the bus policy to about 50 spokes).
        self.refresh_topic = (
            RefreshTopic(self, "RefreshTopic", organization_id=config.organization.id)
            if config.hub.bus_policy == "organization"
            else None
        )
        self.dashboard_publisher = DashboardPublisher(
            self,
            "DashboardPublisher",
            config=config,
            table=self.table,
            history_bucket=self.history.bucket,
            results_bucket=self.history.results_bucket,
        )
        self.refresh_function = RefreshFunction(
            self,
            settings=RefreshSettings(
                bus_name=self.bus.event_bus_name,
                topic_arn=(
                    self.refresh_topic.topic_arn if self.refresh_topic is not None else None
                ),
                # The refresh schedules the page's render after it (the publisher's grant below).
                publisher_arn=self.dashboard_publisher.function.function_arn,
                publish_role_arn=self.dashboard_publisher.schedule_role.role_arn,
            ),
            bus=self.bus,
            topic=self.refresh_topic,
        ).function
        self.dashboard_publisher.grant_publish_after_refresh(self.refresh_function)
        self.refresh_forwarder_role = self._refresh_forwarder_role()
        self.connection_function = self._connection_function()
        self.enrollment_role = self._enrollment_role()
        self.alerting = HubAlerting(
            self,
            "Alerting",
            config=config,
            table=self.table,
            ingest_function=self.ingest_function,
            dead_letter_queue=self.dead_letter_queue,
            # The alert rules share Lambda's 4 KB of environment with the project aliases.
            reserved_ingest_environment_bytes=len(
                self._project_directory().environment_value().encode()
            ),
        )
        self._outputs()

    # --- event bus -----------------------------------------------------------------------

    def _event_bus(self) -> events.EventBus:
        bus = events.EventBus(self, "HubBus", event_bus_name=contracts.HUB_BUS_NAME)
        if self.config.hub.bus_policy == "organization":
            # L1 on purpose: the L2 `add_to_resource_policy` prefixes the statement id with
            # "cdk-", and the connection function addresses this statement by its exact Sid.
            events.CfnEventBusPolicy(
                self,
                "HubBusOrganizationPolicy",
                event_bus_name=bus.event_bus_name,
                statement_id=ORGANIZATION_STATEMENT_ID,
                statement={
                    "Sid": ORGANIZATION_STATEMENT_ID,
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": bus.event_bus_arn,
                    "Condition": {
                        "StringEquals": {"aws:PrincipalOrgID": self.config.organization.id}
                    },
                },
            )
        return bus

    # --- table ---------------------------------------------------------------------------

    def _table(self) -> dynamodb.Table:
        string = dynamodb.AttributeType.STRING
        table = dynamodb.Table(
            self,
            "HubTable",
            # A fixed name: the org stack's enrollment function and the CLI address the
            # table across accounts, where CloudFormation exports cannot reach.
            table_name=contracts.HUB_TABLE_NAME,
            partition_key=dynamodb.Attribute(name=table_design.PARTITION_KEY, type=string),
            sort_key=dynamodb.Attribute(name=table_design.SORT_KEY, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=table_design.TTL_ATTRIBUTE,
        )
        return table

    # --- ingest --------------------------------------------------------------------------

    def _ingest_queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        # SSE-SQS rather than the AWS-managed KMS key aws/sqs: EventBridge cannot deliver to a
        # queue encrypted with aws/sqs, whose key policy it cannot be granted
        # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html).
        dead_letter_queue = sqs.Queue(
            self,
            "IngestDeadLetterQueue",
            retention_period=DEAD_LETTER_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        ingest_queue = sqs.Queue(
            self,
            "IngestQueue",
            visibility_timeout=ingest_visibility_timeout(),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letter_queue, max_receive_count=INGEST_MAX_RECEIVE_COUNT
            ),
        )
        return dead_letter_queue, ingest_queue

    def _metric_rule(self) -> events.Rule:
        # The SqsQueue target adds a queue policy statement for events.amazonaws.com limited to
        # this rule (aws:SourceArn). Events EventBridge cannot deliver go to the same DLQ, so
        # nothing is silently dropped before the ingest function even sees it.
        return events.Rule(
            self,
            "MetricEventsToIngestQueue",
            event_bus=self.bus,
            description="Metric events (v1 and v2) from spokes, to the ingest queue",
            event_pattern=events.EventPattern(
                source=[contracts.METRIC_EVENT_SOURCE],
                detail_type=[contracts.METRIC_EVENT_DETAIL_TYPE],
            ),
            targets=[
                targets.SqsQueue(
                    self.ingest_queue,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=8,
                )
            ],
        )

    def _project_directory(self) -> ProjectDirectory:
        return ProjectDirectory.from_projects(
            {name: p.aliases for name, p in self.config.projects.items()}
        )

    # --- connection ----------------------------------------------------------------------

    def _refresh_forwarder_role(self) -> iam.Role:
        """The role hub fan-out rules carry to put refresh events on spoke buses."""
        role = iam.Role(
            self,
            "RefreshForwarderRole",
            role_name=contracts.HUB_REFRESH_FORWARDER_ROLE_NAME,
            description="EventBridge forwards refresh events from the hub bus to spoke buses",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        # One ARN per configured spoke region; any account, since spokes enroll at run time.
        spoke_buses = {
            region: cdk.Arn.format(
                cdk.ArnComponents(
                    service="events",
                    region=region,
                    account="*",
                    resource="event-bus",
                    resource_name=contracts.SPOKE_BUS_NAME,
                ),
                self,
            )
            for region in self.config.organization.regions
        }
        role.add_to_policy(
            iam.PolicyStatement(actions=["events:PutEvents"], resources=list(spoke_buses.values()))
        )
        for region in spoke_buses:
            nag.acknowledge(
                role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:{region}:*:event-bus/"
                f"{contracts.SPOKE_BUS_NAME}]",
                "Spokes are member accounts enrolled at run time, so their account ids cannot be "
                "listed at deploy time; the grant is limited to buses named "
                f"'{contracts.SPOKE_BUS_NAME}' in the configured regions, and each spoke bus "
                "policy admits only the hub account.",
            )
        return role

    def _connection_function(self) -> lambda_.Function:
        config = self.config
        return ConnectionFunction(
            self,
            function_name=contracts.HUB_CONNECTION_FUNCTION_NAME,
            code=lambda_code(CONNECTION_FUNCTION_ASSET),
            timeout=cdk.Duration.minutes(5),
            # The actions read-modify-write the bus policy and the fan-out rules: two enrollments
            # at once would overwrite each other's edits (last writer wins), so run one at a time.
            reserved_concurrent_executions=1,
            settings=ConnectionSettings(
                unit="hub",
                bus_name=self.bus.event_bus_name,
                forwarder_role_arn=self.refresh_forwarder_role.role_arn,
                bus_policy_mode=config.hub.bus_policy,
                organization_id=config.organization.id,
                spoke_regions=tuple(config.organization.regions),
                refresh_fanout="topic" if self.refresh_topic is not None else "bus-rules",
                rules_per_bus_quota=config.hub.rules_per_bus_quota,
            ),
            bus=self.bus,
            bus_name=contracts.HUB_BUS_NAME,
            rule_prefix=REFRESH_FANOUT_RULE_PREFIX,
            parameter_path=contracts.MONITORED_PROJECTS_PREFIX,
            forwarder_role=self.refresh_forwarder_role,
            parameters_reason=(
                "The connection function reads every enrolled spoke's parameter under "
                f"{contracts.MONITORED_PROJECTS_PREFIX}<project>/<env>/<account>; the parameters "
                "are created at enrollment time, so only their path prefix is known at deploy "
                "time."
            ),
            rules_reason=(
                "Fan-out rules are created per 5 spokes as spokes enroll, so their names are "
                f"only known by prefix; the wildcard is limited to '{REFRESH_FANOUT_RULE_PREFIX}*' "
                f"rules on the {contracts.HUB_BUS_NAME} bus."
            ),
        ).function

    # --- enrollment access ----------------------------------------------------------------

    def _enrollment_role(self) -> iam.Role:
        role = enrollment_role(
            self,
            "EnrollmentRole",
            role_name=contracts.HUB_ENROLLMENT_ROLE_NAME,
            description="Assumed only by the dsdash enrollment function of the org stack",
            enrollment_account_id=self.config.organization.administrator_account_id,
        )
        monitored_projects = contracts.MONITORED_PROJECTS_PREFIX.strip("/")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(ENROLLMENT_SSM_ACTIONS),
                resources=[
                    parameter_arn(self, monitored_projects),
                    parameter_arn(self, f"{monitored_projects}/*"),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[self.connection_function.function_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(ENROLLMENT_TABLE_ACTIONS),
                resources=[self.table.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {
                        "dynamodb:LeadingKeys": [table_design.SPOKE_REGISTRY_PARTITION]
                    }
                },
            )
        )
        nag.acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{nag_arn(self, 'ssm', 'parameter', monitored_projects + '/*')}]",
            "Enrollment writes and deletes one parameter per spoke account, "
            f"{contracts.MONITORED_PROJECTS_PREFIX}<project>/<env>/<account>, for accounts that "
            "join the organization after deployment; only that path prefix is allowed.",
        )
        return role

    # --- outputs --------------------------------------------------------------------------

    def _outputs(self) -> None:
        """Outputs the CLI and the enrollment function read; no exports, so no coupling."""
        values = {
            "TableName": self.table.table_name,
            "HubBusArn": self.bus.event_bus_arn,
            "HubBusName": self.bus.event_bus_name,
            "IngestQueueUrl": self.ingest_queue.queue_url,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
            "RefreshFunctionName": self.refresh_function.function_name,
            **(
                {"RefreshTopicArn": self.refresh_topic.topic_arn}
                if self.refresh_topic is not None
                else {}
            ),
            "ConnectionFunctionName": self.connection_function.function_name,
            "EnrollmentRoleArn": self.enrollment_role.role_arn,
            "AlertTopicArn": self.alerting.topic.topic_arn,
            "HistoryBucketName": self.history.bucket.bucket_name,
            "HistoryDeliveryStreamName": history_table.HISTORY_DELIVERY_STREAM_NAME,
            "AthenaWorkGroupName": history_table.ATHENA_WORKGROUP_NAME,
        }
        for output_id, value in values.items():
            cdk.CfnOutput(self, output_id, value=value)
