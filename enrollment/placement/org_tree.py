"""Read the AWS Organizations tree (roots, OUs at any depth, accounts, tags) in one pass.

The reconciler needs the whole tree at once: which OU holds which account, every OU's tags, and
which accounts can actually receive a stack instance. Every list call is paginated to the end,
including past empty pages: Organizations may return an empty page together with a NextToken
(https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListOrganizationalUnitsForParent.html,
"NextToken ... you should check NextToken after every operation to ensure that you receive all of
the results"). botocore's paginators follow NextToken whatever the page holds.

The walk is breadth-first and iterative, so depth is bounded only by Organizations itself (five
levels of OUs below the root).

Accounts whose state is not ACTIVE (SUSPENDED, PENDING_CLOSURE, CLOSED; Organizations keeps a
closed account for up to 90 days) are kept apart as `inactive_accounts`: CloudFormation cannot
deploy into them, and deleting a stack instance there fails too, so the reconciler must leave them
out of every operation rather than treat them as "not wanted" (the DeploymentTargets docs suggest
excluding suspended accounts for exactly this reason).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

ACTIVE_ACCOUNT_STATE = "ACTIVE"


class OrganizationReadError(RuntimeError):
    """The organization tree could not be read consistently."""


@dataclass(frozen=True)
class OrganizationAccount:
    id: str
    name: str
    # Organizations' `State` (ACTIVE, SUSPENDED, PENDING_ACTIVATION, PENDING_CLOSURE, CLOSED),
    # falling back to the older `Status` field where `State` is absent.
    state: str
    parent_id: str

    @property
    def is_active(self) -> bool:
        return self.state == ACTIVE_ACCOUNT_STATE


@dataclass(frozen=True)
class OrganizationNode:
    """A root or an OU: the containers StackSets can target."""

    id: str
    name: str
    parent_id: str | None
    depth: int
    tags: Mapping[str, str]
    child_ids: tuple[str, ...]
    account_ids: tuple[str, ...]

    @property
    def is_root(self) -> bool:
        return self.parent_id is None


@dataclass(frozen=True)
class OrganizationTree:
    nodes: Mapping[str, OrganizationNode]
    root_ids: tuple[str, ...]
    accounts: Mapping[str, OrganizationAccount] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def node(self, node_id: str) -> OrganizationNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(
                f"{node_id!r} is neither a root nor an OU of this organization"
            ) from None

    def walk(self, node_id: str) -> Iterator[OrganizationNode]:
        """The node and all its descendants, parents before children."""
        pending = deque([node_id])
        while pending:
            node = self.node(pending.popleft())
            yield node
            pending.extend(node.child_ids)

    def walk_all(self) -> Iterator[OrganizationNode]:
        for root_id in self.root_ids:
            yield from self.walk(root_id)

    def accounts_under(self, node_id: str) -> tuple[str, ...]:
        """Every account in the node's subtree, active or not."""
        return tuple(account for node in self.walk(node_id) for account in node.account_ids)

    def path_to(self, node_id: str) -> tuple[str, ...]:
        """Node ids from the root down to and including `node_id`."""
        path: list[str] = []
        current: str | None = node_id
        while current is not None:
            path.append(current)
            current = self.node(current).parent_id
        return tuple(reversed(path))

    def is_ancestor(self, ancestor_id: str, node_id: str) -> bool:
        """True when `ancestor_id` is a strict ancestor of `node_id`."""
        return ancestor_id != node_id and ancestor_id in self.path_to(node_id)

    @property
    def inactive_accounts(self) -> Mapping[str, OrganizationAccount]:
        return MappingProxyType(
            {key: account for key, account in self.accounts.items() if not account.is_active}
        )


def paginate(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item of every page: AWS may return empty pages while more remain."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(result_key, [])


def tags_of(client: Any, resource_id: str) -> dict[str, str]:
    return {
        tag["Key"]: tag["Value"]
        for tag in paginate(client, "list_tags_for_resource", "Tags", ResourceId=resource_id)
    }


def read_organization_tree(organizations_client: Any) -> OrganizationTree:
    """Read roots, OUs (recursively), their tags and their accounts.

    Calls per run: one ListRoots, and per root or OU one ListOrganizationalUnitsForParent, one
    ListAccountsForParent and one ListTagsForResource (each paginated).
    """
    client = organizations_client
    pending: deque[tuple[str, str, str | None, int]] = deque(
        (root["Id"], root.get("Name", "Root"), None, 0)
        for root in paginate(client, "list_roots", "Roots")
    )
    root_ids = tuple(node_id for node_id, _, _, _ in pending)
    if not root_ids:
        raise OrganizationReadError("ListRoots returned no root: is this an organization account?")

    nodes: dict[str, OrganizationNode] = {}
    accounts: dict[str, OrganizationAccount] = {}
    while pending:
        node_id, name, parent_id, depth = pending.popleft()
        if node_id in nodes:
            raise OrganizationReadError(f"OU {node_id} was listed twice while walking the tree")
        children = list(
            paginate(
                client,
                "list_organizational_units_for_parent",
                "OrganizationalUnits",
                ParentId=node_id,
            )
        )
        account_ids: list[str] = []
        for account in paginate(client, "list_accounts_for_parent", "Accounts", ParentId=node_id):
            account_ids.append(account["Id"])
            accounts[account["Id"]] = OrganizationAccount(
                id=account["Id"],
                name=account.get("Name", ""),
                state=account.get("State") or account.get("Status") or "UNKNOWN",
                parent_id=node_id,
            )
        nodes[node_id] = OrganizationNode(
            id=node_id,
            name=name,
            parent_id=parent_id,
            depth=depth,
            tags=MappingProxyType(tags_of(client, node_id)),
            child_ids=tuple(child["Id"] for child in children),
            account_ids=tuple(account_ids),
        )
        pending.extend(
            (child["Id"], child.get("Name", ""), node_id, depth + 1) for child in children
        )

    return OrganizationTree(
        nodes=MappingProxyType(nodes), root_ids=root_ids, accounts=MappingProxyType(accounts)
    )
