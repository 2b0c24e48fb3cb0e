"""Deploy CloudFormation templates into the sandbox, as `cdk deploy` and StackSets would.

- `deploy_cdk_stack` deploys one stack of a synthesized CDK cloud assembly: it publishes the
  stack's file assets (`sandbox.cdk_assets`), then creates the stack, or updates it when it
  exists, through moto's CloudFormation API with the template body.
- `deploy_template` deploys a plain template (the spoke template a StackSet instance deploys).
- `delete_stack` deletes a stack and waits for it.

Every call goes through the CloudFormation API of the given session (in-process moto, or a
served moto endpoint), with moto's gaps filled by `sandbox.moto_cloudformation_gaps`, which these
functions install for the duration of the call. A stack that does not reach CREATE_COMPLETE or
UPDATE_COMPLETE raises `StackDeploymentError` with the stack's status reason and the failed
events, so a broken template never passes as deployed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.exceptions import ClientError

from runtime_common.aws import client
from sandbox.cdk_assets import (
    CloudAssemblyError,
    publish_file_assets,
    read_file_assets,
    read_stack_artifact,
)
from sandbox.moto_cloudformation_gaps import cloudformation_gap_fills

# What `cdk deploy` acknowledges on the user's behalf.
CDK_CAPABILITIES: Final = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
SUCCESSFUL_STATUSES: Final = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
# Stacks in these states cannot be updated; CloudFormation requires deleting them first (cdk
# deploy does the same for ROLLBACK_COMPLETE).
REPLACEABLE_FAILED_STATUSES: Final = frozenset(
    {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"}
)
WAIT_SECONDS: Final = 60.0


class StackDeploymentError(RuntimeError):
    """A stack did not reach a *_COMPLETE state; the message carries CloudFormation's reasons."""


@dataclass(frozen=True)
class DeployedStack:
    stack_name: str
    stack_id: str
    account_id: str
    region: str
    status: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    # Logical id -> physical id, for every resource the stack holds.
    physical_resource_ids: Mapping[str, str] = field(default_factory=dict)
    resource_types: Mapping[str, str] = field(default_factory=dict)

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise KeyError(
                f"stack {self.stack_name} has no output {key!r}; it has {sorted(self.outputs)}"
            ) from None


def session_account(session: boto3.Session) -> str:
    account: str = client(session, "sts").get_caller_identity()["Account"]
    return account


def deploy_cdk_stack(
    cloud_assembly_dir: Path,
    stack_artifact_id: str,
    *,
    session: boto3.Session,
    parameters: Mapping[str, str] | None = None,
    stack_name: str | None = None,
) -> DeployedStack:
    """Publish the stack's assets and create or update it, as `cdk deploy <stack>` does."""
    artifact = read_stack_artifact(Path(cloud_assembly_dir), stack_artifact_id)
    account_id = session_account(session)
    if artifact.account_id is not None and artifact.account_id != account_id:
        raise CloudAssemblyError(
            f"stack {stack_artifact_id} is synthesized for account {artifact.account_id}, but "
            f"the session acts as {account_id}"
        )
    region = artifact.region or session.region_name
    if region is None:
        raise CloudAssemblyError(
            f"stack {stack_artifact_id} is environment-agnostic and the session has no region"
        )
    if artifact.asset_manifest_path is not None:
        assets = read_file_assets(
            artifact.asset_manifest_path, account_id=account_id, region=region
        )
        publish_file_assets(session, assets, default_region=region)
    return deploy_template(
        artifact.template_body(),
        stack_name or artifact.stack_name,
        session=session,
        parameters=parameters,
        region=region,
    )


