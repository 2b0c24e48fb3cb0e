"""The placement policy: which project and environment each account belongs to, from the OU
tags and the config. No AWS calls: the reconciler applies it to the whole tree
(`org_stack.reconciler`), the enrollment function and the one-account reconcile to one
account's path to the root (`account_path`).

Which project and environment an account belongs to
----------------------------------------------------
Two OU tags decide, with keys from the config (default `dsdash:project`, `dsdash:environment`):

1. Each key is resolved on its own, for every root and OU: its value is the one on the nearest
   node, walking from the OU itself up to the root, that carries that key. A root may be tagged
   too. So a child OU tagged only `dsdash:environment=dev` under an OU tagged
   `dsdash:project=fraud, dsdash:environment=prod` resolves to (fraud, dev), and so does its whole
   subtree unless a deeper OU overrides a key again.
2. An account belongs to the (project, environment) its parent OU resolves to.
3. An OU resolving to neither key targets nothing. Every other outcome must be a known project and
   one of that project's environments; otherwise it is a conflict, reported and never guessed:
   - `environment_without_project`: an environment but no project, own or inherited;
   - `project_without_environment`: an account under a project but no environment, own or
     inherited (a project OU holding only environment OUs is the normal layout, not a conflict);
   - `unknown_project`: the project is not in the config;
   - `unknown_environment`: the environment is not one of the project's environments.
4. Accounts listed in the config under `projects.<p>.accounts.<env>` also belong to (p, env).
   An account that would belong to two different pairs (tags and config disagree, or the config
   lists it twice) is a `multiple_assignments` conflict.
5. Accounts under a conflict are *frozen*: no instance is created, updated or deleted for them
   in any StackSet until the conflict is fixed, so a mistyped tag never tears down running spokes.
6. Skipped, whatever the tags say: the management account (service-managed StackSets never deploy
   there) and accounts that are not ACTIVE (suspended or closing: CloudFormation can neither
   deploy to them nor delete from them, see `org_tree`).

"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from enrollment.placement.org_tree import OrganizationTree
from enrollment.placement.targeting import TargetingSettings

ConflictKind = Literal[
    "environment_without_project",
    "project_without_environment",
    "unknown_project",
    "unknown_environment",
    "multiple_assignments",
    "explicit_account_not_in_organization",
    "explicit_account_is_management_account",
]


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    reason: str
    organizational_unit_id: str | None = None
    project: str | None = None
    environment: str | None = None
    account_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DesiredInstance:
    account_id: str
    project: str
    environment: str
    # The OU a create targets (see "How that becomes stack instances").
    target_organizational_unit_id: str
    assigned_by: Literal["ou-tags", "config"]


@dataclass(frozen=True)
class DesiredState:
    instances: Mapping[str, DesiredInstance]
    frozen_account_ids: frozenset[str]
    skipped_accounts: Mapping[str, str]
    conflicts: tuple[Conflict, ...]

    def for_project(self, project: str) -> dict[str, DesiredInstance]:
        return {a: d for a, d in self.instances.items() if d.project == project}


@dataclass(frozen=True)
class _Resolved:
    project: str | None
    project_source: str | None
    environment: str | None
    environment_source: str | None


def _resolve_tags(tree: OrganizationTree, settings: TargetingSettings) -> dict[str, _Resolved]:
    resolved: dict[str, _Resolved] = {}
    for node in tree.walk_all():  # parents come before their children
        inherited = (
            resolved[node.parent_id]
            if node.parent_id is not None
            else _Resolved(None, None, None, None)
        )
        project_tag = node.tags.get(settings.project_tag_key)
        environment_tag = node.tags.get(settings.environment_tag_key)
        resolved[node.id] = _Resolved(
            project=project_tag if project_tag is not None else inherited.project,
            project_source=node.id if project_tag is not None else inherited.project_source,
            environment=environment_tag if environment_tag is not None else inherited.environment,
            environment_source=(
                node.id if environment_tag is not None else inherited.environment_source
            ),
        )
    return resolved


def _classify(
    resolution: _Resolved, settings: TargetingSettings
) -> tuple[tuple[str, str] | None, tuple[ConflictKind, str, str | None] | None]:
    """(pair, None) if valid, (None, (kind, reason, source OU)) if conflicting, (None, None) if
    untagged."""
    project, environment = resolution.project, resolution.environment
    if project is None and environment is None:
        return None, None
    if project is None:
        return None, (
            "environment_without_project",
            f"environment {environment!r} (tag {settings.environment_tag_key!r} on "
            f"{resolution.environment_source}) has no project tag {settings.project_tag_key!r} "
            "on this OU or any ancestor",
            resolution.environment_source,
        )
    if project not in settings.projects:
        known = ", ".join(sorted(settings.projects)) or "none"
        return None, (
            "unknown_project",
            f"project {project!r} (tag {settings.project_tag_key!r} on "
            f"{resolution.project_source}) is not in the config; configured projects: {known}",
            resolution.project_source,
        )
    if environment is None:
        return None, (
            "project_without_environment",
            f"project {project!r} (on {resolution.project_source}) has no environment tag "
            f"{settings.environment_tag_key!r} on this OU or any ancestor",
            resolution.project_source,
        )
    environments = settings.projects[project].environments
    if environment not in environments:
        return None, (
            "unknown_environment",
            f"environment {environment!r} (on {resolution.environment_source}) is not one of "
            f"project {project!r}'s environments: {', '.join(environments)}",
            resolution.environment_source,
        )
    return (project, environment), None


def compute_desired_state(tree: OrganizationTree, settings: TargetingSettings) -> DesiredState:
    """Resolve every account's (project, environment) by the rules in the module docstring."""
    resolved = _resolve_tags(tree, settings)
    pairs: dict[str, tuple[str, str] | None] = {}
    assignment_root: dict[str, str] = {}
    conflicts: dict[tuple[str, str | None, str | None, str | None], dict[str, Any]] = {}
    frozen: set[str] = set()
    skipped: dict[str, str] = {}
    candidates: dict[str, list[tuple[str, str, str, Literal["ou-tags", "config"]]]] = defaultdict(
        list
    )

    def record_conflict(
        kind: ConflictKind,
        reason: str,
        *,
        ou_id: str | None,
        project: str | None,
        environment: str | None,
        account_ids: Iterable[str],
    ) -> None:
        entry = conflicts.setdefault(
            (kind, ou_id, project, environment),
            {
                "kind": kind,
                "reason": reason,
                "ou": ou_id,
                "project": project,
                "environment": environment,
                "accounts": set(),
            },
        )
        entry["accounts"].update(account_ids)

    for node in tree.walk_all():
        pair, conflict = _classify(resolved[node.id], settings)
        pairs[node.id] = pair
        parent = node.parent_id
        assignment_root[node.id] = (
            assignment_root[parent]
            if parent is not None and pair is not None and pairs.get(parent) == pair
            else node.id
        )
        live_accounts = []
        for account_id in node.account_ids:
            account = tree.accounts[account_id]
            if account_id == settings.management_account_id:
                skipped[account_id] = (
                    "management account: service-managed StackSets never deploy to it"
                )
            elif not account.is_active:
                skipped[account_id] = (
                    f"account state {account.state}: CloudFormation cannot deploy to or delete "
                    "from it"
                )
            else:
                live_accounts.append(account_id)
        if (
            conflict is not None
            and conflict[0] == "project_without_environment"
            and not (live_accounts)
        ):
            # The recommended layout: a project OU whose only children are environment OUs.
            # Without accounts of its own, nothing lacks an environment.
            pass
        elif conflict is not None:
            kind, reason, source = conflict
            record_conflict(
                kind,
                reason,
                ou_id=source,
                project=resolved[node.id].project,
                environment=resolved[node.id].environment,
                account_ids=live_accounts,
            )
            frozen.update(live_accounts)
        elif pair is not None:
            for account_id in live_accounts:
                candidates[account_id].append(
                    (pair[0], pair[1], assignment_root[node.id], "ou-tags")
                )

    for targeting in settings.projects.values():
        for environment, account_ids in targeting.accounts.items():
            for account_id in account_ids:
                listed_account = tree.accounts.get(account_id)
                if account_id == settings.management_account_id:
                    record_conflict(
                        "explicit_account_is_management_account",
                        f"config lists the management account {account_id} under project "
                        f"{targeting.name!r}; service-managed StackSets never deploy to it",
                        ou_id=None,
                        project=targeting.name,
                        environment=environment,
                        account_ids=[account_id],
                    )
                elif listed_account is None:
                    record_conflict(
                        "explicit_account_not_in_organization",
                        f"config lists account {account_id} under project {targeting.name!r} "
                        f"environment {environment!r}, but it is not in the organization",
                        ou_id=None,
                        project=targeting.name,
                        environment=environment,
                        account_ids=[account_id],
                    )
                elif environment not in targeting.environments:
                    record_conflict(
                        "unknown_environment",
                        f"config lists account {account_id} under environment {environment!r}, "
                        f"not one of project {targeting.name!r}'s environments",
                        ou_id=None,
                        project=targeting.name,
                        environment=environment,
                        account_ids=[account_id],
                    )
                    frozen.add(account_id)
                elif listed_account.is_active:
                    candidates[account_id].append(
                        (targeting.name, environment, listed_account.parent_id, "config")
                    )

    instances: dict[str, DesiredInstance] = {}
    for account_id, options in candidates.items():
        if account_id in frozen:
            continue
        distinct = sorted({(p, e) for p, e, _, _ in options})
        if len(distinct) > 1:
            described = "; ".join(
                f"{p}/{e} via {'OU tags on ' + ou if how == 'ou-tags' else 'config'}"
                for p, e, ou, how in options
            )
            record_conflict(
                "multiple_assignments",
                f"account {account_id} would belong to {len(distinct)} project/environment pairs: "
                f"{described}",
                ou_id=None,
                project=None,
                environment=None,
                account_ids=[account_id],
            )
            frozen.add(account_id)
            continue
        # Prefer the OU-tag assignment root: it keeps the account inside its tagged OU's target.
        project, environment, target_ou, how = sorted(options, key=lambda o: o[3] != "ou-tags")[0]
        instances[account_id] = DesiredInstance(account_id, project, environment, target_ou, how)

    return DesiredState(
        instances=MappingProxyType(instances),
        frozen_account_ids=frozenset(frozen),
        skipped_accounts=MappingProxyType(skipped),
        conflicts=tuple(
            Conflict(
                kind=entry["kind"],
                reason=entry["reason"],
                organizational_unit_id=entry["ou"],
                project=entry["project"],
                environment=entry["environment"],
                account_ids=tuple(sorted(entry["accounts"])),
            )
            for entry in conflicts.values()
        ),
    )
