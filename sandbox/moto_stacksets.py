"""Service-managed StackSet behaviour that moto 5.2.5 lacks, computed from moto's own state.

moto gaps filled here (each patch below names the one it fills):
- moto gap: CreateStackInstances with DeploymentTargets deploys only to accounts directly in the
  requested OUs and in their direct children (grandchild OUs are skipped), ignores
  AccountFilterType/Accounts, and deploys to the management account and to suspended accounts.
  AWS covers the whole subtree, applies the filter, and never deploys to the management account.
- moto gap: stack instance summaries carry no OrganizationalUnitId.
- moto gap: UpdateStackInstances and DeleteStackInstances ignore DeploymentTargets (they read only
  `Accounts`, which service-managed calls do not send), so they change nothing.
- moto gap: every StackSet operation finishes inside the call, so OperationInProgressException
  never happens. `start_running_operation` records a RUNNING operation on a StackSet and
  `finish_operation` ends it; while one runs, create/update/delete raise
  OperationInProgressException as CloudFormation does.
- moto gap: DescribeStackInstance of an instance that does not exist fails with an internal error
  (moto dereferences None); CloudFormation answers StackInstanceNotFoundException, which callers
  use to tell "absent" in one call.

Nothing is invented: accounts, OUs and states come from moto's Organizations backend, and the
instances are moto's own. `service_managed_stacksets()` patches moto for a block (`PATCHES`,
`sandbox.moto_patching`). The sandbox (`dsdash demo`) and the reconciler tests both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Final

from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import responses as cloudformation_responses
from moto.cloudformation.exceptions import (
    CloudFormationError,
    StackInstanceNotFound,
    ValidationError,
)
from moto.cloudformation.models import cloudformation_backends
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random

from sandbox.moto_patching import MotoPatches

_INSTANCES: Final = cloudformation_models.StackInstances
_INSTANCE: Final = cloudformation_models.StackInstance
_RESPONSE: Final = cloudformation_responses.CloudFormationResponse
_BACKEND: Final = cloudformation_models.CloudFormationBackend
BUSY_STATUSES = frozenset({"RUNNING", "QUEUED", "STOPPING"})


class OperationInProgressError(CloudFormationError):
    code = "OperationInProgressException"

    def __init__(self, stack_set_name: str, operation_id: str) -> None:
        super().__init__(
            f"Another Operation on StackSet {stack_set_name} is in progress: {operation_id}"
        )


def resolve_deployment_targets(
    organizations_backend: Any, deployment_targets: Mapping[str, Any]
) -> dict[str, str]:
    """Map account id -> the requested OU it is reached through, as CloudFormation resolves
    service-managed DeploymentTargets: the whole subtree of each OU (nearest requested OU wins),
    the account filter applied, never the management account, only ACTIVE accounts."""
    requested = set(deployment_targets.get("OrganizationalUnitIds") or [])
    listed = set(deployment_targets.get("Accounts") or [])
    filter_type = deployment_targets.get("AccountFilterType") or ("UNION" if listed else "NONE")
    parents = {node.id: node.parent_id for node in organizations_backend.ou}
    management_account_id = organizations_backend.org.master_account_id
    resolved: dict[str, str] = {}
    for account in organizations_backend.accounts:
        if account.id == management_account_id or account.status != "ACTIVE":
            continue
        node: str | None = account.parent_id
        while node is not None:
            if node in requested:
                resolved[account.id] = node
                break
            node = parents.get(node)
    if filter_type == "INTERSECTION":
        return {a: ou for a, ou in resolved.items() if a in listed}
    if filter_type == "DIFFERENCE":
        return {a: ou for a, ou in resolved.items() if a not in listed}
    if filter_type == "UNION":
        raise ValidationError(
            message="moto_stacksets: UNION targets accounts outside the OUs; not emulated"
        )
    return resolved


def _busy_operation(stack_set: Any) -> str | None:
    for operation in stack_set.operations:
        if operation["Status"] in BUSY_STATUSES:
            return str(operation["OperationId"])
    return None


def _refuse_if_busy(stack_set: Any) -> None:
    busy = _busy_operation(stack_set)
    if busy is not None:
        raise OperationInProgressError(stack_set.name, busy)


def _create_instances(  # noqa: PLR0917 (moto calls it positionally)
    self: Any,
    accounts: list[str],
    regions: list[str],
    parameters: list[dict[str, Any]] | None,
    deployment_targets: dict[str, Any],
    permission_model: str,
) -> list[dict[str, Any]]:
    # moto gap: grandchild OUs, account filters, management and suspended accounts (see above).
    if permission_model != "SERVICE_MANAGED":
        return PATCHES.original(_INSTANCES, "create_instances")(  # type: ignore[no-any-return]
            self, accounts, regions, parameters, deployment_targets, permission_model
        )
    targets = resolve_deployment_targets(self.org_backend, deployment_targets)
    created = []
    for region in regions:
        for account_id, ou_id in sorted(targets.items()):
            if self.get_instance(account_id, region) is not None:
                continue
            instance = cloudformation_models.StackInstance(
                account_id=account_id,
                region_name=region,
                stackset_id=self.stackset_id,
                stack_name=self.stack_name,
                name=self.stackset_name,
                template=self.template,
                parameters=parameters,
                permission_model=permission_model,
            )
            # Read back by _instance_to_dict; moto's class has no such field.
            setattr(instance, "organizational_unit_id", ou_id)  # noqa: B010
            self.stack_instances.append(instance)
            created.append(instance.to_dict())
    return created


def _instance_to_dict(self: Any) -> dict[str, Any]:
    # moto gap: no OrganizationalUnitId in summaries.
    result: dict[str, Any] = PATCHES.original(_INSTANCE, "to_dict")(self)
    ou_id = getattr(self, "organizational_unit_id", None)
    if ou_id is not None:
        result["OrganizationalUnitId"] = ou_id
    return result


def _existing_accounts(backend: Any, stack_set_name: str, targets: Mapping[str, Any]) -> list[str]:
    stack_set = backend.describe_stack_set(stack_set_name)
    resolved = resolve_deployment_targets(stack_set.instances.org_backend, targets)
    present = {instance.account_id for instance in stack_set.instances.stack_instances}
    return sorted(a for a in resolved if a in present)


def _response_update_stack_instances(self: Any) -> Any:
    # moto gap: DeploymentTargets ignored by UpdateStackInstances.
    stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
    _refuse_if_busy(stack_set)
    targets = self._get_params().get("DeploymentTargets")
    if not targets:
        return PATCHES.original(_RESPONSE, "update_stack_instances")(self)
    accounts = _existing_accounts(self.cloudformation_backend, stack_set.name, targets)
    regions = self._get_param("Regions", [])
    present = {(i.account_id, i.region_name) for i in stack_set.instances.stack_instances}
    pairs = [(a, r) for a in accounts for r in regions if (a, r) in present]
    for account_id, region in pairs:
        stack_set.instances.update(
            [account_id], [region], self._get_param("ParameterOverrides", [])
        )
    operation = stack_set._create_operation(
        operation_id=str(mock_random.uuid4()),
        action="UPDATE",
        status="SUCCEEDED",
        accounts=accounts,
        regions=regions,
    )
    return ActionResult({"OperationId": operation["OperationId"]})


def _response_delete_stack_instances(self: Any) -> Any:
    # moto gap: DeploymentTargets ignored by DeleteStackInstances.
    stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
    _refuse_if_busy(stack_set)
    targets = self._get_params().get("DeploymentTargets")
    if not targets:
        return PATCHES.original(_RESPONSE, "delete_stack_instances")(self)
    accounts = _existing_accounts(self.cloudformation_backend, stack_set.name, targets)
    regions = self._get_param("Regions", [])
    stack_set.delete_stack_instances(accounts, regions)
    return ActionResult({"OperationId": stack_set.operations[-1]["OperationId"]})


def _response_create_stack_instances(self: Any) -> Any:
    # moto gap: no OperationInProgressException.
    stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
    _refuse_if_busy(stack_set)
    return PATCHES.original(_RESPONSE, "create_stack_instances")(self)


def _describe_stack_instance(
    self: Any, stack_set_name: str, account_id: str, region: str
) -> dict[str, Any]:
    # moto gap: a missing instance is an internal error, not StackInstanceNotFoundException.
    stack_set = self.describe_stack_set(stack_set_name)
    instance = stack_set.instances.get_instance(account_id, region)
    if instance is None:
        raise StackInstanceNotFound
    found: dict[str, Any] = PATCHES.original(_BACKEND, "describe_stack_instance")(
        self, stack_set_name, account_id, region
    )
    return found


PATCHES = MotoPatches(
    [
        (_BACKEND, "describe_stack_instance", _describe_stack_instance),
        (_INSTANCES, "create_instances", _create_instances),
        (_INSTANCE, "to_dict", _instance_to_dict),
        (_RESPONSE, "create_stack_instances", _response_create_stack_instances),
        (_RESPONSE, "update_stack_instances", _response_update_stack_instances),
        (_RESPONSE, "delete_stack_instances", _response_delete_stack_instances),
    ]
)


def service_managed_stacksets() -> AbstractContextManager[None]:
    """Install the gap fills for the block, unless already installed (then leave them be)."""
    return PATCHES.applied()


def _stack_set(account_id: str, region: str, stack_set_name: str) -> Any:
    return cloudformation_backends[account_id][region].describe_stack_set(stack_set_name)


def start_running_operation(account_id: str, region: str, stack_set_name: str) -> str:
    """Record a RUNNING operation (as another actor's deploy would leave); returns its id."""
    operation = _stack_set(account_id, region, stack_set_name)._create_operation(
        operation_id=str(mock_random.uuid4()), action="UPDATE", status="RUNNING"
    )
    return str(operation["OperationId"])


def finish_operation(account_id: str, region: str, stack_set_name: str, operation_id: str) -> None:
    stack_set = _stack_set(account_id, region, stack_set_name)
    stack_set.update_operation(operation_id, "SUCCEEDED")
    stack_set.get_operation(operation_id)["EndTimestamp"] = utcnow()
