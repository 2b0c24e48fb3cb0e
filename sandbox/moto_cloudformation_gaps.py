"""What moto 5.2.5's CloudFormation lacks to deploy dsdash's synthesized templates, filled in.

The sandbox deploys the real CDK templates through moto's `CreateStack` (docs/architecture.md §6). Where moto
falls short, this module fills the gap at moto's own seams, never by rewriting the template:
every resource is created from the template's own properties, as CloudFormation resolved them
(Ref, GetAtt, Join, Sub...). `cloudformation_gap_fills()` installs the patches below for the
duration of a block (`install()`/`uninstall()` for a long-running sandbox); each names its gap.

moto gaps filled here:
- moto gap: `Ref` to an `AWS::Events::EventBus` returns moto's EventBus object instead of the
  bus name, so a rule on a custom bus crashes with "'EventBus' object has no attribute 'split'".
  The patch gives EventBus the `physical_resource_id` (its name) moto reads for `Ref`.
- moto gap: resource types moto has no model for (`AWS::Events::EventBusPolicy`,
  `AWS::SQS::QueuePolicy`, `AWS::S3::BucketPolicy`, `AWS::CloudFormation::StackSet`,
  `AWS::SNS::TopicPolicy`, `AWS::SNS::Subscription`, `AWS::Scheduler::Schedule`,
  `AWS::Lambda::EventInvokeConfig`, the CDK's `Custom::CDKBucketDeployment` and
  `Custom::Trigger`, ...) are
  skipped with a warning while the stack still reports CREATE_COMPLETE. Here a registry of gap
  handlers keyed by resource type (`GAP_HANDLERS`, extend with `@gap_handler`) creates each such
  resource through moto's backend from its resolved properties, and deletes it with the stack.
  A type that neither moto nor the registry knows fails the stack, naming the type: a silently
  missing resource would make the sandbox lie.
- moto gap: `Ref` to an `AWS::Lambda::Version` returns a logical id instead of the version ARN;
  the published version's ARN is its physical id here.
- moto gap: `AWS::SSM::Parameter` without `Name` crashes (moto passes name None to
  PutParameter). CloudFormation generates a name; here the generated physical name is used.
- moto gap: deleting a stack whose `AWS::SSM::Parameter` was already deleted out of band (the
  spoke's `/monitors/<HubName>`, which offboarding deletes before the stack instance goes) fails
  with ParameterNotFound. CloudFormation treats a resource that is already gone as deleted (a
  resource handler's delete reports NotFound, and the stack deletion goes on); so does the fill.
- moto gap: `AWS::DynamoDB::Table` ignores `TimeToLiveSpecification` and
  `PointInTimeRecoverySpecification`. They are applied through moto's UpdateTimeToLive and
  UpdateContinuousBackups after the table exists (`PROPERTY_GAP_FILLS`).
- moto gap: a resource that fails to create aborts the CreateStack API call with a bare error
  (the stack stays CREATE_IN_PROGRESS, and a later DescribeStackResources tries to create the
  remaining resources lazily). Here the stack ends CREATE_FAILED (UPDATE_FAILED for updates) with
  a StackStatusReason naming the logical id, type and error, as CloudFormation reports it, and no
  further resource is created behind the caller's back.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

from moto.awslambda.exceptions import UnknownEventConfig, UnknownFunctionException
from moto.awslambda.models import LambdaVersion, lambda_backends
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudformation.models import cloudformation_backends
from moto.dynamodb.models import dynamodb_backends
from moto.events.models import EventBus, events_backends
from moto.s3.models import s3_backends
from moto.scheduler.exceptions import ScheduleNotFound
from moto.scheduler.models import scheduler_backends
from moto.sns.exceptions import TopicNotFound
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.ssm.exceptions import ParameterNotFound
from moto.ssm.models import Parameter
from moto.utilities.arns import parse_arn

from sandbox.moto_delegated_admin import check_create_call_as

logger = logging.getLogger(__name__)

_ORIGINALS: dict[str, Any] = {}


class UnsupportedResourceTypeError(RuntimeError):
    """Neither moto nor the sandbox's gap handlers can create this resource type."""