def deploy_template(
    template_body: str,
    stack_name: str,
    *,
    session: boto3.Session,
    parameters: Mapping[str, str] | None = None,
    region: str | None = None,
    capabilities: tuple[str, ...] = CDK_CAPABILITIES,
    tags: Mapping[str, str] | None = None,
) -> DeployedStack:
    """Create the stack, or update it when it exists, and wait until it settles."""
    cloudformation = client(session, "cloudformation", region_name=region)
    arguments: dict[str, Any] = {
        "StackName": stack_name,
        "TemplateBody": template_body,
        "Parameters": [
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in sorted((parameters or {}).items())
        ],
        "Capabilities": list(capabilities),
    }
    if tags:
        arguments["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    with cloudformation_gap_fills():
        existing = _current_status(cloudformation, stack_name)
        if existing in REPLACEABLE_FAILED_STATUSES:
            _delete_and_wait(cloudformation, stack_name)
            existing = None
        if existing is None:
            cloudformation.create_stack(**arguments)
        else:
            try:
                cloudformation.update_stack(**arguments)
            except ClientError as error:
                if "No updates are to be performed" not in str(error):
                    raise
        status = _wait_until_settled(cloudformation, stack_name)
        if status not in SUCCESSFUL_STATUSES:
            raise StackDeploymentError(_failure_message(cloudformation, stack_name, status))
        return describe_deployed_stack(session, stack_name, region=region)


def delete_stack(session: boto3.Session, stack_name: str, *, region: str | None = None) -> bool:
    """Delete the stack if it exists; returns whether there was one. Retained resources stay."""
    cloudformation = client(session, "cloudformation", region_name=region)
    with cloudformation_gap_fills():
        if _current_status(cloudformation, stack_name) is None:
            return False
        _delete_and_wait(cloudformation, stack_name)
    return True


def describe_deployed_stack(
    session: boto3.Session, stack_name: str, *, region: str | None = None
) -> DeployedStack:
    with cloudformation_gap_fills():
        return _describe_deployed_stack(session, stack_name, region=region)


def _describe_deployed_stack(
    session: boto3.Session, stack_name: str, *, region: str | None
) -> DeployedStack:
    cloudformation = client(session, "cloudformation", region_name=region)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    physical_ids: dict[str, str] = {}
    types: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            physical_ids[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
            types[summary["LogicalResourceId"]] = summary["ResourceType"]
    stack_arn_parts = stack["StackId"].split(":")
    return DeployedStack(
        stack_name=stack["StackName"],
        stack_id=stack["StackId"],
        account_id=stack_arn_parts[4],
        region=stack_arn_parts[3],
        status=stack["StackStatus"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        physical_resource_ids=physical_ids,
        resource_types=types,
    )


def _current_status(cloudformation: Any, stack_name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    status: str | None = stacks[0]["StackStatus"] if stacks else None
    return None if status == "DELETE_COMPLETE" else status


def _wait_until_settled(
    cloudformation: Any,
    stack_name: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    budget_seconds: float = WAIT_SECONDS,
) -> str:
    # moto finishes inside the API call; the loop keeps the contract honest for a served
    # endpoint or a future asynchronous moto.
    waited = 0.0
    while True:
        status = _current_status(cloudformation, stack_name) or "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS") or waited >= budget_seconds:
            return status
        sleep(0.5)
        waited += 0.5


def _delete_and_wait(cloudformation: Any, stack_name: str) -> None:
    cloudformation.delete_stack(StackName=stack_name)
    status = _wait_until_settled(cloudformation, stack_name)
    if status != "DELETE_COMPLETE":
        raise StackDeploymentError(_failure_message(cloudformation, stack_name, status))


def _failure_message(cloudformation: Any, stack_name: str, status: str) -> str:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    reasons = [
        f"{event['LogicalResourceId']} {event['ResourceStatus']}: {event['ResourceStatusReason']}"
        for event in cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        if event["ResourceStatus"].endswith("FAILED") and event.get("ResourceStatusReason")
    ]
    reason = (
        stack.get("StackStatusReason") or "; ".join(dict.fromkeys(reasons)) or "no reason given"
    )
    return f"stack {stack_name} ended {status}: {reason}"
