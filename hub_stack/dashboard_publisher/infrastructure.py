"""The dashboard publisher of one hub (docs/architecture.md §7, "Dashboard"):
- the dashboard bucket (private: all public access blocked, SSE-S3, TLS only, owner-enforced),
  named by the contract (`contracts.dashboard_page`) so `dsdash dashboard --open/--share` finds
  it without a lookup; its one object is the page;
- the publisher function (`runtime/publisher.py`), run after each refresh by the one-time
  EventBridge Scheduler schedule the refresh makes (the hub stack gives the refresh function the
  publisher's ARN and the schedule role in its settings, and `grant_publish_after_refresh` lets
  it create only `dsdash-publish-*` schedules and pass only the schedule role, which may only
  invoke the publisher), and hourly by an EventBridge rule, the backstop;
- its least-privilege role: Query on the hub table's registry, latest-value and quarantine
  partitions; Athena on the hub's workgroup; Glue reads of the history table; S3 reads of the
  history bucket, the Athena results bucket (Athena writes results with the caller's rights); and
  the page object alone in the dashboard bucket.
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_support import nag
from cdk_support.functions import python_function
from cdk_support.lambda_asset import LambdaAssetSpec, lambda_code
from config.model import DsdashConfig
from contracts import dashboard_page, history_table
from hub_stack import table_design
from hub_stack.dashboard_publisher.runtime.publisher import (
    PUBLISH_BACKSTOP_MINUTES,
    PublisherSettings,
)
from hub_stack.refresh.runtime import refresh
from runtime_common.settings import environment_of

# The asset holds its handler's import closure (cdk_support.lambda_asset): the page included.
PUBLISHER_ASSET: Final = LambdaAssetSpec(
    name="hub-dashboard-publisher",
    handler_module="hub_stack.dashboard_publisher.runtime.publisher",
)
PUBLISHER_HANDLER: Final = "hub_stack.dashboard_publisher.runtime.publisher.handler"
# One render reads the registry, every project's latest items, one or two Athena queries (with
# polling) and uploads a page of up to a few MB: a minute of headroom over the Athena poll cap.
PUBLISHER_TIMEOUT: Final = cdk.Duration.minutes(6)
PUBLISHER_MEMORY_MB: Final = 1024
# Days of history the hosted page embeds (the CLI's default window).
HOSTED_HISTORY_DAYS: Final = 30
# What the hub store's reads for the page touch: registry, latest values, quarantine counts.
READ_PARTITIONS: Final = (
    table_design.SPOKE_REGISTRY_PARTITION,
    "LATEST#*",
    "QUARANTINE#*",
)

_NO_ACCESS_LOGS_REASON: Final = (
    "S3 server access logs would need another bucket per hub; the dashboard bucket is private, "
    "read only through the operator's credentials and the presigned links they make, which "
    "CloudTrail data events can record."
)


class DashboardPublisher(Construct):
    """The dashboard bucket and the function that keeps the page in it current."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        table: dynamodb.ITable,
        history_bucket: s3.IBucket,
        results_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=dashboard_page.dashboard_bucket_name(stack.account, stack.region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # The page is regenerated from the hub's data at any time: nothing to keep.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        nag.acknowledge(self.bucket, "AwsSolutions-S1", _NO_ACCESS_LOGS_REASON)
        self.function = python_function(
            self,
            "Function",
            function_name=dashboard_page.DASHBOARD_PUBLISHER_FUNCTION_NAME,
            handler=PUBLISHER_HANDLER,
            code=lambda_code(PUBLISHER_ASSET),
            timeout=PUBLISHER_TIMEOUT,
            memory_size=PUBLISHER_MEMORY_MB,
            # One render at a time: two would read and write the same page.
            reserved_concurrent_executions=1,
            environment=environment_of(
                PublisherSettings(
                    table_name=table.table_name,
                    dashboard_bucket=self.bucket.bucket_name,
                    refresh_schedule=config.refresh_schedule,
                    projects=tuple(config.projects),
                    history_days=HOSTED_HISTORY_DAYS,
                )
            ),
        )
        self._grant(table)
        # The grants name the buckets by the contract; the role is used only once they exist.
        self.function.node.add_dependency(history_bucket, results_bucket, self.bucket)
        events.Rule(
            self,
            "Schedule",
            description="Renders the dashboard page at least hourly (refreshes schedule their own)",
            schedule=events.Schedule.rate(cdk.Duration.minutes(PUBLISH_BACKSTOP_MINUTES)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        # What EventBridge Scheduler runs a refresh's one-time schedule as: invoking the
        # publisher, nothing else, for schedules of this account only.
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            role_name=dashboard_page.DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME,
            description="EventBridge Scheduler invokes the dashboard publisher after a refresh",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )
        self.schedule_role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
            )
        )

    def grant_publish_after_refresh(self, refresh_function: lambda_.Function) -> None:
        """Let `refresh_function` schedule the page render after each refresh it emits
        (`hub_stack.refresh.runtime.refresh.schedule_page_publish`): CreateSchedule on the
        refresh schedules' names only, and PassRole of the schedule role to EventBridge
        Scheduler only."""
        stack = cdk.Stack.of(self)
        schedules = (
            f"arn:{stack.partition}:scheduler:{stack.region}:{stack.account}:schedule/"
            f"{refresh.PUBLISH_SCHEDULE_GROUP}/{refresh.PUBLISH_SCHEDULE_PREFIX}*"
        )
        refresh_function.add_to_role_policy(
            iam.PolicyStatement(actions=["scheduler:CreateSchedule"], resources=[schedules])
        )
        refresh_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.schedule_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        policy = (
            refresh_function.role.node.find_child("DefaultPolicy")
            if refresh_function.role
            else None
        )
        # cdk-nag names the resource with pseudo parameters where the stack has tokens.
        finding = schedules.replace(stack.partition, "<AWS::Partition>")
        for token, name in ((stack.region, "<AWS::Region>"), (stack.account, "<AWS::AccountId>")):
            if cdk.Token.is_unresolved(token):
                finding = finding.replace(token, name)
        nag.acknowledge(
            policy or refresh_function,
            f"AwsSolutions-IAM5[Resource::{finding}]",
            "Each refresh makes one one-time schedule named after its RefreshId (a UUID chosen at "
            "run time), so CreateSchedule is granted on the refresh schedules' name prefix.",
        )

    def _grant(self, table: dynamodb.ITable) -> None:
        stack = cdk.Stack.of(self)
        add = self.function.add_to_role_policy
        add(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(READ_PARTITIONS)}
                },
            )
        )
        add(
            iam.PolicyStatement(
                actions=[
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StartQueryExecution",
                ],
                resources=[
                    stack.format_arn(
                        service="athena",
                        resource="workgroup",
                        resource_name=history_table.ATHENA_WORKGROUP_NAME,
                    )
                ],
            )
        )
        database = history_table.GLUE_DATABASE_NAME
        add(
            iam.PolicyStatement(
                actions=["glue:GetDatabase", "glue:GetTable"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=database),
                    stack.format_arn(
                        service="glue",
                        resource="table",
                        resource_name=f"{database}/{history_table.GLUE_TABLE_NAME}",
                    ),
                ],
            )
        )
        # The buckets' names are the contract's, so the ARNs are written out: cdk-nag then names
        # them plainly in the findings acknowledged below.
        history = history_table.history_bucket_name(stack.account, stack.region)
        results = history_table.athena_results_bucket_name(stack.account, stack.region)
        page_bucket = dashboard_page.dashboard_bucket_name(stack.account, stack.region)

        def arn(bucket: str, key: str | None = None) -> str:
            return f"arn:{stack.partition}:s3:::{bucket}" + (f"/{key}" if key else "")

        add(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket"],
                resources=[arn(history), arn(results)],
            )
        )
        history_objects = arn(history, f"{history_table.HISTORY_PREFIX}*")
        add(iam.PolicyStatement(actions=["s3:GetObject"], resources=[history_objects]))
        add(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=[arn(results, "*")],
            )
        )
        # ListBucket on the page's key alone, so a missing page answers 404, not 403.
        add(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[arn(page_bucket)],
                conditions={"StringEquals": {"s3:prefix": [dashboard_page.DASHBOARD_OBJECT_KEY]}},
            )
        )
        add(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[arn(page_bucket, dashboard_page.DASHBOARD_OBJECT_KEY)],
            )
        )
        policy = self.function.role.node.find_child("DefaultPolicy") if self.function.role else None
        wildcards = {
            history_objects.replace(stack.partition, "<AWS::Partition>"): (
                "Reads of the history bucket's Parquet objects: one per Firehose delivery, named "
                "by Firehose under the history prefix, so they are granted by prefix."
            ),
            arn(results, "*").replace(stack.partition, "<AWS::Partition>"): (
                "Athena writes query results with the caller's rights under names it chooses "
                "(the query id), in the hub's own results bucket, which holds nothing else."
            ),
        }
        for resource, reason in wildcards.items():
            nag.acknowledge(
                policy or self.function, f"AwsSolutions-IAM5[Resource::{resource}]", reason
            )
