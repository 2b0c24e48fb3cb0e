"""The enrollment function's lifecycle triggers, as one table: (source, detail-type, eventName) ->
(parser, handler).

| source | detail-type | eventName | parser | handler |
|---|---|---|---|---|
| aws.cloudformation | CloudFormation StackSet StackInstance Status Change | - | `parse_stack_instance_event` | `on_stack_instance_change` |
| aws.controltower | AWS Service Event via CloudTrail | CreateManagedAccount | `parse_managed_account_event` | `on_managed_account_created` |
| aws.organizations | AWS Service Event via CloudTrail | CreateAccountResult | `parse_account_event` | `on_account_created` |
| aws.organizations | AWS API Call via CloudTrail | MoveAccount | `parse_account_event` | `on_account_moved` |
| aws.organizations | AWS API Call via CloudTrail | CloseAccount | `parse_account_event` | `on_account_closed` |

The org stack's rules for this function are derived from the table (`org_stack.lifecycle_rules`).
Operator requests (`{"dsdash": {...}}`, `dsdash enroll|offboard|sweep`) are no EventBridge event
and are read before it. Adding a trigger: one row, one parser, one sample event under
tests/events/ (docs/architecture.md §7, "Lifecycle triggers").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3

from enrollment.enrollment_function.runtime.account_events import (
    Handling,
    handle_operator_request,
    on_account_closed,
    on_account_created,
    on_account_moved,
    on_managed_account_created,
    on_stack_instance_change,
)
from enrollment.enrollment_function.runtime.enrollment_errors import UnsupportedLifecycleEvent
from enrollment.enrollment_function.runtime.lifecycle_events import (
    CLOUDFORMATION_EVENT_SOURCE,
    CONTROL_TOWER_EVENT_SOURCE,
    CREATE_MANAGED_ACCOUNT_EVENT_NAME,
    OPERATOR_REQUEST_KEY,
    STACK_INSTANCE_DETAIL_TYPE,
    LifecycleEvent,
    OperatorRequest,
    parse_account_event,
    parse_managed_account_event,
    parse_operator_request,
    parse_stack_instance_event,
)
from enrollment.enrollment_function.runtime.report import EnrollmentReport
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings, Sleep
from enrollment.placement.event_triggers import EventKey, Trigger, event_names, find_trigger
from enrollment.placement.organizations_events import (
    API_CALL_DETAIL_TYPE,
    ORGANIZATIONS_EVENT_SOURCE,
    SERVICE_EVENT_DETAIL_TYPE,
)
from runtime_common.aws import session_or_default

EnrollmentTrigger = Trigger[Any, Handling, EnrollmentReport]

ENROLLMENT_TRIGGERS: Final[tuple[EnrollmentTrigger, ...]] = (
    Trigger(
        EventKey(CLOUDFORMATION_EVENT_SOURCE, STACK_INSTANCE_DETAIL_TYPE),
        parse_stack_instance_event,
        on_stack_instance_change,
    ),
    Trigger(
        EventKey(
            CONTROL_TOWER_EVENT_SOURCE, SERVICE_EVENT_DETAIL_TYPE, CREATE_MANAGED_ACCOUNT_EVENT_NAME
        ),
        parse_managed_account_event,
        on_managed_account_created,
    ),
    Trigger(
        EventKey(ORGANIZATIONS_EVENT_SOURCE, SERVICE_EVENT_DETAIL_TYPE, "CreateAccountResult"),
        parse_account_event,
        on_account_created,
    ),
    Trigger(
        EventKey(ORGANIZATIONS_EVENT_SOURCE, API_CALL_DETAIL_TYPE, "MoveAccount"),
        parse_account_event,
        on_account_moved,
    ),
    Trigger(
        EventKey(ORGANIZATIONS_EVENT_SOURCE, API_CALL_DETAIL_TYPE, "CloseAccount"),
        parse_account_event,
        on_account_closed,
    ),
)
# The Organizations events enrollment handles; the others (TagResource, ...) go to the reconciler.
ORGANIZATIONS_EVENT_NAMES: Final = event_names(ENROLLMENT_TRIGGERS, ORGANIZATIONS_EVENT_SOURCE)


@dataclass(frozen=True)
class ReadEvent:
    """A lifecycle event read by its row's parser, with the row's handler."""

    lifecycle: LifecycleEvent
    handle: Callable[[Any, Handling], EnrollmentReport]


def _operator_request(request: OperatorRequest, handling: Handling) -> EnrollmentReport:
    settings, management, sleep = handling
    return handle_operator_request(request, settings, session=management, sleep=sleep)


def read_lifecycle_event(event: Any) -> ReadEvent:
    """Parse an event routed to the enrollment function, or raise naming what it is."""
    if not isinstance(event, Mapping):
        raise UnsupportedLifecycleEvent(
            f"the enrollment function expects an EventBridge event object, got {type(event)!r}"
        )
    if OPERATOR_REQUEST_KEY in event:
        return ReadEvent(parse_operator_request(event), _operator_request)
    trigger = find_trigger(ENROLLMENT_TRIGGERS, event)
    if trigger is None:
        handled = "; ".join(row.key.describe() for row in ENROLLMENT_TRIGGERS)
        raise UnsupportedLifecycleEvent(
            f"the enrollment function does not handle events of {EventKey.of(event).describe()};"
            f" it handles {handled}"
        )
    return ReadEvent(trigger.parse(event), trigger.handle)


def parse_lifecycle_event(event: Any) -> LifecycleEvent:
    return read_lifecycle_event(event).lifecycle


def handle_read_event(
    read: ReadEvent,
    settings: EnrollmentSettings,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> EnrollmentReport:
    report = read.handle(read.lifecycle, Handling(settings, session_or_default(session), sleep))
    report.trigger = read.lifecycle.to_dict()
    return report


def handle_lifecycle_event(
    event: Mapping[str, Any],
    settings: EnrollmentSettings,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> EnrollmentReport:
    """Act on one lifecycle event, as its row in `ENROLLMENT_TRIGGERS` says."""
    return handle_read_event(read_lifecycle_event(event), settings, session=session, sleep=sleep)
