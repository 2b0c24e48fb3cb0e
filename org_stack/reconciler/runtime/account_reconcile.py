"""Reconcile one account's stack instances, without walking the organization.

The full pass (`full_reconcile.reconcile`) reads the whole tree and describes every instance: right
for the hourly backstop and for OU tag changes, which can move many accounts at once. An event
about one account (MoveAccount, CreateAccountResult, the enrollment function's reconcile request
for an account) only needs that account: its desired state comes from its path to the root
(`enrollment.placement.account_path`), its instances from one ListStackInstances per StackSet narrowed to it.
Rolling out 200 accounts then costs 200 times a constant, not 200 full passes.

For the account:
- wanted by project P, with an instance missing in some region: created through its assignment
  root with an INTERSECTION filter naming only this account, with its `Environment` override
  (so even where auto-deployment also deploys it, the extractor reports the right environment
  from its first run). One StackSet operation per account: a rollout of many accounts queues
  that many operations, where the full pass batched them; the calls stay O(1) per account;
- wanted by P with an instance whose `Environment` override is wrong: updated, narrowed to it;
- an instance in a StackSet that does not want it: deleted, narrowed to it, through its parent;
- frozen (conflicting tags) or skipped (management account, not ACTIVE): nothing is written, as
  in the full pass.

Which StackSets are read: an account the tags place in project P has its instances read in P's
StackSet only, plus the StackSets of the projects the trigger names as previous ones (the
enrollment function names the registry's project of a known spoke re-assigned elsewhere). An
account placed in no project has every StackSet read, its instances being all stale. So a new
account costs one ListStackInstances however many projects the config has; an instance left in
another project's StackSet without a registry record (an enrollment whose events were all lost)
is deleted by the hourly full pass, and AWS's auto-deployment removes an instance whose account
left the target OU (RetainStacksOnAccountRemoval is false).

Calls without writes: the path (at most 13), one ListStackInstances per StackSet read, and one
DescribeStackInstance per existing instance of the wanted project.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from enrollment.placement.account_path import read_account_path
from enrollment.placement.policy import DesiredInstance, compute_desired_state
from enrollment.placement.stackset_names import ENVIRONMENT_PARAMETER, stackset_name
from enrollment.placement.targeting import TargetingSettings
from org_stack.reconciler.runtime.stackset_operations import (
    ReconcileReport,
    StackSetOperator,
    TargetChange,
    WaitBudget,
    recording_stackset_failures,
)


def _instances_of(
    cloudformation: Any, stack_set: str, account_id: str, call_as: str
) -> dict[str, dict[str, Any]]:
    """region -> instance summary of `account_id`. moto gap: moto ignores the
    StackInstanceAccount filter, so the summaries are filtered here too."""
    found: dict[str, dict[str, Any]] = {}
    paginator = cloudformation.get_paginator("list_stack_instances")
    for page in paginator.paginate(
        StackSetName=stack_set, StackInstanceAccount=account_id, CallAs=call_as
    ):
        for summary in page.get("Summaries", []):
            if summary.get("Account") == account_id:
                found[summary["Region"]] = summary
    return found


def _override(
    cloudformation: Any, stack_set: str, account_id: str, region: str, call_as: str
) -> str | None:
    described = cloudformation.describe_stack_instance(
        StackSetName=stack_set,
        StackInstanceAccount=account_id,
        StackInstanceRegion=region,
        CallAs=call_as,
    )["StackInstance"]
    for override in described.get("ParameterOverrides") or []:
        if override.get("ParameterKey") == ENVIRONMENT_PARAMETER:
            value = override.get("ParameterValue")
            return str(value) if value else None
    return None


def reconcile_account(
    account_id: str,
    settings: TargetingSettings,
    *,
    organizations: Any,
    cloudformation: Any,
    sleep: Callable[[float], None],
    previous_projects: Iterable[str] = (),
) -> ReconcileReport:
    tree = read_account_path(organizations, account_id)
    state = compute_desired_state(tree, settings)
    report = ReconcileReport(
        conflicts=[c for c in state.conflicts if account_id in c.account_ids],
        skipped_accounts={k: v for k, v in state.skipped_accounts.items() if k == account_id},
    )
    if account_id in state.frozen_account_ids or account_id in state.skipped_accounts:
        return report
    wanted = state.instances.get(account_id)
    parent_id = tree.accounts[account_id].parent_id
    budget = WaitBudget(settings.max_wait_seconds, settings.poll_interval_seconds, sleep)
    for project in _projects_to_read(settings, wanted, previous_projects):
        name = stackset_name(project)
        operator = StackSetOperator(cloudformation, project, settings, budget, report)
        with recording_stackset_failures(report, project, name):
            _reconcile_in(
                operator,
                cloudformation=cloudformation,
                account_id=account_id,
                project=project,
                name=name,
                wanted=wanted,
                parent_id=parent_id,
                report=report,
            )
    return report


def _projects_to_read(
    settings: TargetingSettings, wanted: DesiredInstance | None, previous: Iterable[str]
) -> list[str]:
    """The wanted project and the named previous ones; every project when none is wanted."""
    if wanted is None:
        return sorted(settings.projects)
    return sorted({wanted.project, *(p for p in previous if p in settings.projects)})


def _reconcile_in(
    operator: StackSetOperator,
    *,
    cloudformation: Any,
    account_id: str,
    project: str,
    name: str,
    wanted: DesiredInstance | None,
    parent_id: str,
    report: ReconcileReport,
) -> None:
    call_as = operator.settings.call_as
    regions = operator.settings.regions
    instances = _instances_of(cloudformation, name, account_id, call_as)

    def change(
        action: str, ou_id: str, in_regions: tuple[str, ...], environment: str | None
    ) -> TargetChange:
        return TargetChange(
            project=project,
            stack_set_name=name,
            action=action,  # type: ignore[arg-type]
            environment=environment,
            regions=in_regions,
            organizational_unit_ids=(ou_id,),
            account_filter_type="INTERSECTION",
            filter_account_ids=(account_id,),
            account_ids=(account_id,),
        )

    if wanted is None or wanted.project != project:
        stale = tuple(sorted(instances))
        if stale:
            done = operator.run(change("delete", parent_id, stale, None), None)
            report.deleted.append(done)
        return
    missing = tuple(region for region in regions if region not in instances)
    if missing:
        # Created with its override even where auto-deployment would create it too: an
        # auto-deployed instance has the StackSet's default Environment, and its extractor
        # would report the wrong environment until the hourly pass. An instance auto-deployment
        # made first shows up below as `wrong` on the next event about the account, or in the
        # hourly pass.
        created = change(
            "create", wanted.target_organizational_unit_id, missing, wanted.environment
        )
        report.created.append(operator.run(created, wanted.environment))
    wrong = tuple(
        region
        for region in sorted(instances)
        if region in regions
        and _override(cloudformation, name, account_id, region, call_as) != wanted.environment
    )
    if wrong:
        updated = change("update", wanted.target_organizational_unit_id, wrong, wanted.environment)
        report.updated.append(operator.run(updated, wanted.environment))
