"""A CloudFormation StackSets delegated administrator in moto (docs/architecture.md §7).

`dsdash demo --stackset-admin delegated` runs the org stack in a member account registered as
the StackSets delegated administrator. moto 5.2.5 has the registration calls but none of what
they grant, so this module fills these gaps, each from moto's own state:

- moto gap: `RegisterDelegatedAdministrator` refuses the StackSets service principal
  `member.org.stacksets.cloudformation.amazonaws.com` ("unrecognized service principal"), which
  AWS documents for exactly this
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html).
  Here it is accepted.
- moto gap: a member account's Organizations backend holds no organization data. moto forwards
  only DescribeOrganization and ListRoots (for any member) to the management account's backend,
  so ListOrganizationalUnitsForParent, ListAccountsForParent and ListTagsForResource fail in a
  delegated administrator. AWS gives a registered delegated administrator read-only access to
  them (https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListTagsForResource.html:
  "called only from the organization's management account or by a member account that is a
  delegated administrator"), and refuses other members. Here the read calls in
  `ORGANIZATIONS_READS` are answered from the management account's backend for a registered
  delegated administrator, and refused with AccessDeniedException for any other member. Write
  calls are not forwarded: they stay management-only, as in AWS.
- moto gap: StackSet calls ignore `CallAs`. Here, as CloudFormation does, `CallAs:
  DELEGATED_ADMIN` is refused unless the caller is registered for StackSets, and a member account
  sees its service-managed StackSets only with `CallAs: DELEGATED_ADMIN` (with SELF, the default,
  they are not found, and creating one is refused), so a forgotten CallAs fails in the sandbox as
  it would in AWS.
- moto gap: a StackSet's OU targets resolve against its owner account's Organizations backend,
  which for a member account is empty. Here a delegated administrator's StackSets resolve against
  the organization's (management account's) backend.

`stacksets_delegated_administrator()` patches moto for a block (`PATCHES`,
`sandbox.moto_patching`). Enter it after `sandbox.moto_stacksets` and
`sandbox.moto_stackset_instances`, whose response patches it wraps.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Final

from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import responses as cloudformation_responses
from moto.cloudformation.exceptions import StackSetNotFoundException, ValidationError
from moto.organizations import models as organizations_models
from moto.organizations.exceptions import OrganizationsClientError
from moto.organizations.models import OrganizationsBackend, organizations_backends

from sandbox.moto_patching import MotoPatches

STACKSETS_SERVICE_PRINCIPAL: Final = "member.org.stacksets.cloudformation.amazonaws.com"
SERVICE_MANAGED: Final = "SERVICE_MANAGED"
# Organizations read calls a delegated administrator may make (the org walk uses the first four).
ORGANIZATIONS_READS: Final = (
    "list_roots",
    "list_organizational_units_for_parent",
    "list_accounts_for_parent",
    "list_tags_for_resource",
    "describe_account",
    "describe_organizational_unit",
    "list_accounts",
    "list_parents",
    "list_children",
)
# CloudFormation StackSet actions (response methods) that take CallAs.
STACKSET_ACTIONS: Final = (
    "create_stack_set",
    "update_stack_set",
    "delete_stack_set",
    "describe_stack_set",
    "create_stack_instances",
    "update_stack_instances",
    "delete_stack_instances",
    "describe_stack_instance",
    "list_stack_instances",
    "list_stack_set_operations",
    "describe_stack_set_operation",
    "list_stack_set_operation_results",
)


class AccessDeniedError(OrganizationsClientError):
    def __init__(self, account_id: str, operation: str) -> None:
        super().__init__(
            "AccessDeniedException",
            f"Account {account_id} is neither the management account nor a delegated "
            f"administrator: {operation} is not allowed",
        )


def management_backend_of(account_id: str) -> OrganizationsBackend | None:
    """The Organizations backend of the management account of `account_id`'s organization."""
    placement = organizations_backends.master_accounts.get(account_id)
    if placement is None:
        return None
    master_id, partition = placement
    backend: OrganizationsBackend = organizations_backends[master_id][partition]
    return backend if backend.org is not None else None


def delegated_services(account_id: str) -> frozenset[str]:
    """The service principals `account_id` is a registered delegated administrator for."""
    management = management_backend_of(account_id)
    if management is None:
        return frozenset()
    for admin in management.admins:
        if admin.account.id == account_id:
            return frozenset(admin.services)
    return frozenset()


def is_stacksets_delegated_admin(account_id: str) -> bool:
    return STACKSETS_SERVICE_PRINCIPAL in delegated_services(account_id)


# --- Organizations ----------------------------------------------------------------------------


