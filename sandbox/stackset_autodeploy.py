"""Service-managed StackSet deployments for the sandbox: instances become real stacks.

moto gaps filled here (docs/architecture.md §6), on top of `sandbox.moto_stacksets` (which resolves OU
targets the way CloudFormation does):
- moto gap: a service-managed stack instance's stack is built invisibly inside the
  CreateStackInstances call (not listed by DescribeStacks in the target account), with the
  StackSet's parameters *replaced* by the overrides, and instance summaries carry a random
  StackId. Here CreateStackInstances only records the instance (`patched` __init__), and
  `StackSetAutoDeployer.sync()` deploys the StackSet's template into the instance's account and
  region as the visible stack `StackSet-<stack set name>-<uuid>`, with the StackSet's parameters
  merged with the instance's overrides, through the CloudFormation API of that account
  (`sandbox.cfn_deploy.deploy_template`, so moto's CloudFormation gaps are filled there too).
  Instance summaries then report that stack's id and its real status (OUTDATED/PENDING until
  deployed, CURRENT/SUCCEEDED after, OUTDATED/FAILED with the reason when the stack failed).
- moto gap: no auto-deployment. moto stores neither AutoDeployment nor Capabilities of a
  StackSet; here they are kept from CreateStackSet/UpdateStackSet. For StackSets with
  AutoDeployment enabled, `sync()` adds an instance for each account that arrived in the subtree
  of a target OU since the targets were set or last synced (created there, or moved in), using
  the StackSet's parameter values without overrides and ignoring account filters, as AWS does
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html);
  and with RetainStacksOnAccountRemoval false it removes the instance (and its stack) of each
  account no longer in any target OU's subtree or no longer ACTIVE (moved out, closed).
  A target OU is one named in a CreateStackInstances call; a DeleteStackInstances call for an OU
  without an account filter removes it from the targets.
- moto gap: no "CloudFormation StackSet StackInstance Status Change" events. `sync()` puts one per
  deployed, updated or removed instance on the StackSet owner's default bus in the StackSet's
  region, shaped like AWS's (tests/events/cfn_StackInstanceStatusChange_*.json;
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stackset-stack-instance-status-change.html),
  through moto's events backend, so the sandbox's EventBridge delivery runs the enrollment rules.

Everything happens in `sync()`, called by the orchestrator after each reconcile or organization
change: deterministic (StackSets, accounts and regions in sorted order) and idempotent (a second
call with nothing changed does nothing and emits nothing).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import boto3
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import responses as cloudformation_responses
from moto.cloudformation.models import cloudformation_backends
from moto.events.models import events_backends
from moto.moto_api._internal import mock_random

from sandbox.cfn_deploy import StackDeploymentError, delete_stack, deploy_template
from sandbox.credentials import account_credentials

logger = logging.getLogger(__name__)

SERVICE_MANAGED: Final = "SERVICE_MANAGED"
STACK_INSTANCE_DETAIL_TYPE: Final = "CloudFormation StackSet StackInstance Status Change"
CLOUDFORMATION_EVENT_SOURCE: Final = "aws.cloudformation"

Action = Literal["CREATE", "UPDATE", "DELETE"]
SessionFactory = Callable[[str, str], boto3.Session]


@dataclass(frozen=True)
class InstanceChange:
    """One stack instance deployed, updated or removed by `sync()`, and the event emitted."""

    stack_set_name: str
    stack_set_arn: str
    account_id: str
    region: str
    action: Action
    stack_id: str
    succeeded: bool
    status_reason: str = ""
    event: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class _Deployment:
    stack_set_arn: str
    stack_set_name: str
    owner_account: str
    owner_region: str
    account_id: str
    region: str
    stack_name: str
    stack_id: str = ""
    template: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    succeeded: bool = False


def _parameter_map(parameters: Any) -> dict[str, str]:
    # moto stores StackSet parameters as a dict (CreateStackSet) or a list (UpdateStackSet), and
    # an instance's as the override list, or a copy of the StackSet's dict when none was given.
    if isinstance(parameters, Mapping):
        return {str(key): str(value) for key, value in parameters.items()}
    return {str(p["ParameterKey"]): str(p["ParameterValue"]) for p in parameters or []}


def _default_session(account_id: str, region: str) -> boto3.Session:
    return account_credentials(account_id, region).session(region)


# --- patches on moto's StackSets -------------------------------------------------------------

_ORIGINALS: dict[str, Any] = {}


def _subtree_accounts(organizations_backend: Any, ou_ids: set[str]) -> set[str]:
    """ACTIVE accounts, other than the management account, under any of `ou_ids`."""
    if organizations_backend.org is None or not ou_ids:
        return set()
    parents = {node.id: node.parent_id for node in organizations_backend.ou}
    management = organizations_backend.org.master_account_id
    found = set()
    for account in organizations_backend.accounts:
        if account.id == management or account.status != "ACTIVE":
            continue
        node: str | None = account.parent_id
        while node is not None:
            if node in ou_ids:
                found.add(account.id)
                break
            node = parents.get(node)
    return found


def _targets(stack_set: Any) -> dict[str, set[str]]:
    """region -> target OU ids, kept on moto's StackSet (moto does not record them)."""
    if not hasattr(stack_set, "sandbox_target_ous"):
        stack_set.sandbox_target_ous = {}
        stack_set.sandbox_known_members = {}
    targets: dict[str, set[str]] = stack_set.sandbox_target_ous
    return targets