class ResourceCreationError(RuntimeError):
    """One resource of a stack failed to create; names it, as CloudFormation's events do."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


# --- gap handlers: resource types moto's CloudFormation has no model for --------------------------


class GapResource:
    """A resource moto's CloudFormation lacks, created through moto's backends.

    Duck-types the parts of moto's `CloudFormationModel` that its parser and stacks use (it does
    not subclass it: moto registers every subclass globally, and these fills must only exist
    while installed). Subclasses set `resource_type`, implement `create` and `delete`, and list
    their `GetAtt` attributes in `attributes`.
    """

    resource_type: ClassVar[str]
    # The property holding the resource's name, when the type has one (moto generates one else).
    name_property: ClassVar[str] = ""
    attributes: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self, physical_resource_id: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> None:
        self.physical_resource_id = physical_resource_id
        self.properties = dict(properties)
        self.account_id = account_id
        self.region = region

    # moto's CloudFormationModel interface ---------------------------------------------------

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.resource_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute in cls.attributes

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Mapping[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GapResource:
        return cls.create(
            resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GapResource,
        new_resource_name: str,
        cloudformation_json: Mapping[str, Any],
        account_id: str,
        region_name: str,
    ) -> GapResource:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Mapping[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls(
            resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name
        ).delete(account_id, region_name)

    def get_cfn_attribute(self, attribute: str) -> Any:
        if attribute not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return getattr(self, self.attributes[attribute])

    def is_created(self) -> bool:
        return True

    # what subclasses implement ----------------------------------------------------------------

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        raise NotImplementedError

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError


GAP_HANDLERS: dict[str, type[GapResource]] = {}
_Handler = TypeVar("_Handler", bound=type[GapResource])


def gap_handler(handler: _Handler) -> _Handler:
    """Register a handler for a resource type moto's CloudFormation lacks."""
    GAP_HANDLERS[handler.resource_type] = handler
    return handler


def _json_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


