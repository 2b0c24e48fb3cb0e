"""moto gaps of the resources that deploy code and stacks: StackSets, the CDK's bucket deployment
and triggers, and a function's asynchronous invocation settings (registered in
`sandbox.moto_gap_registry`, installed by `sandbox.moto_cloudformation_gaps`;
docs/architecture.md §6).

moto gaps filled here (moto 5.2.5's CloudFormation has no model for these types, and skips them):
- moto gap: `AWS::CloudFormation::StackSet`: here CreateStackSet and its instances;
- moto gap: `Custom::CDKBucketDeployment` and `Custom::Trigger`, whose providers are CDK-owned
  Lambdas moto cannot run: here what those providers do with the resolved properties;
- moto gap: `AWS::Lambda::EventInvokeConfig`: here PutFunctionEventInvokeConfig.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import Any, ClassVar

from moto.awslambda.exceptions import UnknownEventConfig, UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation.models import cloudformation_backends
from moto.s3.models import s3_backends

from sandbox.moto_delegated_admin import check_create_call_as
from sandbox.moto_gap_registry import GapResource, ResourceCreationError, gap_handler, json_text


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
            template=json_text(template),
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