def _known_members(stack_set: Any) -> dict[str, set[str]]:
    _targets(stack_set)
    known: dict[str, set[str]] = stack_set.sandbox_known_members
    return known


def _stack_set_create_stack_instances(
    self: Any,
    accounts: list[str],
    regions: list[str],
    deployment_targets: dict[str, Any] | None,
    parameters: list[dict[str, Any]],
) -> str:
    operation_id: str = _ORIGINALS["create_stack_instances"](
        self, accounts, regions, deployment_targets, parameters
    )
    ou_ids = set((deployment_targets or {}).get("OrganizationalUnitIds") or [])
    if self.permission_model == SERVICE_MANAGED and ou_ids:
        # The OUs become targets (auto-deployment ignores the account filter); the accounts
        # already there are not arrivals.
        members = _subtree_accounts(self.instances.org_backend, ou_ids)
        for region in regions:
            _targets(self).setdefault(region, set()).update(ou_ids)
            _known_members(self).setdefault(region, set()).update(members)
    return operation_id


def _response_delete_stack_instances(self: Any) -> Any:
    result = _ORIGINALS["delete_response"](self)
    targets = self._get_params().get("DeploymentTargets") or {}
    if targets.get("AccountFilterType", "NONE") == "NONE" and targets.get("OrganizationalUnitIds"):
        stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
        for region in self._get_param("Regions", []):
            _targets(stack_set).get(region, set()).difference_update(
                targets["OrganizationalUnitIds"]
            )
    return result


def _record_stack_set_options(response: Any, stack_set: Any) -> None:
    auto_deployment = response._get_params().get("AutoDeployment")
    if auto_deployment:
        stack_set.auto_deployment = {
            "Enabled": str(auto_deployment.get("Enabled", "false")).lower() == "true",
            "RetainStacksOnAccountRemoval": str(
                auto_deployment.get("RetainStacksOnAccountRemoval", "false")
            ).lower()
            == "true",
        }
    capabilities = response._get_param("Capabilities")
    if capabilities:
        stack_set.capabilities = list(capabilities)


def _response_create_stack_set(self: Any) -> Any:
    # moto gap: AutoDeployment and Capabilities are not stored.
    result = _ORIGINALS["create_stack_set_response"](self)
    _record_stack_set_options(
        self, self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
    )
    return result


def _response_update_stack_set(self: Any) -> Any:
    result = _ORIGINALS["update_stack_set_response"](self)
    _record_stack_set_options(
        self, self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
    )
    return result


def _stack_instance_init(self: Any, *args: Any, **kwargs: Any) -> None:
    names = (
        "account_id",
        "region_name",
        "stackset_id",
        "stack_name",
        "name",
        "template",
        "parameters",
        "permission_model",
    )
    values = dict(zip(names, args, strict=False)) | kwargs
    if values.get("permission_model") != SERVICE_MANAGED:
        _ORIGINALS["instance_init"](self, *args, **kwargs)
        return
    # moto gap: no hidden stack; StackSetAutoDeployer.sync() deploys a visible one.
    for name in names:
        setattr(self, name, values.get(name))
    self.parameters = values.get("parameters") or []
    self.stack = None


