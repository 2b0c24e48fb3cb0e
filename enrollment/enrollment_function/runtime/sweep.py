"""The scheduled sweep: finishes enrollments whose events were lost or whose steps kept failing,
without any new event (every 30 minutes)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from enrollment.enrollment_function.runtime.account_events import ignored
from enrollment.enrollment_function.runtime.aws_operations import (
    current_stack_instance,
    desired_state,
    partition_of,
)
from enrollment.enrollment_function.runtime.cross_account import (
    assume_enrollment_role,
    hub_enrollment_role_arn,
)
from enrollment.enrollment_function.runtime.enroll_offboard import enroll_account
from enrollment.enrollment_function.runtime.enrollment_errors import EnrollmentStepFailed
from enrollment.enrollment_function.runtime.report import EnrollmentReport
from enrollment.enrollment_function.runtime.settings import (
    EnrollmentSettings,
    Sleep,
)
from enrollment.enrollment_function.runtime.steps import error_code
from enrollment.placement.stackset_names import stackset_name
from hub_stack.spoke_registry.records import SpokeState
from hub_stack.spoke_registry.registry import SpokeRegistry
from runtime_common.aws import client, session_or_default
from runtime_common.timestamps import parse_timestamp

logger = Logger(service="dsdash-org-enrollment")


# A spoke pending longer than this lost its StackInstance event (or the enrollment it started):
# the sweep finishes it. StackSets usually deploy a new account's instance within minutes.
PENDING_GRACE: Final = timedelta(minutes=30)


def unregistered_instances(
    cloudformation: Any, settings: EnrollmentSettings, known: set[str]
) -> list[str]:
    """Accounts with a stack instance of one of our StackSets but no registry item: a new
    account whose instance event was lost (MoveAccount and CreateAccountResult no longer record
    new accounts as pending). Paged to the end; one call per 100 instances and StackSet."""
    found: set[str] = set()
    paginator = cloudformation.get_paginator("list_stack_instances")
    for project in sorted(settings.targeting.projects):
        try:
            for page in paginator.paginate(
                StackSetName=stackset_name(project), CallAs=settings.targeting.call_as
            ):
                found.update(
                    str(summary["Account"])
                    for summary in page.get("Summaries", [])
                    if summary.get("Region") in settings.spoke_regions
                    and summary.get("Account") not in known
                )
        except ClientError as error:
            if error_code(error) != "StackSetNotFoundException":
                raise
    return sorted(found)


def sweep_unfinished_enrollments(
    settings: EnrollmentSettings,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
    now: datetime | None = None,
) -> list[EnrollmentReport]:
    """Re-run enrollment for spokes recorded `failed`, or `pending` for longer than
    PENDING_GRACE, and for accounts with a stack instance but no registry item (a lost
    instance event), whose stack instances exist: a failed step leaves a state that a re-run
    repairs, and this schedule is that re-run. Spokes the OU tags no longer want, or whose
    instances do not exist yet (the reconciler creates them, and their event enrolls them), are
    left as they are."""
    management = session_or_default(session)
    moment = now or datetime.now(UTC)
    hub = assume_enrollment_role(
        management,
        hub_enrollment_role_arn(partition_of(management, settings), settings.hub_account_id),
        region=settings.hub_region,
        session_suffix="sweep",
    )
    spokes = SpokeRegistry(settings.hub_table_name, hub).list_spokes()
    unfinished = [
        spoke.account_id
        for spoke in spokes
        if spoke.state == SpokeState.FAILED
        or (
            spoke.state == SpokeState.PENDING
            and (
                spoke.updated_at is None
                or parse_timestamp(spoke.updated_at) < moment - PENDING_GRACE
            )
        )
    ]
    cloudformation = client(management, "cloudformation")
    unfinished += unregistered_instances(
        cloudformation, settings, {spoke.account_id for spoke in spokes}
    )
    if not unfinished:
        return []
    desired = desired_state(management, settings)
    reports = []
    for account_id in unfinished:
        wanted = desired.instances.get(account_id)
        if wanted is None:
            reports.append(ignored(account_id, "sweep: no OU tag wants the account now"))
            continue
        regions = tuple(
            region
            for region in settings.spoke_regions
            if current_stack_instance(
                cloudformation,
                stackset_name(wanted.project),
                account_id,
                region,
                settings.targeting.call_as,
            )
            is not None
        )
        if not regions:
            reports.append(ignored(account_id, "sweep: its stack instance does not exist yet"))
            continue
        try:
            reports.append(
                enroll_account(
                    account_id,
                    wanted.project,
                    wanted.environment,
                    regions,
                    settings,
                    management,
                    sleep,
                )
            )
        except EnrollmentStepFailed as failure:
            # Recorded in the registry by enroll_account; the next sweep tries again.
            reports.append(
                EnrollmentReport(
                    account_id=account_id,
                    action="enroll",
                    state=SpokeState.FAILED,
                    reason=failure.reason,
                )
            )
    return reports
