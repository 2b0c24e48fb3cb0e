"""moto gaps of service-managed StackSet instances, filled at moto's own seams.

On top of `sandbox.moto_stacksets` (which resolves OU targets the way CloudFormation does), for
the deployer `sandbox.stackset_autodeploy`, which turns the recorded instances into stacks
(docs/architecture.md §6):
- moto gap: a service-managed stack instance's stack is built invisibly inside the
  CreateStackInstances call (not listed by DescribeStacks in the target account), with the
  StackSet's parameters *replaced* by the overrides, and instance summaries carry a random
  StackId. Here CreateStackInstances only records the instance (patched `__init__`); the
  deployer deploys it, and instance summaries then report that stack's id and its real status
  (OUTDATED/PENDING until deployed, CURRENT/SUCCEEDED after, OUTDATED/FAILED with the reason when
  the stack failed), from what the deployer marked on the instance.
- moto gap: moto stores neither AutoDeployment nor Capabilities of a StackSet; here they are kept
  from CreateStackSet/UpdateStackSet.
- moto gap: moto does not record a StackSet's target OUs. Here an OU named in a
  CreateStackInstances call becomes a target of its regions (with the accounts already under it,
  which are not arrivals for auto-deployment), and a DeleteStackInstances call for an OU without
  an account filter removes it from the targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Final

from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import responses as cloudformation_responses

from sandbox.moto_patching import MotoPatches

SERVICE_MANAGED: Final = "SERVICE_MANAGED"
_STACK_SET: Final = cloudformation_models.StackSet
_INSTANCE: Final = cloudformation_models.StackInstance
_RESPONSE: Final = cloudformation_responses.CloudFormationResponse


def parameter_map(parameters: Any) -> dict[str, str]:
    # moto stores StackSet parameters as a dict (CreateStackSet) or a list (UpdateStackSet), and
    # an instance's as the override list, or a copy of the StackSet's dict when none was given.
    if isinstance(parameters, Mapping):
        return {str(key): str(value) for key, value in parameters.items()}
    return {str(p["ParameterKey"]): str(p["ParameterValue"]) for p in parameters or []}


def subtree_accounts(organizations_backend: Any, ou_ids: set[str]) -> set[str]:
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


def target_ous(stack_set: Any) -> dict[str, set[str]]:
    """region -> target OU ids, kept on moto's StackSet (moto does not record them)."""
    if not hasattr(stack_set, "sandbox_target_ous"):
        stack_set.sandbox_target_ous = {}
        stack_set.sandbox_known_members = {}
    targets: dict[str, set[str]] = stack_set.sandbox_target_ous
    return targets


def known_members(stack_set: Any) -> dict[str, set[str]]:
    target_ous(stack_set)
    known: dict[str, set[str]] = stack_set.sandbox_known_members
    return known


def _stack_set_create_stack_instances(
    self: Any,
    accounts: list[str],
    regions: list[str],
    deployment_targets: dict[str, Any] | None,
    parameters: list[dict[str, Any]],
) -> str:
    operation_id: str = PATCHES.original(_STACK_SET, "create_stack_instances")(
        self, accounts, regions, deployment_targets, parameters
    )
    ou_ids = set((deployment_targets or {}).get("OrganizationalUnitIds") or [])
    if self.permission_model == SERVICE_MANAGED and ou_ids:
        # The OUs become targets (auto-deployment ignores the account filter); the accounts
        # already there are not arrivals.
        members = subtree_accounts(self.instances.org_backend, ou_ids)
        for region in regions:
            target_ous(self).setdefault(region, set()).update(ou_ids)
            known_members(self).setdefault(region, set()).update(members)
    return operation_id


def _response_delete_stack_instances(self: Any) -> Any:
    result = PATCHES.original(_RESPONSE, "delete_stack_instances")(self)
    targets = self._get_params().get("DeploymentTargets") or {}
    if targets.get("AccountFilterType", "NONE") == "NONE" and targets.get("OrganizationalUnitIds"):
        stack_set = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
        for region in self._get_param("Regions", []):
            target_ous(stack_set).get(region, set()).difference_update(
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
    result = PATCHES.original(_RESPONSE, "create_stack_set")(self)
    _record_stack_set_options(
        self, self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
    )
    return result


def _response_update_stack_set(self: Any) -> Any:
    result = PATCHES.original(_RESPONSE, "update_stack_set")(self)
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
        PATCHES.original(_INSTANCE, "__init__")(self, *args, **kwargs)
        return
    # moto gap: no hidden stack; StackSetAutoDeployer.sync() deploys a visible one.
    for name in names:
        setattr(self, name, values.get(name))
    self.parameters = values.get("parameters") or []
    self.stack = None


def _stack_instance_delete(self: Any) -> None:
    if self.permission_model == SERVICE_MANAGED and self.stack is None:
        return  # sync() deletes the deployed stack
    PATCHES.original(_INSTANCE, "delete")(self)


def _stack_instance_to_dict(self: Any) -> dict[str, Any]:
    result: dict[str, Any] = PATCHES.original(_INSTANCE, "to_dict")(self)
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


# Wraps the response methods `sandbox.moto_stacksets` installed first (delete_stack_instances).
PATCHES = MotoPatches(
    [
        (_STACK_SET, "create_stack_instances", _stack_set_create_stack_instances),
        (_RESPONSE, "delete_stack_instances", _response_delete_stack_instances),
        (_RESPONSE, "create_stack_set", _response_create_stack_set),
        (_RESPONSE, "update_stack_set", _response_update_stack_set),
        (_INSTANCE, "__init__", _stack_instance_init),
        (_INSTANCE, "delete", _stack_instance_delete),
        (_INSTANCE, "to_dict", _stack_instance_to_dict),
    ]
)


def service_managed_auto_deployment() -> AbstractContextManager[None]:
    """Install the patches for the block, unless already installed (then leave them be). Enter it
    inside `moto_stacksets.service_managed_stacksets()` (this wraps that module's patches, so it
    must be removed first)."""
    return PATCHES.applied()


# --- the deployer ----------------------------------------------------------------------------
