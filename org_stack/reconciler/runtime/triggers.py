"""What starts a reconcile, as one table: (source, detail-type, eventName) -> (parser, handler).

Tag events, the schedule and anything unlisted (the deploy-time invoke) reconcile everything
(`full_reconcile`); an event about one account (MoveAccount, CreateAccountResult, CloseAccount,
the enrollment function's request naming an account) reconciles that account only
(`account_reconcile`). CloseAccount is one too: a closing account is skipped by both passes
(CloudFormation cannot reach it). The org stack's rules match the Organizations rows
(`org_stack.lifecycle_rules`). Adding a trigger: one row, one parser, one sample event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger

from enrollment.placement.event_triggers import EventKey, Trigger, event_names, find_trigger
from enrollment.placement.organizations_events import (
    API_CALL_DETAIL_TYPE,
    ORGANIZATIONS_EVENT_SOURCE,
    SERVICE_EVENT_DETAIL_TYPE,
    OrganizationsEventError,
    is_organizations_event,
    parse_organizations_event,
)
from enrollment.placement.targeting import TargetingSettings
from org_stack.reconciler.runtime.account_reconcile import reconcile_account
from org_stack.reconciler.runtime.full_reconcile import reconcile
from org_stack.reconciler.runtime.stackset_operations import ReconcileReport
from runtime_common.aws import client

logger = Logger(service="dsdash-org-reconciler")

ENROLLMENT_REQUEST_SOURCE: Final = "dsdash.enrollment"
ENROLLMENT_REQUEST_DETAIL_TYPE: Final = "reconcile request"
SCHEDULE_SOURCE: Final = "aws.events"
SCHEDULE_DETAIL_TYPE: Final = "Scheduled Event"


@dataclass(frozen=True)
class ReconcileRequest:
    """A parsed trigger: what the report records, and the account it is about, if one."""

    trigger: dict[str, Any]
    account_id: str | None = None
    # The enrollment function's request names the registry's previous projects of the account.
    previous_projects: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReconcileRun:
    settings: TargetingSettings
    session: boto3.Session | None = None
    sleep: Callable[[float], None] = field(default=time.sleep)


def parse_organizations_trigger(event: Mapping[str, Any]) -> ReconcileRequest:
    change = parse_organizations_event(event)
    return ReconcileRequest({"kind": "organizations", **change.to_dict()}, change.account_id)


def parse_schedule(event: Mapping[str, Any]) -> ReconcileRequest:
    return ReconcileRequest({"kind": "schedule", "time": event.get("time")})


def parse_enrollment_request(event: Mapping[str, Any]) -> ReconcileRequest:
    detail = event.get("detail")
    body: Mapping[str, Any] = detail if isinstance(detail, Mapping) else {}
    account = body.get("account")
    named = body.get("previous_projects")
    return ReconcileRequest(
        {"kind": "invoke"},
        str(account) if account else None,
        tuple(str(project) for project in named) if isinstance(named, list) else (),
    )


def reconcile_everything(request: ReconcileRequest, run: ReconcileRun) -> ReconcileReport:
    return reconcile(run.settings, session=run.session, sleep=run.sleep)


def reconcile_the_account(request: ReconcileRequest, run: ReconcileRun) -> ReconcileReport:
    if request.account_id is None:
        return reconcile_everything(request, run)
    return reconcile_account(
        request.account_id,
        run.settings,
        organizations=client(run.session, "organizations"),
        cloudformation=client(run.session, "cloudformation"),
        sleep=run.sleep,
        previous_projects=request.previous_projects,
    )


ReconcileTrigger = Trigger[ReconcileRequest, ReconcileRun, ReconcileReport]


def _organizations(
    name: str,
    handle: Callable[[ReconcileRequest, ReconcileRun], ReconcileReport],
    detail_type: str = API_CALL_DETAIL_TYPE,
) -> ReconcileTrigger:
    return Trigger(
        EventKey(ORGANIZATIONS_EVENT_SOURCE, detail_type, name),
        parse_organizations_trigger,
        handle,
    )


RECONCILER_TRIGGERS: Final[tuple[ReconcileTrigger, ...]] = (
    _organizations("TagResource", reconcile_everything),
    _organizations("UntagResource", reconcile_everything),
    _organizations("MoveAccount", reconcile_the_account),
    _organizations("CreateAccountResult", reconcile_the_account, SERVICE_EVENT_DETAIL_TYPE),
    _organizations("CloseAccount", reconcile_the_account),
    Trigger(EventKey(SCHEDULE_SOURCE, SCHEDULE_DETAIL_TYPE), parse_schedule, reconcile_everything),
    Trigger(
        EventKey(ENROLLMENT_REQUEST_SOURCE, ENROLLMENT_REQUEST_DETAIL_TYPE),
        parse_enrollment_request,
        reconcile_the_account,
    ),
)
# The Organizations events the org stack's rules forward to the reconciler.
RECONCILE_TRIGGER_EVENT_NAMES: Final = event_names(RECONCILER_TRIGGERS, ORGANIZATIONS_EVENT_SOURCE)


def run_trigger(event: Mapping[str, Any] | None, run: ReconcileRun) -> ReconcileReport:
    """Reconcile as the event's row says; an event no row lists reconciles everything."""
    request, handle = _parsed(event or {})
    logger.info("reconcile triggered", extra={"trigger": request.trigger})
    report = handle(request, run)
    report.trigger = request.trigger
    return report


def _parsed(
    event: Mapping[str, Any],
) -> tuple[ReconcileRequest, Callable[[ReconcileRequest, ReconcileRun], ReconcileReport]]:
    trigger = find_trigger(RECONCILER_TRIGGERS, event)
    try:
        if trigger is not None:
            return trigger.parse(event), trigger.handle
        if is_organizations_event(event):
            return parse_organizations_trigger(event), reconcile_everything
    except OrganizationsEventError as error:
        # The event is only a hint that something changed; reconcile anyway.
        unparsed = ReconcileRequest({"kind": "organizations", "unparsed": str(error)})
        return unparsed, reconcile_everything
    return ReconcileRequest({"kind": "invoke"}), reconcile_everything