def _stack_instance_delete(self: Any) -> None:
    if self.permission_model == SERVICE_MANAGED and self.stack is None:
        return  # sync() deletes the deployed stack
    _ORIGINALS["instance_delete"](self)


def _stack_instance_to_dict(self: Any) -> dict[str, Any]:
    result: dict[str, Any] = _ORIGINALS["instance_to_dict"](self)
    if self.permission_model != SERVICE_MANAGED:
        return result
    stack_id = getattr(self, "sandbox_stack_id", None)
    succeeded = getattr(self, "sandbox_succeeded", None)
    if stack_id:
        result["StackId"] = stack_id
    else:
        result.pop("StackId", None)
    if succeeded is None:
        result["Status"], detailed = "OUTDATED", "PENDING"
    elif succeeded:
        result["Status"], detailed = "CURRENT", "SUCCEEDED"
    else:
        result["Status"], detailed = "OUTDATED", "FAILED"
        result["StatusReason"] = getattr(self, "sandbox_status_reason", "")
    result["StackInstanceStatus"] = {"DetailedStatus": detailed}
    return result


def install() -> None:
    """Patch moto in-process (idempotent)."""
    if _ORIGINALS:
        return
    stack_set_class = cloudformation_models.StackSet
    instance_class = cloudformation_models.StackInstance
    response_class = cloudformation_responses.CloudFormationResponse
    _ORIGINALS.update(
        create_stack_instances=stack_set_class.create_stack_instances,
        delete_response=response_class.delete_stack_instances,
        create_stack_set_response=response_class.create_stack_set,
        update_stack_set_response=response_class.update_stack_set,
        instance_init=instance_class.__init__,
        instance_delete=instance_class.delete,
        instance_to_dict=instance_class.to_dict,
    )
    stack_set_class.create_stack_instances = _stack_set_create_stack_instances  # type: ignore[method-assign]
    response_class.delete_stack_instances = _response_delete_stack_instances  # type: ignore[method-assign]
    response_class.create_stack_set = _response_create_stack_set  # type: ignore[method-assign]
    response_class.update_stack_set = _response_update_stack_set  # type: ignore[method-assign]
    instance_class.__init__ = _stack_instance_init  # type: ignore[method-assign]
    instance_class.delete = _stack_instance_delete  # type: ignore[method-assign]
    instance_class.to_dict = _stack_instance_to_dict  # type: ignore[method-assign]


def uninstall() -> None:
    if not _ORIGINALS:
        return
    stack_set_class = cloudformation_models.StackSet
    instance_class = cloudformation_models.StackInstance
    response_class = cloudformation_responses.CloudFormationResponse
    stack_set_class.create_stack_instances = _ORIGINALS["create_stack_instances"]  # type: ignore[method-assign]
    response_class.delete_stack_instances = _ORIGINALS["delete_response"]  # type: ignore[method-assign]
    response_class.create_stack_set = _ORIGINALS["create_stack_set_response"]  # type: ignore[method-assign]
    response_class.update_stack_set = _ORIGINALS["update_stack_set_response"]  # type: ignore[method-assign]
    instance_class.__init__ = _ORIGINALS["instance_init"]  # type: ignore[method-assign]
    instance_class.delete = _ORIGINALS["instance_delete"]  # type: ignore[method-assign]
    instance_class.to_dict = _ORIGINALS["instance_to_dict"]  # type: ignore[method-assign]
    _ORIGINALS.clear()


@contextmanager
def service_managed_auto_deployment() -> Iterator[None]:
    """Install the patches for the block. Enter it inside `moto_stacksets.service_managed_stacksets()`
    (this wraps that module's patches, so it must be removed first)."""
    install()
    try:
        yield
    finally:
        uninstall()


# --- the deployer ----------------------------------------------------------------------------