def _forwarded_read(name: str) -> Callable[..., Any]:
    def read(self: OrganizationsBackend, *args: Any, **kwargs: Any) -> Any:
        original = PATCHES.original(OrganizationsBackend, name)
        if self.org is not None:
            return original(self, *args, **kwargs)
        management = management_backend_of(self.account_id)
        if management is None:
            return original(self, *args, **kwargs)  # outside any organization: moto's answer
        if not delegated_services(self.account_id):
            raise AccessDeniedError(self.account_id, name)
        return original(management, *args, **kwargs)

    return read


# --- CloudFormation StackSets -----------------------------------------------------------------


def check_call_as(account_id: str, call_as: str, permission_model: str | None, name: str) -> None:
    """Refuse a StackSet call CloudFormation would refuse for this caller and CallAs."""
    if call_as == "DELEGATED_ADMIN":
        if not is_stacksets_delegated_admin(account_id):
            raise ValidationError(
                message=f"Account {account_id} is not registered as a delegated administrator "
                f"for {STACKSETS_SERVICE_PRINCIPAL}; CallAs DELEGATED_ADMIN is not allowed"
            )
        return
    management = management_backend_of(account_id)
    is_member = management is not None and management.account_id != account_id
    if is_member and permission_model == SERVICE_MANAGED:
        # A delegated administrator's service-managed StackSets exist only for DELEGATED_ADMIN.
        raise StackSetNotFoundException(name)


def check_create_call_as(account_id: str, call_as: str, permission_model: str | None) -> None:
    """Refuse creating a StackSet CloudFormation would refuse for this caller and CallAs."""
    if call_as == "DELEGATED_ADMIN":
        check_call_as(account_id, call_as, permission_model, "")
        return
    management = management_backend_of(account_id)
    is_member = management is not None and management.account_id != account_id
    if is_member and permission_model == SERVICE_MANAGED:
        raise ValidationError(
            message=f"account {account_id} is a member account: it creates service-managed "
            "StackSets only as a registered delegated administrator, with CallAs DELEGATED_ADMIN"
        )


def _stack_set_permission_model(response: Any, name: str) -> str | None:
    backend = response.cloudformation_backend
    for stack_set in backend.stacksets.values():
        if name in (stack_set.name, stack_set.id) and stack_set.status != "DELETED":
            return str(stack_set.permission_model)
    return None


def _checked_action(action: str) -> Callable[..., Any]:
    def checked(self: Any) -> Any:
        call_as = self._get_param("CallAs") or "SELF"
        name = str(self._get_param("StackSetName") or "")
        if action == "create_stack_set":
            check_create_call_as(self.current_account, call_as, self._get_param("PermissionModel"))
        else:
            permission_model = _stack_set_permission_model(self, name)
            check_call_as(self.current_account, call_as, permission_model, name)
        return PATCHES.original(cloudformation_responses.CloudFormationResponse, action)(self)

    return checked


def _org_backend(self: Any) -> OrganizationsBackend:
    """A delegated administrator's StackSets target the organization of its management account."""
    own: OrganizationsBackend = organizations_backends[self.account_id][self.partition]
    if own.org is None and is_stacksets_delegated_admin(self.account_id):
        management = management_backend_of(self.account_id)
        if management is not None:
            return management
    return own


# --- install ----------------------------------------------------------------------------------


def _accepting_stacksets_principal(services: list[str]) -> list[str]:
    # A new list in place of moto's (which moto reads through the class on every registration),
    # so moto's own list is never mutated and uninstall puts it back untouched.
    return (
        services
        if STACKSETS_SERVICE_PRINCIPAL in services
        else [*services, STACKSETS_SERVICE_PRINCIPAL]
    )


# The CloudFormation response methods wrapped here are those `sandbox.moto_stacksets` and
# `sandbox.moto_stackset_instances` installed first: `original()` is what they left.
PATCHES = MotoPatches(
    [
        (
            organizations_models.FakeDelegatedAdministrator,
            "SUPPORTED_SERVICES",
            _accepting_stacksets_principal(
                organizations_models.FakeDelegatedAdministrator.SUPPORTED_SERVICES
            ),
        ),
        *((OrganizationsBackend, name, _forwarded_read(name)) for name in ORGANIZATIONS_READS),
        *(
            (cloudformation_responses.CloudFormationResponse, action, _checked_action(action))
            for action in STACKSET_ACTIONS
        ),
        (cloudformation_models.StackInstances, "org_backend", property(_org_backend)),
    ]
)


def stacksets_delegated_administrator() -> AbstractContextManager[None]:
    """Install the gap fills for the block, unless already installed (then leave them be)."""
    return PATCHES.applied()
