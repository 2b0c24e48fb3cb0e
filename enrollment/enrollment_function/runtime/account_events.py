"""What each lifecycle event does to an account (the handlers of `lifecycle_triggers`' table),
and operator requests (`dsdash enroll|offboard`)."""

from __future__ import annotations

import time
from typing import Any, Final, NamedTuple

import boto3
from aws_lambda_powertools import Logger

from enrollment.enrollment_function.runtime.aws_operations import (
    assume_hub,
    current_stack_instance,
    desired_state_of,
    environment_override,
    partition_of,
    start_reconcile,
)
from enrollment.enrollment_function.runtime.enroll_offboard import (
    disconnect_spoke_region,
    enroll_account,
    is_enrolled_as,
    offboard_account,
)
from enrollment.enrollment_function.runtime.enrollment_errors import AssignmentUnresolved
from enrollment.enrollment_function.runtime.lifecycle_events import (
    ManagedAccountCreated,
    OperatorRequest,
    StackInstanceStatusChange,
)
from enrollment.enrollment_function.runtime.report import EnrollmentReport
from enrollment.enrollment_function.runtime.settings import (
    EnrollmentSettings,
    Sleep,
)
from enrollment.enrollment_function.runtime.steps import (
    THROTTLING_ERROR_CODES,
    Steps,
)
from enrollment.placement.organizations_events import OrganizationsChange
from enrollment.placement.policy import DesiredState
from enrollment.placement.stackset_names import ENVIRONMENT_PARAMETER, stackset_name
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState
from hub_stack.spoke_registry.registry import SpokeRegistry
from runtime_common.aws import client

logger = Logger(service="dsdash-org-enrollment")


# Organizations events the org stack also routes to the reconciler (its trigger table); Control
# Tower's CreateManagedAccount is not one, so enrollment starts that reconcile itself.
RECONCILER_OWN_EVENTS: Final = frozenset({"MoveAccount", "CreateAccountResult"})


class Handling(NamedTuple):
    """What every lifecycle handler works with (the table's context)."""

    settings: EnrollmentSettings
    management: boto3.Session
    sleep: Sleep


def ignored(account_id: str | None, why: str) -> EnrollmentReport:
    logger.info("event ignored", extra={"account_id": account_id, "why": why})
    return EnrollmentReport(account_id=account_id, action="ignored", notes=[why])


def on_stack_instance_change(
    change: StackInstanceStatusChange, handling: Handling
) -> EnrollmentReport:
    """A StackSet instance changed: CREATE or UPDATE SUCCEEDED enrolls (the spoke stack exists in
    that account and region), DELETE SUCCEEDED offboards; the event is checked against the
    instance as CloudFormation has it now, so a stale replay changes nothing."""
    settings, management, sleep = handling
    if change.project is None:
        return ignored(change.account_id, f"StackSet {change.stack_set_name} is not a dsdash one")
    if change.action not in ("CREATE", "UPDATE", "DELETE") or not change.succeeded:
        return ignored(
            change.account_id,
            f"{change.action} {change.detailed_status} of {change.stack_set_name} in "
            f"{change.region}: only SUCCEEDED creates, updates and deletes change enrollment",
        )
    if change.region not in settings.spoke_regions:
        return ignored(
            change.account_id,
            f"region {change.region} is not a configured spoke region; the reconciler removes "
            "the instance",
        )
    cloudformation = client(management, "cloudformation", region_name=change.stack_set_region)
    instance = current_stack_instance(
        cloudformation,
        change.stack_set_name,
        change.account_id,
        change.region,
        settings.targeting.call_as,
    )
    if change.action == "DELETE":
        if instance is not None:
            return ignored(
                change.account_id,
                f"stale DELETE: the instance of {change.stack_set_name} in {change.region} "
                "exists again",
            )
        return on_stack_instance_deleted(change, settings, management, sleep)
    if instance is None:
        return ignored(
            change.account_id,
            f"stale {change.action}: the instance of {change.stack_set_name} in {change.region} "
            "no longer exists",
        )
    project = change.project
    # The reconciler sets the Environment override from the OU tags, and the deployed extractor
    # reports it: it is the assignment. Only an instance without one (deployed by hand, or by
    # auto-deployment before the reconciler's update) is resolved from the tags, so a rollout to
    # hundreds of accounts does not spend Organizations' API rate on one tree walk per event.
    environment = environment_override(instance) or environment_from_tags(
        change, project, desired_state_of(management, settings, change.account_id)
    )
    return enroll_account(
        change.account_id,
        project,
        environment,
        (change.region,),
        settings,
        session=management,
        sleep=sleep,
    )


