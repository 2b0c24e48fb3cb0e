"""What moto 5.2.5's CloudFormation lacks to deploy dsdash's synthesized templates, filled in.

The sandbox deploys the real CDK templates through moto's `CreateStack` (docs/architecture.md §6).
Where moto falls short, the sandbox fills the gap at moto's own seams, never by rewriting the
template: every resource is created from the template's own properties, as CloudFormation resolved
them (Ref, GetAtt, Join, Sub...). `cloudformation_gap_fills()` installs the patches below for the
duration of a block (`PATCHES.install()`/`.uninstall()` for a long-running process); each names
its gap.

Resource types moto has no model for, and properties it ignores, are filled by the handlers of
`sandbox.moto_gap_registry`, registered by the modules imported below (messaging, storage, deployment, alerting, and the
history storage's in `sandbox.moto_firehose_parquet`). The patches consult that registry.

moto gaps filled here:
- moto gap: resource types moto has no model for are skipped with a warning while the stack still
  reports CREATE_COMPLETE. Here they are created by their registered gap handler; a type that
  neither moto nor the registry knows fails the stack, naming the type: a silently missing
  resource would make the sandbox lie.
- moto gap: `Ref` to an `AWS::Events::EventBus` returns moto's EventBus object instead of the
  bus name, so a rule on a custom bus crashes with "'EventBus' object has no attribute 'split'".
  The patch gives EventBus the `physical_resource_id` (its name) moto reads for `Ref`.
- moto gap: `Ref` to an `AWS::Lambda::Version` returns a logical id instead of the version ARN;
  the published version's ARN is its physical id here.
- moto gap: `AWS::SSM::Parameter` without `Name` crashes (moto passes name None to
  PutParameter). CloudFormation generates a name; here the generated physical name is used.
- moto gap: deleting a stack whose `AWS::SSM::Parameter` was already deleted out of band (the
  spoke's `/monitors/<HubName>`, which offboarding deletes before the stack instance goes) fails
  with ParameterNotFound. CloudFormation treats a resource that is already gone as deleted (a
  resource handler's delete reports NotFound, and the stack deletion goes on); so does the fill.
- moto gap: a resource that fails to create aborts the CreateStack API call with a bare error
  (the stack stays CREATE_IN_PROGRESS, and a later DescribeStackResources tries to create the
  remaining resources lazily). Here the stack ends CREATE_FAILED (UPDATE_FAILED for updates) with
  a StackStatusReason naming the logical id, type and error, as CloudFormation reports it, and no
  further resource is created behind the caller's back.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any

from moto.awslambda.models import LambdaVersion, lambda_backends
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing
from moto.events.models import EventBus
from moto.ssm.exceptions import ParameterNotFound
from moto.ssm.models import Parameter

# Each handler module registers its handlers on import; this module only consults the registry.
from sandbox import (  # noqa: F401
    moto_alerting_gaps,
    moto_deployment_gaps,
    moto_firehose_parquet,
    moto_messaging_gaps,
    moto_storage_gaps,
)
from sandbox.moto_gap_registry import (
    GAP_HANDLERS,
    PROPERTY_GAP_FILLS,
    ResourceCreationError,
    UnsupportedResourceTypeError,
)
from sandbox.moto_patching import MotoPatches

logger = logging.getLogger(__name__)


# --- the patches ------------------------------------------------------------------------------


def _resource_class_from_type(resource_type: str) -> Any:
    if resource_type in GAP_HANDLERS:
        return GAP_HANDLERS[resource_type]
    if (
        resource_type in parsing.NULL_MODELS
        or resource_type.startswith("Custom::")
        or resource_type in parsing.get_model_map()
    ):
        return PATCHES.original(parsing, "resource_class_from_type")(resource_type)
    raise UnsupportedResourceTypeError(
        f"moto has no CloudFormation model for {resource_type} and the sandbox has no gap "
        "handler for it (register one with @gap_handler in a sandbox/moto_*_gaps.py module)"
    )


def _resource_name_property_from_type(resource_type: str) -> str | None:
    if resource_type in GAP_HANDLERS:
        return GAP_HANDLERS[resource_type].name_property or None
    result: str | None = PATCHES.original(parsing, "resource_name_property_from_type")(
        resource_type
    )
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
        resource = PATCHES.original(parsing, "parse_and_create_resource")(
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
        PATCHES.original(cloudformation_models.Stack, "create_resources")(stack)
    except ResourceCreationError as failure:
        _fail_stack(stack, "CREATE_FAILED", failure)


def _update(stack: Any, *args: Any, **kwargs: Any) -> None:
    try:
        PATCHES.original(cloudformation_models.Stack, "update")(stack, *args, **kwargs)
    except ResourceCreationError as failure:
        _fail_stack(stack, "UPDATE_FAILED", failure)


def _ssm_parameter_from_cloudformation(
    parameter_class: type[Parameter],
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    # moto gap: AWS::SSM::Parameter without Name crashes; CloudFormation generates one.
    properties = cloudformation_json.setdefault("Properties", {})
    properties.setdefault("Name", resource_name)
    return PATCHES.original(Parameter, "create_from_cloudformation_json").__func__(
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
        PATCHES.original(Parameter, "delete_from_cloudformation_json").__func__(
            parameter_class, resource_name, cloudformation_json, account_id, region_name
        )
    except ParameterNotFound:
        logger.info("sandbox: SSM parameter %s was already deleted", resource_name)


def _event_bus_physical_resource_id(bus: EventBus) -> str:
    # moto gap: Ref to AWS::Events::EventBus must return the bus name.
    return bus.name


def _lambda_version_from_cloudformation(
    cls: type[LambdaVersion],
    /,
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


# The raw classmethods go in and come back out as classmethods (MotoPatches restores the raw
# attribute); EventBus has no `physical_resource_id` of its own, so uninstall deletes it again.
PATCHES = MotoPatches(
    [
        (parsing, "resource_class_from_type", _resource_class_from_type),
        (parsing, "resource_name_property_from_type", _resource_name_property_from_type),
        (parsing, "parse_and_create_resource", _parse_and_create_resource),
        (cloudformation_models.Stack, "create_resources", _create_resources),
        (cloudformation_models.Stack, "update", _update),
        (
            Parameter,
            "create_from_cloudformation_json",
            classmethod(_ssm_parameter_from_cloudformation),
        ),
        (
            Parameter,
            "delete_from_cloudformation_json",
            classmethod(_ssm_parameter_delete_from_cloudformation),
        ),
        (EventBus, "physical_resource_id", property(_event_bus_physical_resource_id)),
        (
            LambdaVersion,
            "create_from_cloudformation_json",
            classmethod(_lambda_version_from_cloudformation),
        ),
    ]
)


def cloudformation_gap_fills() -> AbstractContextManager[None]:
    """Install the gap fills for the block, unless already installed (then leave them be).

    A long-running sandbox installs them once for its lifetime, so that stacks also read back
    right (an EventBus's physical id, for instance) between deployments.
    """
    return PATCHES.applied()
