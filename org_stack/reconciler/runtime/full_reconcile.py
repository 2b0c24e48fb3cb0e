"""The reconciler's full pass: OU tags in, stack instances of each project's spoke StackSet out.

The CDK code owns each StackSet's definition (template, parameters, auto-deployment); the
reconciler owns its stack instances. The full pass reads the whole organization
(`enrollment.placement.org_tree`), applies the placement policy (`enrollment.placement.policy`)
and, per project, plans (`target_planning`) and starts (`stackset_operations`) the changes. It
runs on tag events, on the schedule (CloudTrail delivery is best effort) and once on deploy; an
event about one account reconciles that account only (`account_reconcile`), so a rollout of N
accounts does not cost N full passes. Operation preferences suit hundreds of accounts: regions in
parallel, a percentage of accounts at a time, soft failure tolerance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from enrollment.placement.org_tree import OrganizationTree, read_organization_tree
from enrollment.placement.policy import DesiredState, compute_desired_state
from enrollment.placement.targeting import TargetingSettings
from org_stack.reconciler.runtime.stackset_operations import (
    ReconcileReport,
    StackSetOperator,
    TargetChange,
    WaitBudget,
    recording_stackset_failures,
)
from org_stack.reconciler.runtime.target_planning import plan_creates, plan_deletes, plan_updates
from runtime_common.aws import client

logger = Logger(service="dsdash-org-reconciler")


def _reconcile_project(
    project: str,
    cloudformation: Any,
    *,
    tree: OrganizationTree,
    settings: TargetingSettings,
    state: DesiredState,
    budget: WaitBudget,
    report: ReconcileReport,
) -> None:
    operator = StackSetOperator(cloudformation, project, settings, budget, report)
    desired = state.for_project(project)
    with recording_stackset_failures(report, project, operator.name):
        operator.wait_until_idle()
        current = operator.read_instances(desired)
        plan: list[tuple[TargetChange, str | None]] = [
            *plan_deletes(
                project,
                tree,
                settings,
                state=state,
                desired=desired,
                current=current,
                report=report,
            ),
            *plan_updates(project, settings, desired, current),
            *plan_creates(project, tree, settings, desired, current),
        ]
        for change, environment in plan:
            done = operator.run(change, environment)
            {"create": report.created, "update": report.updated, "delete": report.deleted}[
                change.action
            ].append(done)
            logger.info("stack instance change started", extra={"change": asdict(done)})


def reconcile(
    settings: TargetingSettings,
    *,
    session: boto3.Session | None = None,
    organizations_client: Any = None,
    cloudformation_client: Any = None,
    sleep: Callable[[float], None] | None = None,
) -> ReconcileReport:
    """Make every project's StackSet instances match the OU tags (and config-listed accounts)."""

    organizations = organizations_client or client(session, "organizations")
    cloudformation = cloudformation_client or client(session, "cloudformation")
    tree = read_organization_tree(organizations)
    state = compute_desired_state(tree, settings)
    report = ReconcileReport(
        conflicts=list(state.conflicts), skipped_accounts=dict(state.skipped_accounts)
    )
    for conflict in state.conflicts:
        logger.warning("targeting conflict", extra={"conflict": asdict(conflict)})
    budget = WaitBudget(
        remaining_seconds=settings.max_wait_seconds,
        poll_interval_seconds=settings.poll_interval_seconds,
        sleep=sleep or time.sleep,
    )
    for project in sorted(settings.projects):
        _reconcile_project(
            project,
            cloudformation,
            tree=tree,
            settings=settings,
            state=state,
            budget=budget,
            report=report,
        )
    return report