def environment_from_tags(
    change: StackInstanceStatusChange, project: str, desired: DesiredState
) -> str:
    wanted = desired.instances.get(change.account_id)
    if wanted is not None and wanted.project == project:
        return wanted.environment
    why = (
        f"the OU tags place it in project {wanted.project!r}"
        if wanted is not None
        else "the OU tags place it in no project (untagged or conflicting tags)"
    )
    raise AssignmentUnresolved(
        f"cannot tell the environment of account {change.account_id} in {project}: its stack "
        f"instance of {change.stack_set_name} in {change.region} has no {ENVIRONMENT_PARAMETER} "
        f"override and {why}"
    )


def on_stack_instance_deleted(
    change: StackInstanceStatusChange,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    """Offboard, unless the account stays a spoke of this project in other regions (a region
    removed from the config): then only this region's spoke side goes.

    Whether it stays is read from the OU tags, not from the other regions' instances, which
    are being deleted at the same time when the account leaves."""
    wanted = desired_state_of(management, settings, change.account_id).instances.get(
        change.account_id
    )
    still_wanted = wanted is not None and wanted.project == change.project
    other_regions = [r for r in settings.spoke_regions if r != change.region]
    reason = f"stack instance of {change.stack_set_name} in {change.region} deleted"
    if not (still_wanted and other_regions):
        return offboard_account(change.account_id, settings, management, reason, sleep=sleep)
    report = EnrollmentReport(
        account_id=change.account_id,
        action="offboard",
        project=change.project,
        regions=(change.region,),
        reason=reason,
        notes=[f"hub wiring kept: the account stays a spoke in {', '.join(other_regions)}"],
    )
    steps = Steps(change.account_id, settings, sleep, report)
    disconnect_spoke_region(
        management, settings, steps, partition_of(management, settings), change.region
    )
    return report


def on_account_placed(
    account_id: str,
    event_name: str,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    """An account appeared or moved: mark it pending where the OU tags want it, offboard it
    where they no longer do (a move), then start a reconcile of that account.

    For MoveAccount and CreateAccountResult, which the reconciler receives itself, an account the
    registry does not know as a spoke costs two calls and is left to the reconciler: it creates
    the stack instance when the OU tags want one, and that instance's event enrolls it (a lost
    event is found by the sweep, `unregistered_instances`). Only a known spoke's move is looked
    at here (re-assigned: pending; moved out of every tagged OU: offboarded). A known spoke
    re-assigned to another project also gets a reconcile request naming its previous project:
    the reconciler's one-account pass reads only the StackSet of the project the tags want
    (`org_stack.reconciler.runtime.account_reconcile`), so the registry is what names the StackSet whose
    instance is now stale."""
    known = (
        active_spoke(account_id, settings, management, sleep)
        if event_name in RECONCILER_OWN_EVENTS
        else None
    )
    if event_name in RECONCILER_OWN_EVENTS and known is None:
        return ignored(
            account_id,
            f"{event_name}: not a spoke yet; the reconciler creates its stack instance if the OU "
            "tags want one, and that instance's event enrolls it",
        )
    desired = desired_state_of(management, settings, account_id)
    wanted = desired.instances.get(account_id)
    if wanted is not None:
        report = record_pending(
            account_id,
            project=wanted.project,
            environment=wanted.environment,
            event_name=event_name,
            settings=settings,
            management=management,
            sleep=sleep,
        )
    elif account_id in desired.frozen_account_ids:
        report = ignored(account_id, "the account's OU tags conflict; see the reconciler report")
    elif event_name == "MoveAccount":
        report = offboard_known_spoke(
            account_id, "moved out of every tagged OU", settings, management, sleep
        )
    else:
        report = ignored(account_id, "no OU tag places the account in a project")
    trigger: dict[str, Any] = {"reason": event_name, "account": account_id}
    previous = known.project_name if known is not None else None
    if event_name in RECONCILER_OWN_EVENTS:
        if wanted is None or previous is None or previous == wanted.project:
            # The reconciler's own rule receives this event and reconciles the account; starting
            # another reconcile here made every account of a rollout cost two.
            report.notes.append(f"the reconciler handles {event_name} itself")
            return report
        trigger["previous_projects"] = [previous]
        report.notes.append(f"reconcile requested for the instance of previous project {previous}")
    steps = Steps(account_id, settings, sleep, report)
    steps.run(
        "start reconcile",
        lambda: start_reconcile(management, settings, trigger),
        retry_on=THROTTLING_ERROR_CODES,
    )
    return report


def active_spoke(
    account_id: str, settings: EnrollmentSettings, management: boto3.Session, sleep: Sleep
) -> SpokeRecord | None:
    """The registry's record of the account, unless it has none or offboarded it."""
    probe = EnrollmentReport(account_id=account_id, action="ignored")
    steps = Steps(account_id, settings, sleep, probe)
    hub = assume_hub(management, settings, steps, partition_of(management, settings))
    existing = steps.run(
        "read spoke registry",
        lambda: SpokeRegistry(settings.hub_table_name, hub).get_spoke(account_id),
    )
    if existing is None or existing.state is SpokeState.OFFBOARDED:
        return None
    return existing


def record_pending(
    account_id: str,
    *,
    project: str,
    environment: str,
    event_name: str,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    report = EnrollmentReport(
        account_id=account_id, action="pending", project=project, environment=environment
    )
    steps = Steps(account_id, settings, sleep, report)
    hub = assume_hub(management, settings, steps, partition_of(management, settings))
    registry = SpokeRegistry(settings.hub_table_name, hub)
    existing = steps.run("read spoke registry", lambda: registry.get_spoke(account_id))
    if is_enrolled_as(existing, project, environment):
        # A replayed or redundant event must not un-enroll a connected spoke.
        report.notes.append(f"already enrolled as {project}/{environment}")
        report.state = SpokeState.ENROLLED.value
        return report
    reason = f"{event_name}: waiting for the stack instance of {stackset_name(project)}"
    steps.run(
        "record pending",
        lambda: registry.set_spoke_state(
            account_id,
            SpokeState.PENDING,
            reason=reason,
            project_name=project,
            environment=environment,
        ),
    )
    report.state, report.reason = SpokeState.PENDING.value, reason
    return report


def offboard_known_spoke(
    account_id: str,
    reason: str,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    """Offboard an account the registry knows and has not offboarded yet; others are no spoke."""
    probe = EnrollmentReport(account_id=account_id, action="ignored")
    steps = Steps(account_id, settings, sleep, probe)
    hub = assume_hub(management, settings, steps, partition_of(management, settings))
    existing = steps.run(
        "read spoke registry",
        lambda: SpokeRegistry(settings.hub_table_name, hub).get_spoke(account_id),
    )
    if existing is None or existing.state is SpokeState.OFFBOARDED:
        probe.notes.append("not an active dsdash spoke: nothing to offboard")
        return probe
    return offboard_account(account_id, settings, management, reason, sleep=sleep)


def _account_of(
    change: OrganizationsChange, settings: EnrollmentSettings
) -> str | EnrollmentReport:
    """The account an Organizations event is about, or the report of why it is ignored."""
    if change.account_id is None:
        return ignored(None, f"{change.event_name} names no account")
    if change.account_id == settings.targeting.management_account_id:
        return ignored(change.account_id, "the management account is never a spoke")
    return change.account_id


def on_account_created(change: OrganizationsChange, handling: Handling) -> EnrollmentReport:
    """Organizations CreateAccountResult: a SUCCEEDED new account is placed (`on_account_placed`)."""
    account = _account_of(change, handling.settings)
    if isinstance(account, EnrollmentReport):
        return account
    if change.create_account_state != "SUCCEEDED":
        return ignored(account, f"CreateAccountResult state {change.create_account_state}")
    return on_account_placed(account, change.event_name, *handling)


def on_account_moved(change: OrganizationsChange, handling: Handling) -> EnrollmentReport:
    account = _account_of(change, handling.settings)
    if isinstance(account, EnrollmentReport):
        return account
    return on_account_placed(account, change.event_name, *handling)


def on_account_closed(change: OrganizationsChange, handling: Handling) -> EnrollmentReport:
    account = _account_of(change, handling.settings)
    if isinstance(account, EnrollmentReport):
        return account
    return offboard_known_spoke(account, "account closed", *handling)


def on_managed_account_created(
    created: ManagedAccountCreated, handling: Handling
) -> EnrollmentReport:
    """Control Tower CreateManagedAccount: the reconciler has no rule for it, so placing the
    account here also starts its reconcile."""
    if not created.succeeded or created.account_id is None:
        return ignored(created.account_id, f"CreateManagedAccount state {created.state}")
    return on_account_placed(created.account_id, "CreateManagedAccount", *handling)


def handle_operator_request(
    request: OperatorRequest,
    settings: EnrollmentSettings,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> EnrollmentReport:
    """`dsdash enroll|offboard`, run by this function with its own role (parse_operator_request
    guarantees an account, and a project and environment to enroll)."""
    account_id = request.account_id or ""
    if request.action == "enroll":
        return enroll_account(
            account_id,
            request.project or "",
            request.environment or "",
            request.regions or settings.spoke_regions,
            settings,
            session,
            sleep,
        )
    return offboard_account(
        account_id,
        settings,
        session,
        request.reason or "offboarded by an operator (dsdash offboard)",
        regions=request.regions or None,
        sleep=sleep,
    )
