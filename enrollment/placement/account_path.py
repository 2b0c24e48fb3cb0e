"""One account's place in the organization, read without walking the whole tree.

The reconciler's full pass reads the whole tree (`org_tree.read_organization_tree`): its cost
grows with the organization. An event about one account (MoveAccount, CreateAccountResult, a
stack instance without its Environment override) only needs that account's ancestors: its
project and environment resolve from the nearest tags on the path from its parent OU up to the
root, and its assignment root is on that path too (`enrollment.placement.policy`, "Which
project and environment an account belongs to"). So this module reads the path only and builds
an `OrganizationTree` of it, on which `compute_desired_state` gives the same answer for the
account as on the whole tree.

Calls: DescribeAccount (optional), then ListParents and ListTagsForResource per level up to the
root (Organizations allows five OU levels): at most 13, whatever the size of the organization.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from enrollment.placement.org_tree import (
    OrganizationAccount,
    OrganizationNode,
    OrganizationReadError,
    OrganizationTree,
    paginate,
    tags_of,
)
from enrollment.placement.policy import DesiredState, compute_desired_state
from enrollment.placement.targeting import TargetingSettings

# Organizations: a root plus at most five levels of OUs.
MAX_PATH_LENGTH = 6


def _parent_of(organizations: Any, child_id: str) -> dict[str, Any]:
    parents = list(paginate(organizations, "list_parents", "Parents", ChildId=child_id))
    if len(parents) != 1:
        raise OrganizationReadError(f"{child_id} has {len(parents)} parents, expected one")
    parent: dict[str, Any] = parents[0]
    return parent


def read_account_path(
    organizations: Any, account_id: str, *, read_state: bool = True
) -> OrganizationTree:
    """The account, its parent OU and every ancestor up to the root, with their tags.

    Without `read_state` the account is taken as ACTIVE (no DescribeAccount): for callers that
    only record or read an assignment and never deploy (enrollment); the reconciler reads it."""
    account = (
        organizations.describe_account(AccountId=account_id)["Account"]
        if read_state
        else {"Id": account_id, "State": "ACTIVE"}
    )
    path: list[tuple[str, dict[str, str]]] = []  # from the parent up to the root
    parent = _parent_of(organizations, account_id)
    while True:
        path.append((parent["Id"], tags_of(organizations, parent["Id"])))
        if parent.get("Type") == "ROOT":
            break
        if len(path) >= MAX_PATH_LENGTH:
            raise OrganizationReadError(f"no root above {account_id} after {len(path)} levels")
        parent = _parent_of(organizations, parent["Id"])

    top_down = list(reversed(path))
    nodes: dict[str, OrganizationNode] = {}
    for depth, (node_id, tags) in enumerate(top_down):
        is_parent = depth == len(top_down) - 1
        nodes[node_id] = OrganizationNode(
            id=node_id,
            name=node_id,
            parent_id=top_down[depth - 1][0] if depth else None,
            depth=depth,
            tags=MappingProxyType(tags),
            child_ids=() if is_parent else (top_down[depth + 1][0],),
            account_ids=(account_id,) if is_parent else (),
        )
    return OrganizationTree(
        nodes=MappingProxyType(nodes),
        root_ids=(top_down[0][0],),
        accounts=MappingProxyType(
            {
                account_id: OrganizationAccount(
                    id=account_id,
                    name=account.get("Name", ""),
                    state=account.get("State") or account.get("Status") or "UNKNOWN",
                    parent_id=path[0][0],
                )
            }
        ),
    )


def desired_state_of_account(
    organizations: Any, account_id: str, settings: TargetingSettings, *, read_state: bool = True
) -> DesiredState:
    """The reconciler's desired state restricted to one account: read `instances`,
    `frozen_account_ids` and `skipped_accounts` for `account_id` only (the path holds no other
    account, so config-listed accounts elsewhere show up as conflicts here)."""
    return compute_desired_state(
        read_account_path(organizations, account_id, read_state=read_state), settings
    )
