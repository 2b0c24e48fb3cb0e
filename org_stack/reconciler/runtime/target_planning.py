"""How the desired state becomes stack instance changes, for one project's StackSet in the
full pass (`full_reconcile`). No AWS calls: the plans are computed from the tree, the desired
state and the instances `stackset_operations` read.

How that becomes stack instances
--------------------------------
Service-managed StackSets target OUs, and a target OU covers its whole subtree. The reconciler
therefore diffs at the level CloudFormation stores: one stack instance per (account, region),
recorded with the OU it was deployed through and its `Environment` parameter override. It then
expresses each change as an OU target narrowed by an account filter
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/account-level-targets.html):

- create: the OU is the *assignment root* of the account, the highest OU above it whose whole path
  down to the account resolves to the same pair (for a config-listed account, its parent OU).
  If every account in that OU's subtree is wanted, the filter is NONE. Otherwise the filter is
  DIFFERENCE (the OU minus the accounts that must not get this instance: differently tagged
  descendants, conflicts, inactive accounts, accounts that already have one) or INTERSECTION
  (exactly the missing accounts), whichever lists fewer accounts. Either way each account gets
  exactly one instance with exactly one environment, even though the parent OU's subtree also
  contains a differently tagged child OU.
- update (wrong or missing environment override): the assignment root with INTERSECTION.
- delete: an OU whose every instance goes is deleted with filter NONE, which also removes the OU
  from the StackSet's targets (so auto-deployment stops there); other deletions use the account's
  current parent OU with INTERSECTION. RetainStacks is false.

Two AWS behaviours keep this honest, and both are why the reconciler also runs on account events
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html):
automatic deployments ignore account filters, so a new account in a differently tagged child OU
may briefly get its parent's instance (deleted or corrected by the next run); and an
auto-deployed instance uses the StackSet's default parameter values, not the override, so the next
run finds its `Environment` override missing and sets it.

Batching: at most 50 OUs per CreateStackInstances/DeleteStackInstances call (API reference); OUs
with the same environment, regions and filter type share a call, never an OU with its own
ancestor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Final

from enrollment.placement.org_tree import OrganizationTree
from enrollment.placement.policy import DesiredInstance, DesiredState
from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import TargetingSettings
from org_stack.reconciler.runtime.stackset_operations import (
    ChangeAction,
    CurrentInstance,
    FilterType,
    ReconcileReport,
    TargetChange,
)

# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html
MAX_ORGANIZATIONAL_UNITS_PER_CALL: Final = 50


def _batches(tree: OrganizationTree, ou_ids: Iterable[str]) -> list[list[str]]:
    """Split OUs into calls of at most 50, never putting an OU beside its own ancestor."""
    batches: list[list[str]] = []
    for ou_id in sorted(ou_ids, key=lambda o: (tree.node(o).depth, o)):
        for batch in batches:
            if len(batch) < MAX_ORGANIZATIONAL_UNITS_PER_CALL and not any(
                tree.is_ancestor(other, ou_id) or tree.is_ancestor(ou_id, other) for other in batch
            ):
                batch.append(ou_id)
                break
        else:
            batches.append([ou_id])
    return batches


def plan_creates(
    project: str,
    tree: OrganizationTree,
    settings: TargetingSettings,
    desired: Mapping[str, DesiredInstance],
    current: Mapping[tuple[str, str], CurrentInstance],
) -> list[tuple[TargetChange, str]]:
    missing: dict[tuple[str, str, tuple[str, ...]], set[str]] = defaultdict(set)
    for account_id, instance in desired.items():
        regions = tuple(r for r in settings.regions if (account_id, r) not in current)
        if regions:
            missing[(instance.target_organizational_unit_id, instance.environment, regions)].add(
                account_id
            )
    # (environment, regions, filter) -> OU -> (accounts listed in the filter, accounts reached)
    by_call: dict[
        tuple[str, tuple[str, ...], FilterType], dict[str, tuple[tuple[str, ...], set[str]]]
    ] = defaultdict(dict)
    for (ou_id, environment, regions), account_ids in missing.items():
        subtree = set(tree.accounts_under(ou_id)) - {settings.management_account_id}
        excluded = subtree - account_ids
        filter_type: FilterType
        listed: tuple[str, ...]
        if not excluded:
            filter_type, listed = "NONE", ()
        elif len(account_ids) <= len(excluded):
            filter_type, listed = "INTERSECTION", tuple(sorted(account_ids))
        else:
            filter_type, listed = "DIFFERENCE", tuple(sorted(excluded))
        by_call[(environment, regions, filter_type)][ou_id] = (listed, account_ids)
    planned = []
    for (environment, regions, filter_type), by_ou in sorted(by_call.items()):
        for batch in _batches(tree, by_ou):
            planned.append(
                (
                    TargetChange(
                        project=project,
                        stack_set_name=stackset_name(project),
                        action="create",
                        environment=environment,
                        regions=regions,
                        organizational_unit_ids=tuple(batch),
                        account_filter_type=filter_type,
                        filter_account_ids=tuple(sorted({a for ou in batch for a in by_ou[ou][0]})),
                        account_ids=tuple(sorted({a for ou in batch for a in by_ou[ou][1]})),
                    ),
                    environment,
                )
            )
    return planned


def _intersection_changes(
    project: str,
    action: ChangeAction,
    environment: str | None,
    regions: tuple[str, ...],
    ou_by_account: Mapping[str, str],
) -> list[TargetChange]:
    accounts_by_ou: dict[str, list[str]] = defaultdict(list)
    for account_id, ou_id in ou_by_account.items():
        accounts_by_ou[ou_id].append(account_id)
    ou_ids = sorted(accounts_by_ou)
    changes = []
    # INTERSECTION lists every account explicitly, so nested OUs may share a call.
    for start in range(0, len(ou_ids), MAX_ORGANIZATIONAL_UNITS_PER_CALL):
        batch = ou_ids[start : start + MAX_ORGANIZATIONAL_UNITS_PER_CALL]
        accounts = tuple(sorted(a for ou in batch for a in accounts_by_ou[ou]))
        changes.append(
            TargetChange(
                project=project,
                stack_set_name=stackset_name(project),
                action=action,
                environment=environment,
                regions=regions,
                organizational_unit_ids=tuple(batch),
                account_filter_type="INTERSECTION",
                filter_account_ids=accounts,
                account_ids=accounts,
            )
        )
    return changes


def plan_updates(
    project: str,
    settings: TargetingSettings,
    desired: Mapping[str, DesiredInstance],
    current: Mapping[tuple[str, str], CurrentInstance],
) -> list[tuple[TargetChange, str]]:
    stale: dict[tuple[str, tuple[str, ...]], dict[str, str]] = defaultdict(dict)
    for account_id, instance in desired.items():
        regions = tuple(
            r
            for r in settings.regions
            if (account_id, r) in current
            and current[(account_id, r)].environment != instance.environment
        )
        if regions:
            stale[(instance.environment, regions)][account_id] = (
                instance.target_organizational_unit_id
            )
    return [
        (change, environment)
        for (environment, regions), ou_by_account in sorted(stale.items())
        for change in _intersection_changes(project, "update", environment, regions, ou_by_account)
    ]


def plan_deletes(
    project: str,
    tree: OrganizationTree,
    settings: TargetingSettings,
    *,
    state: DesiredState,
    desired: Mapping[str, DesiredInstance],
    current: Mapping[tuple[str, str], CurrentInstance],
    report: ReconcileReport,
) -> list[tuple[TargetChange, str | None]]:
    doomed_regions: dict[str, set[str]] = defaultdict(set)
    for account_id, region in current:
        if account_id in state.frozen_account_ids or account_id in state.skipped_accounts:
            continue
        if account_id not in tree.accounts:
            report.skipped_accounts.setdefault(
                account_id,
                "has stack instances but is no longer in the organization; StackSets "
                "auto-deployment handles accounts that leave",
            )
            continue
        if account_id not in desired or region not in settings.regions:
            doomed_regions[account_id].add(region)
    if not doomed_regions:
        return []

    # Whole OUs first: filter NONE also drops the OU from the StackSet's targets. An OU
    # qualifies when every instance in its current subtree goes, in the same regions.
    recorded_ous = sorted(
        {
            instance.organizational_unit_id
            for instance in current.values()
            if instance.account_id in doomed_regions
            and instance.organizational_unit_id is not None
            and instance.organizational_unit_id in tree.nodes
        },
        key=lambda ou: (tree.node(ou).depth, ou),
    )
    whole_ous_by_regions: dict[tuple[str, ...], list[str]] = defaultdict(list)
    accounts_by_whole_ou: dict[str, set[str]] = {}
    for ou_id in recorded_ous:
        if any(tree.is_ancestor(chosen, ou_id) for chosen in accounts_by_whole_ou):
            continue
        under = set(tree.accounts_under(ou_id))
        instances_under = [c for c in current.values() if c.account_id in under]
        region_sets = {frozenset(doomed_regions.get(c.account_id, ())) for c in instances_under}
        if (
            instances_under
            and all(c.region in doomed_regions.get(c.account_id, ()) for c in instances_under)
            and len(region_sets) == 1
            and not any(account_id in desired for account_id in under)
        ):
            accounts_by_whole_ou[ou_id] = {c.account_id for c in instances_under}
            whole_ous_by_regions[tuple(sorted(next(iter(region_sets))))].append(ou_id)

    changes: list[tuple[TargetChange, str | None]] = []
    for regions, ou_ids in sorted(whole_ous_by_regions.items()):
        for batch in _batches(tree, ou_ids):
            changes.append(
                (
                    TargetChange(
                        project=project,
                        stack_set_name=stackset_name(project),
                        action="delete",
                        environment=None,
                        regions=regions,
                        organizational_unit_ids=tuple(batch),
                        account_filter_type="NONE",
                        filter_account_ids=(),
                        account_ids=tuple(
                            sorted(set().union(*(accounts_by_whole_ou[ou] for ou in batch)))
                        ),
                    ),
                    None,
                )
            )
    covered = set().union(*accounts_by_whole_ou.values())
    remaining: dict[tuple[str, ...], dict[str, str]] = defaultdict(dict)
    for account_id, account_regions in doomed_regions.items():
        if account_id not in covered:
            remaining[tuple(sorted(account_regions))][account_id] = tree.accounts[
                account_id
            ].parent_id
    for regions, ou_by_account in sorted(remaining.items()):
        changes.extend(
            (change, None)
            for change in _intersection_changes(project, "delete", None, regions, ou_by_account)
        )
    return changes