@dataclass
class StackSetAutoDeployer:
    """Makes every service-managed stack instance in moto a deployed stack (see module doc)."""

    session_for: SessionFactory = _default_session
    deployments: dict[tuple[str, str, str], _Deployment] = field(default_factory=dict)

    def sync(self) -> list[InstanceChange]:
        changes: list[InstanceChange] = []
        live: set[tuple[str, str, str]] = set()
        for owner_account, owner_region, stack_set in self._service_managed_stack_sets():
            if stack_set.status != "DELETED":
                self._auto_deploy_arrivals(stack_set)
                # The departed instances' stacks go in the removal pass below, which reports them.
                self._remove_departed(stack_set)
            for instance in sorted(
                stack_set.instances.stack_instances, key=lambda i: (i.account_id, i.region_name)
            ):
                key = (stack_set.arn, instance.account_id, instance.region_name)
                live.add(key)
                change = self._deploy_instance(owner_account, owner_region, stack_set, instance)
                if change is not None:
                    changes.append(change)
        for key in sorted(set(self.deployments) - live):
            changes.append(self._remove_deployment(self.deployments.pop(key)))
        return changes

    @staticmethod
    def _service_managed_stack_sets() -> Iterator[tuple[str, str, Any]]:
        for owner_account in sorted(cloudformation_backends.keys()):
            for owner_region in sorted(cloudformation_backends[owner_account].keys()):
                backend = cloudformation_backends[owner_account][owner_region]
                for stack_set_id in sorted(backend.stacksets):
                    stack_set = backend.stacksets[stack_set_id]
                    if stack_set.permission_model == SERVICE_MANAGED:
                        yield owner_account, owner_region, stack_set

    @staticmethod
    def _auto_deployment(stack_set: Any) -> tuple[bool, bool]:
        settings = getattr(stack_set, "auto_deployment", None) or {}
        return bool(settings.get("Enabled")), bool(settings.get("RetainStacksOnAccountRemoval"))

    def _auto_deploy_arrivals(self, stack_set: Any) -> None:
        enabled, _ = self._auto_deployment(stack_set)
        organizations = stack_set.instances.org_backend
        for region, ou_ids in sorted(_targets(stack_set).items()):
            members = _subtree_accounts(organizations, ou_ids)
            known = _known_members(stack_set).setdefault(region, set())
            arrivals = sorted(members - known) if enabled else []
            for account_id in arrivals:
                if stack_set.instances.get_instance(account_id, region) is None:
                    self._add_instance(stack_set, account_id, region, ou_ids)
            known.clear()
            known.update(members)

    @staticmethod
    def _add_instance(stack_set: Any, account_id: str, region: str, ou_ids: set[str]) -> None:
        organizations = stack_set.instances.org_backend
        parents = {node.id: node.parent_id for node in organizations.ou}
        node = organizations.get_account_by_id(account_id).parent_id
        while node is not None and node not in ou_ids:
            node = parents.get(node)
        # Auto-deployed instances use the StackSet's parameter values: no overrides.
        instance = cloudformation_models.StackInstance(
            account_id=account_id,
            region_name=region,
            stackset_id=stack_set.id,
            stack_name=stack_set.instances.stack_name,
            name=stack_set.name,
            template=stack_set.template,
            parameters=[],
            permission_model=SERVICE_MANAGED,
        )
        # Read back by moto_stacksets' summaries (OrganizationalUnitId).
        setattr(instance, "organizational_unit_id", node)  # noqa: B010
        stack_set.instances.stack_instances.append(instance)
        stack_set._create_operation(
            operation_id=str(mock_random.uuid4()),
            action="CREATE",
            status="SUCCEEDED",
            accounts=[account_id],
            regions=[region],
        )
        logger.info("sandbox: auto-deployed %s to %s/%s", stack_set.name, account_id, region)

    def _remove_departed(self, stack_set: Any) -> None:
        enabled, retain = self._auto_deployment(stack_set)
        if not enabled or retain:
            return
        organizations = stack_set.instances.org_backend
        departed = []
        for instance in list(stack_set.instances.stack_instances):
            ou_ids = _targets(stack_set).get(instance.region_name, set())
            if instance.account_id not in _subtree_accounts(organizations, ou_ids):
                stack_set.instances.stack_instances.remove(instance)
                departed.append(instance)
        for instance in departed:
            stack_set._create_operation(
                operation_id=str(mock_random.uuid4()),
                action="DELETE",
                status="SUCCEEDED",
                accounts=[instance.account_id],
                regions=[instance.region_name],
            )

    def _deploy_instance(
        self, owner_account: str, owner_region: str, stack_set: Any, instance: Any
    ) -> InstanceChange | None:
        key = (stack_set.arn, instance.account_id, instance.region_name)
        template = str(stack_set.template)
        parameters = _parameter_map(stack_set.parameters) | _parameter_map(instance.parameters)
        deployment = self.deployments.get(key)
        if (
            deployment is not None
            and deployment.template == template
            and deployment.parameters == parameters
        ):
            self._mark(instance, deployment)
            return None
        action: Action = "CREATE" if deployment is None or not deployment.stack_id else "UPDATE"
        if deployment is None:
            deployment = _Deployment(
                stack_set_arn=stack_set.arn,
                stack_set_name=stack_set.name,
                owner_account=owner_account,
                owner_region=owner_region,
                account_id=instance.account_id,
                region=instance.region_name,
                stack_name=f"StackSet-{stack_set.name}-{uuid.uuid4()}",
            )
            self.deployments[key] = deployment
        deployment.template, deployment.parameters = template, parameters
        session = self.session_for(instance.account_id, instance.region_name)
        reason = ""
        try:
            deployed = deploy_template(
                template,
                deployment.stack_name,
                session=session,
                parameters=parameters,
                region=instance.region_name,
                capabilities=tuple(getattr(stack_set, "capabilities", None) or ()),
            )
            deployment.stack_id, deployment.succeeded = deployed.stack_id, True
        except StackDeploymentError as error:
            reason = str(error)
            deployment.succeeded = False
            deployment.stack_id = self._stack_id_of(session, deployment) or deployment.stack_id
            logger.warning("sandbox: %s", reason)
        self._mark(instance, deployment, reason)
        return self._emit(deployment, action, reason)

    @staticmethod
    def _stack_id_of(session: boto3.Session, deployment: _Deployment) -> str | None:
        stacks = session.client("cloudformation", region_name=deployment.region).describe_stacks(
            StackName=deployment.stack_name
        )["Stacks"]
        return str(stacks[0]["StackId"]) if stacks else None

    @staticmethod
    def _mark(instance: Any, deployment: _Deployment, reason: str = "") -> None:
        instance.sandbox_stack_id = deployment.stack_id
        instance.sandbox_succeeded = deployment.succeeded
        instance.sandbox_status_reason = reason

    def _remove_deployment(self, deployment: _Deployment) -> InstanceChange:
        session = self.session_for(deployment.account_id, deployment.region)
        reason = ""
        try:
            delete_stack(session, deployment.stack_name, region=deployment.region)
        except StackDeploymentError as error:
            reason = str(error)
            logger.warning("sandbox: %s", reason)
        return self._emit(deployment, "DELETE", reason, succeeded=not reason)

    def _emit(
        self,
        deployment: _Deployment,
        action: Action,
        reason: str,
        *,
        succeeded: bool | None = None,
    ) -> InstanceChange:
        succeeded = deployment.succeeded if succeeded is None else succeeded
        detail = {
            "stack-set-arn": deployment.stack_set_arn,
            "stack-id": deployment.stack_id,
            "action": action,
            "status-details": {
                "status": "CURRENT" if succeeded else "OUTDATED",
                "status-reason": reason,
                "detailed-status": "SUCCEEDED" if succeeded else "FAILED",
            },
        }
        events = events_backends[deployment.owner_account][deployment.owner_region]
        [entry] = events.put_events(
            [
                {
                    "Source": CLOUDFORMATION_EVENT_SOURCE,
                    "DetailType": STACK_INSTANCE_DETAIL_TYPE,
                    "Detail": json.dumps(detail),
                    "Resources": [deployment.stack_set_arn],
                    "EventBusName": "default",
                }
            ]
        )
        event = {
            "version": "0",
            "id": entry.get("EventId"),
            "detail-type": STACK_INSTANCE_DETAIL_TYPE,
            "source": CLOUDFORMATION_EVENT_SOURCE,
            "account": deployment.owner_account,
            "region": deployment.owner_region,
            "resources": [deployment.stack_set_arn],
            "detail": detail,
        }
        return InstanceChange(
            stack_set_name=deployment.stack_set_name,
            stack_set_arn=deployment.stack_set_arn,
            account_id=deployment.account_id,
            region=deployment.region,
            action=action,
            stack_id=deployment.stack_id,
            succeeded=succeeded,
            status_reason=reason,
            event=event,
        )