@gap_handler
class EventBusPolicy(GapResource):
    """moto gap: AWS::Events::EventBusPolicy is skipped; here it becomes a bus policy statement.

    Both forms CloudFormation documents are covered: `Statement` (merged into the bus's policy
    under `StatementId`, as CloudFormation does) and the older Principal/Action/Condition form
    (PutPermission). https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-events-eventbuspolicy.html
    """

    resource_type = "AWS::Events::EventBusPolicy"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        backend = events_backends[account_id][region]
        bus_name = properties.get("EventBusName") or "default"
        statement_id = properties["StatementId"]
        statement = properties.get("Statement")
        if statement is not None:
            bus = backend.describe_event_bus(bus_name)
            existing = json.loads(bus.policy)["Statement"] if bus.policy else []
            merged = [s for s in existing if s.get("Sid") != statement_id]
            merged.append({**statement, "Sid": statement_id})
            backend.put_permission(
                bus_name, "", "", "", {}, json.dumps({"Version": "2012-10-17", "Statement": merged})
            )
        else:
            backend.put_permission(
                bus_name,
                properties.get("Action", "events:PutEvents"),
                properties["Principal"],
                statement_id,
                properties.get("Condition"),  # type: ignore[arg-type]
                "",
            )
        # Ref returns the statement id.
        return cls(statement_id, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        bus_name = self.properties.get("EventBusName") or "default"
        bus = events_backends[account_id][region_name].event_buses.get(bus_name)
        if bus is not None:
            bus.remove_statement(self.physical_resource_id)


@gap_handler
class QueuePolicy(GapResource):
    """moto gap: AWS::SQS::QueuePolicy is skipped; here each queue gets the `Policy` attribute."""

    resource_type = "AWS::SQS::QueuePolicy"

    @staticmethod
    def _queue_names(properties: Mapping[str, Any]) -> list[str]:
        # `Queues` holds queue URLs (Ref of AWS::SQS::Queue); the name is the last path segment.
        return [str(url).rstrip("/").rsplit("/", 1)[-1] for url in properties.get("Queues", [])]

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        backend = sqs_backends[account_id][region]
        policy = _json_text(properties["PolicyDocument"])
        for queue_name in cls._queue_names(properties):
            backend.set_queue_attributes(queue_name, {"Policy": policy})
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for queue_name in self._queue_names(self.properties):
            if queue_name in backend.queues:
                backend.set_queue_attributes(queue_name, {"Policy": ""})


@gap_handler
class BucketPolicy(GapResource):
    """moto gap: AWS::S3::BucketPolicy is skipped; here it is PutBucketPolicy."""

    resource_type = "AWS::S3::BucketPolicy"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        bucket = properties["Bucket"]
        s3_backends[account_id]["aws"].put_bucket_policy(
            bucket, _json_text(properties["PolicyDocument"]).encode("utf-8")
        )
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = s3_backends[account_id]["aws"]
        if self.properties["Bucket"] in backend.buckets:
            backend.delete_bucket_policy(self.properties["Bucket"])


@gap_handler
class SnsTopicPolicy(GapResource):
    """moto gap: AWS::SNS::TopicPolicy is skipped; here each topic gets the `Policy` attribute
    (SetTopicAttributes), which `SnsSubscription` below enforces for cross-account subscribers."""

    resource_type = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        for topic_arn in properties["Topics"]:
            # The backend sets the attribute by this name (the API layer lower-cases it).
            sns_backends[account_id][region].set_topic_attribute(
                str(topic_arn), "policy", _json_text(properties["PolicyDocument"])
            )
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        for topic_arn in self.properties["Topics"]:
            if str(topic_arn) in sns_backends[account_id][region_name].topics:
                sns_backends[account_id][region_name].set_topic_attribute(
                    str(topic_arn), "policy", json.dumps({"Statement": []})
                )


def _topic_policy_admits_subscriber(topic: Any, subscriber_account: str) -> bool:
    """What AWS checks on a cross-account Subscribe, for the statements dsdash writes: an Allow
    of sns:Subscribe for the subscriber's account, or for any principal of its organization."""
    from sandbox.event_delivery import organization_id_of  # the same org lookup as the buses

    if parse_arn(topic.arn).account == subscriber_account:
        return True
    policy = json.loads(topic.policy)
    organization_id = organization_id_of(subscriber_account)
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sns:Subscribe", "sns:*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        principals = principal.get("AWS", []) if isinstance(principal, dict) else principal
        principals = [principals] if isinstance(principals, str) else principals
        conditions = statement.get("Condition", {}).get("StringEquals", {})
        if "*" in principals and conditions.get("aws:PrincipalOrgID") == organization_id:
            return organization_id is not None
        if any(subscriber_account in str(item) for item in principals):
            return True
    return False


@gap_handler
class SnsSubscription(GapResource):
    """moto gap: AWS::SNS::Subscription is skipped; here it is Subscribe in the subscriber's
    account and in the topic's region (the `Region` property), as CloudFormation does. moto
    does not check the topic policy of a cross-account Subscribe; here a subscriber the policy
    does not admit fails the resource, as AWS answers AuthorizationError. Delivery across
    accounts is `sandbox.sns_delivery`'s."""

    resource_type = "AWS::SNS::Subscription"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        topic_arn = str(properties["TopicArn"])
        topic_region = str(properties.get("Region") or parse_arn(topic_arn).region)
        backend = sns_backends[account_id][topic_region]
        try:
            topic = backend.get_topic(topic_arn)
        except TopicNotFound:
            raise ResourceCreationError(
                generated_name, cls.resource_type, f"topic {topic_arn} does not exist"
            ) from None
        if not _topic_policy_admits_subscriber(topic, account_id):
            raise ResourceCreationError(
                generated_name,
                cls.resource_type,
                f"AuthorizationError: the policy of {topic_arn} does not let account "
                f"{account_id} subscribe",
            )
        subscription = backend.subscribe(
            topic_arn, str(properties["Endpoint"]), str(properties["Protocol"])
        )
        if properties.get("FilterPolicy"):
            backend.set_subscription_attributes(
                subscription.arn, "FilterPolicy", _json_text(properties["FilterPolicy"])
            )
        return cls(subscription.arn, {**properties, "Region": topic_region}, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][str(self.properties["Region"])].unsubscribe(
            self.physical_resource_id
        )


@gap_handler
class SchedulerSchedule(GapResource):
    """moto gap: AWS::Scheduler::Schedule is skipped; here it is CreateSchedule in moto's
    EventBridge Scheduler backend (stored, never run: the sandbox triggers refreshes itself)."""

    resource_type = "AWS::Scheduler::Schedule"
    name_property = "Name"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        name = str(properties.get("Name") or generated_name)[:64]
        scheduler_backends[account_id][region].create_schedule(
            description=str(properties.get("Description", "")),
            end_date=properties.get("EndDate"),  # type: ignore[arg-type]
            flexible_time_window=dict(properties["FlexibleTimeWindow"]),
            group_name=str(properties.get("GroupName") or "default"),
            kms_key_arn=properties.get("KmsKeyArn"),  # type: ignore[arg-type]
            name=name,
            schedule_expression=str(properties["ScheduleExpression"]),
            schedule_expression_timezone=properties.get("ScheduleExpressionTimezone"),  # type: ignore[arg-type]
            start_date=properties.get("StartDate"),  # type: ignore[arg-type]
            state=str(properties.get("State") or "ENABLED"),
            target=dict(properties["Target"]),
            action_after_completion=None,
        )
        return cls(name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(ScheduleNotFound):
            scheduler_backends[account_id][region_name].delete_schedule(
                str(self.properties.get("GroupName") or "default"), self.physical_resource_id
            )


@gap_handler
class CdkBucketDeployment(GapResource):
    """moto gap: `Custom::CDKBucketDeployment` is a custom resource whose provider is a CDK-owned
    Lambda that runs the AWS CLI (from a layer); moto cannot run it, and the sandbox runs only
    dsdash's own handlers. Here the resource does what that handler does with its properties:
    unzip each source object (`SourceBucketNames`/`SourceObjectKeys`) into
    `DestinationBucketName` under `DestinationBucketKeyPrefix`. Like the CDK's default
    (RetainOnDelete), deleting the resource leaves the copied objects in place."""

    resource_type = "Custom::CDKBucketDeployment"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        backend = s3_backends[account_id]["aws"]
        destination = str(properties["DestinationBucketName"])
        prefix = str(properties.get("DestinationBucketKeyPrefix") or "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        extract = str(properties.get("Extract", "true")).lower() != "false"
        for bucket, key in zip(
            properties["SourceBucketNames"], properties["SourceObjectKeys"], strict=True
        ):
            source = backend.get_object(str(bucket), str(key))
            if source is None:
                raise ResourceCreationError(
                    generated_name, cls.resource_type, f"source s3://{bucket}/{key} not found"
                )
            if not extract:
                backend.put_object(destination, prefix + str(key).rsplit("/", 1)[-1], source.value)
                continue
            with zipfile.ZipFile(io.BytesIO(source.value)) as archive:
                for member in archive.infolist():
                    if not member.is_dir():
                        backend.put_object(
                            destination, prefix + member.filename, archive.read(member)
                        )
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        return None


@gap_handler
class CdkTrigger(GapResource):
    """moto gap: `Custom::Trigger` (aws_cdk.triggers) is a custom resource whose provider is a
    CDK-owned Node.js Lambda; moto cannot run it. What that provider does is invoke the function
    named by `HandlerArn` with `InvocationType`; here that invocation goes through moto's Lambda
    backend, so the sandbox's Lambda runtime runs the real handler (queued when `Event`)."""

    resource_type = "Custom::Trigger"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        handler_arn = str(properties["HandlerArn"])
        function_arn, _, qualifier = handler_arn.partition(":function:")[2].partition(":")
        lambda_backends[account_id][region].invoke(
            function_arn,
            qualifier or None,
            "{}",
            {"x-amz-invocation-type": str(properties.get("InvocationType", "RequestResponse"))},
            {},
        )
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        return None


@gap_handler
class EventInvokeConfig(GapResource):
    """moto gap: AWS::Lambda::EventInvokeConfig (a function's asynchronous invocation settings:
    maximum event age, retry attempts, on-success and on-failure destinations) is skipped; here it
    is PutFunctionEventInvokeConfig through moto's Lambda backend, from the resolved properties,
    so GetFunctionEventInvokeConfig returns what the template declares. moto keeps one
    configuration per function, whatever the `Qualifier` (the CDK's is `$LATEST`).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventinvokeconfig.html
    """

    resource_type = "AWS::Lambda::EventInvokeConfig"
    _INTEGER_PROPERTIES: ClassVar[tuple[str, ...]] = (
        "MaximumEventAgeInSeconds",
        "MaximumRetryAttempts",
    )

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        # The API's request body has the CloudFormation property names and shapes.
        config: dict[str, Any] = {
            name: int(properties[name]) for name in cls._INTEGER_PROPERTIES if name in properties
        }
        if "DestinationConfig" in properties:
            config["DestinationConfig"] = dict(properties["DestinationConfig"])
        lambda_backends[account_id][region].put_function_event_invoke_config(
            str(properties["FunctionName"]), config
        )
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            lambda_backends[account_id][region_name].delete_function_event_invoke_config(
                str(self.properties["FunctionName"])
            )
        except (UnknownFunctionException, UnknownEventConfig):
            return  # the function went first, or the configuration was removed by hand


def _parameter_map(parameters: Any) -> dict[str, str]:
    """StackSet parameters as {key: value}: moto stores both dicts and ParameterKey/Value lists."""
    if isinstance(parameters, Mapping):
        return {str(key): str(value) for key, value in parameters.items()}
    return {str(p["ParameterKey"]): str(p["ParameterValue"]) for p in parameters or []}


@gap_handler
class StackSet(GapResource):
    """moto gap: AWS::CloudFormation::StackSet is skipped; here it is CreateStackSet (+ instances).

    The StackSet is created in the deploying stack's account and region, with the template body
    (or the template fetched from moto's S3 for TemplateURL), parameters, tags, description and
    permission model from the template. moto's StackSet stores no AutoDeployment or
    Capabilities, so those are kept on the model (`auto_deployment`, `capabilities`) where the
    sandbox's auto-deployment emulation (`sandbox.stackset_autodeploy`) reads them.
    `StackInstancesGroup` entries become CreateStackInstances calls.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-stackset.html
    """

    resource_type = "AWS::CloudFormation::StackSet"
    name_property = "StackSetName"
    attributes = {"StackSetId": "physical_resource_id"}

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        backend = cloudformation_backends[account_id][region]
        # CallAs as CloudFormation checks it: a member account needs DELEGATED_ADMIN.
        check_create_call_as(
            account_id, properties.get("CallAs", "SELF"), properties.get("PermissionModel")
        )
        template = properties.get("TemplateBody")
        if template is None:
            template = cloudformation_models.get_stack_from_s3_url(  # type: ignore[attr-defined]
                properties["TemplateURL"], account_id=account_id, partition="aws"
            )
        stack_set = backend.create_stack_set(
            name=properties.get("StackSetName") or generated_name,
            template=_json_text(template),
            parameters=_parameter_map(properties.get("Parameters")),
            tags={tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])},
            permission_model=properties.get("PermissionModel", "SELF_MANAGED"),
            admin_role=properties.get("AdministrationRoleARN"),
            exec_role=properties.get("ExecutionRoleName"),
            description=properties.get("Description"),
        )
        # Read back by DescribeStackSet's serializer and by sandbox.stackset_autodeploy.
        setattr(stack_set, "auto_deployment", dict(properties.get("AutoDeployment") or {}))  # noqa: B010
        setattr(stack_set, "capabilities", list(properties.get("Capabilities") or []))  # noqa: B010
        for group in properties.get("StackInstancesGroup", []):
            backend.create_stack_instances(
                stack_set.name,
                accounts=list(group.get("DeploymentTargets", {}).get("Accounts", [])),
                regions=list(group["Regions"]),
                parameters=list(group.get("ParameterOverrides", [])),
                deployment_targets=dict(group.get("DeploymentTargets", {})),
            )
        return cls(stack_set.id, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = cloudformation_backends[account_id][region_name]
        stack_set = backend.stacksets.get(self.physical_resource_id)
        if stack_set is None or stack_set.status == "DELETED":
            return
        # CloudFormation deletes the StackSet's instances before the StackSet itself.
        instances = list(stack_set.instances.stack_instances)
        if instances:
            stack_set.delete_stack_instances(
                sorted({i.account_id for i in instances}),
                sorted({i.region_name for i in instances}),
            )
        backend.delete_stack_set(stack_set.name)


# --- property fills: properties of supported types that moto ignores ----------------------------

PropertyFill = Callable[[Any, Mapping[str, Any], str, str], None]
PROPERTY_GAP_FILLS: dict[str, list[PropertyFill]] = {}


def property_gap_fill(resource_type: str) -> Callable[[PropertyFill], PropertyFill]:
    def register(fill: PropertyFill) -> PropertyFill:
        PROPERTY_GAP_FILLS.setdefault(resource_type, []).append(fill)
        return fill

    return register


@property_gap_fill("AWS::DynamoDB::Table")
def _table_time_to_live(
    table: Any, properties: Mapping[str, Any], account: str, region: str
) -> None:
    # moto gap: TimeToLiveSpecification is ignored by moto's Table.create_from_cloudformation_json.
    specification = properties.get("TimeToLiveSpecification")
    if specification:
        dynamodb_backends[account][region].update_time_to_live(table.name, dict(specification))


@property_gap_fill("AWS::DynamoDB::Table")
def _table_point_in_time_recovery(
    table: Any, properties: Mapping[str, Any], account: str, region: str
) -> None:
    # moto gap: PointInTimeRecoverySpecification is ignored as well.
    specification = properties.get("PointInTimeRecoverySpecification")
    if specification:
        dynamodb_backends[account][region].update_continuous_backups(
            table.name, dict(specification)
        )


# --- the patches ------------------------------------------------------------------------------


def _resource_class_from_type(resource_type: str) -> Any:
    if resource_type in GAP_HANDLERS:
        return GAP_HANDLERS[resource_type]
    if (
        resource_type in parsing.NULL_MODELS
        or resource_type.startswith("Custom::")
        or resource_type in parsing.get_model_map()
    ):
        return _ORIGINALS["resource_class_from_type"](resource_type)
    raise UnsupportedResourceTypeError(
        f"moto has no CloudFormation model for {resource_type} and the sandbox has no gap "
        "handler for it (add one in sandbox/moto_cloudformation_gaps.py)"
    )


def _resource_name_property_from_type(resource_type: str) -> str | None:
    if resource_type in GAP_HANDLERS:
        return GAP_HANDLERS[resource_type].name_property or None
    result: str | None = _ORIGINALS["resource_name_property_from_type"](resource_type)
    return result


def _parse_and_create_resource(
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: Any,
    account_id: str,
    region_name: str,
) -> Any:
    resource_type = str(resource_json.get("Type"))
    try:
        resource = _ORIGINALS["parse_and_create_resource"](
            logical_id, resource_json, resources_map, account_id, region_name
        )
        if resource is not None:
            fills = PROPERTY_GAP_FILLS.get(resource_type, [])
            if fills:
                properties = parsing.clean_json(resource_json.get("Properties", {}), resources_map)
                for fill in fills:
                    fill(resource, properties, account_id, region_name)
    except ResourceCreationError:
        raise  # a dependency failed first; its error names it
    except Exception as error:  # any failure of any resource type fails the stack, as in AWS
        raise ResourceCreationError(
            logical_id, resource_type, f"{type(error).__name__}: {error}"
        ) from error
    return resource


def _fail_stack(stack: Any, status: str, failure: ResourceCreationError) -> None:
    reason = f"The following resource(s) failed: {failure}"
    logger.warning("sandbox: stack %s %s: %s", stack.name, status, failure)
    stack.status = status
    stack.stack_status_reason = reason
    stack._add_stack_event(status, resource_status_reason=reason)
    # Resources not created yet must stay that way: moto's map would create them lazily on the
    # next DescribeStackResources.
    resource_map = stack.resource_map
    resource_map._resource_json_map = {
        logical_id: body
        for logical_id, body in resource_map._resource_json_map.items()
        if logical_id in resource_map._parsed_resources
    }
    # A failed stack has no outputs (they could name resources that were never created).
    stack.output_map = parsing.OutputMap(resource_map, {}, stack.stack_id)


def _create_resources(stack: Any) -> None:
    try:
        _ORIGINALS["create_resources"](stack)
    except ResourceCreationError as failure:
        _fail_stack(stack, "CREATE_FAILED", failure)


def _update(stack: Any, *args: Any, **kwargs: Any) -> None:
    try:
        _ORIGINALS["update"](stack, *args, **kwargs)
    except ResourceCreationError as failure:
        _fail_stack(stack, "UPDATE_FAILED", failure)


def _ssm_parameter_from_cloudformation(
    parameter_class: type[Parameter],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    # moto gap: AWS::SSM::Parameter without Name crashes; CloudFormation generates one.
    properties = cloudformation_json.setdefault("Properties", {})
    properties.setdefault("Name", resource_name)
    return _ORIGINALS["ssm_parameter_create"].__func__(
        parameter_class, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )


def _ssm_parameter_delete_from_cloudformation(
    parameter_class: type[Parameter],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> None:
    # moto gap: a parameter already deleted out of band fails the stack's deletion; CloudFormation
    # treats it as deleted (https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-test-contract.html).
    try:
        _ORIGINALS["ssm_parameter_delete"].__func__(
            parameter_class, resource_name, cloudformation_json, account_id, region_name
        )
    except ParameterNotFound:
        logger.info("sandbox: SSM parameter %s was already deleted", resource_name)


def _event_bus_physical_resource_id(bus: EventBus) -> str:
    # moto gap: Ref to AWS::Events::EventBus must return the bus name.
    return bus.name


def _lambda_version_from_cloudformation(
    cls: type[LambdaVersion],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> LambdaVersion:
    # moto gap: `Ref` to an AWS::Lambda::Version gives moto's logical id, not the version's ARN
    # (what CloudFormation returns, and what the CDK's triggers pass as HandlerArn). Here the
    # published version's ARN becomes the resource's physical id, which moto reads for `Ref`.
    function_name = cloudformation_json["Properties"]["FunctionName"]
    published = lambda_backends[account_id][region_name].publish_version(function_name)
    version = LambdaVersion({"Version": published.version})  # type: ignore[abstract,union-attr]
    version.physical_resource_id = published.function_arn  # type: ignore[union-attr,attr-defined]
    return version


def install() -> None:
    """Patch moto in-process (idempotent). The patches apply to every account and region."""
    if _ORIGINALS:
        return
    _ORIGINALS.update(
        resource_class_from_type=parsing.resource_class_from_type,
        resource_name_property_from_type=parsing.resource_name_property_from_type,
        parse_and_create_resource=parsing.parse_and_create_resource,
        create_resources=cloudformation_models.Stack.create_resources,
        update=cloudformation_models.Stack.update,
        # The raw classmethod descriptor, so that uninstall() restores exactly what was there.
        ssm_parameter_create=Parameter.__dict__["create_from_cloudformation_json"],
        ssm_parameter_delete=Parameter.__dict__["delete_from_cloudformation_json"],
        lambda_version_create=LambdaVersion.__dict__["create_from_cloudformation_json"],
    )
    parsing.resource_class_from_type = _resource_class_from_type
    parsing.resource_name_property_from_type = _resource_name_property_from_type
    parsing.parse_and_create_resource = _parse_and_create_resource
    cloudformation_models.Stack.create_resources = _create_resources  # type: ignore[method-assign,assignment]
    cloudformation_models.Stack.update = _update  # type: ignore[method-assign,assignment]
    Parameter.create_from_cloudformation_json = classmethod(_ssm_parameter_from_cloudformation)  # type: ignore[method-assign,assignment,arg-type]
    Parameter.delete_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        _ssm_parameter_delete_from_cloudformation
    )
    EventBus.physical_resource_id = property(_event_bus_physical_resource_id)  # type: ignore[attr-defined]
    LambdaVersion.create_from_cloudformation_json = classmethod(_lambda_version_from_cloudformation)  # type: ignore[method-assign,assignment,arg-type]


def uninstall() -> None:
    if not _ORIGINALS:
        return
    parsing.resource_class_from_type = _ORIGINALS["resource_class_from_type"]
    parsing.resource_name_property_from_type = _ORIGINALS["resource_name_property_from_type"]
    parsing.parse_and_create_resource = _ORIGINALS["parse_and_create_resource"]
    cloudformation_models.Stack.create_resources = _ORIGINALS["create_resources"]  # type: ignore[method-assign]
    cloudformation_models.Stack.update = _ORIGINALS["update"]  # type: ignore[method-assign]
    Parameter.create_from_cloudformation_json = _ORIGINALS["ssm_parameter_create"]  # type: ignore[method-assign]
    Parameter.delete_from_cloudformation_json = _ORIGINALS["ssm_parameter_delete"]  # type: ignore[method-assign]
    del EventBus.physical_resource_id  # type: ignore[attr-defined]
    LambdaVersion.create_from_cloudformation_json = _ORIGINALS["lambda_version_create"]  # type: ignore[method-assign]
    _ORIGINALS.clear()


def installed() -> bool:
    return bool(_ORIGINALS)


@contextmanager
def cloudformation_gap_fills() -> Iterator[None]:
    """Install the gap fills for the block, unless already installed (then leave them be).

    A long-running sandbox installs them once for its lifetime, so that stacks also read back
    right (an EventBus's physical id, for instance) between deployments.
    """
    if installed():
        yield
        return
    install()
    try:
        yield
    finally:
        uninstall()


# The alerting resource types register their gap handlers on import (`@gap_handler` above).
from sandbox import moto_alerting_gaps  # noqa: E402, F401
