"""Parse the account lifecycle events the enrollment function reacts to.

Shapes follow AWS's documented examples (sample files under tests/events/):

- "CloudFormation StackSet StackInstance Status Change" (source `aws.cloudformation`):
  `detail` is `{stack-set-arn, stack-id, action, status-details: {status, status-reason,
  detailed-status}}`. The event does not name the instance's account and region: they are the
  account and region fields of the `stack-id` ARN (the stack CloudFormation created in the target
  account). https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stackset-stack-instance-status-change.html
- Control Tower lifecycle event CreateManagedAccount (source `aws.controltower`, detail-type
  "AWS Service Event via CloudTrail"): the outcome is in
  `detail.serviceEventDetails.createManagedAccountStatus` with `account{accountId, accountName}`,
  `organizationalUnit{organizationalUnitId, organizationalUnitName}` and `state`.
  https://docs.aws.amazon.com/controltower/latest/userguide/lifecycle-events.html
- Organizations CloudTrail events (CreateAccountResult, MoveAccount, CloseAccount) are parsed by
  `enrollment.placement.organizations_events`, shared with the reconciler.

Anything else raises `UnsupportedLifecycleEvent` naming its source and detail-type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from enrollment.enrollment_function.runtime.enrollment_errors import MalformedLifecycleEvent
from enrollment.placement.organizations_events import (
    OrganizationsChange,
    OrganizationsEventError,
    parse_organizations_event,
)
from enrollment.placement.stackset_names import project_of_stackset

CLOUDFORMATION_EVENT_SOURCE: Final = "aws.cloudformation"
STACK_INSTANCE_DETAIL_TYPE: Final = "CloudFormation StackSet StackInstance Status Change"
CONTROL_TOWER_EVENT_SOURCE: Final = "aws.controltower"
CREATE_MANAGED_ACCOUNT_EVENT_NAME: Final = "CreateManagedAccount"
SUCCEEDED: Final = "SUCCEEDED"


@dataclass(frozen=True)
class ArnParts:
    partition: str
    service: str
    region: str
    account_id: str
    resource: str


def split_arn(arn: str, *, what: str) -> ArnParts:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1]:
        raise MalformedLifecycleEvent(f"{what} {arn!r} is not an ARN")
    _, partition, service, region, account_id, resource = parts
    return ArnParts(partition, service, region, account_id, resource)


@dataclass(frozen=True)
class StackInstanceStatusChange:
    """One stack instance of a StackSet changed status."""

    event_id: str | None
    stack_set_arn: str
    stack_set_name: str
    # The dsdash project whose spoke StackSet this is, or None for any other StackSet.
    project: str | None
    stack_id: str
    partition: str
    # The instance's account and region, from the stack-id ARN.
    account_id: str
    region: str
    # The StackSet's own region (where DescribeStackInstance must be called).
    stack_set_region: str
    action: str  # CREATE | UPDATE | DELETE | DETECT_DRIFT
    status: str | None  # CURRENT | OUTDATED | INOPERABLE
    status_reason: str | None
    detailed_status: str | None  # SUCCEEDED | FAILED | RUNNING | ...

    @property
    def succeeded(self) -> bool:
        return self.detailed_status == SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        return {
            "Kind": "StackInstanceStatusChange",
            "EventId": self.event_id,
            "StackSetName": self.stack_set_name,
            "Project": self.project,
            "AccountId": self.account_id,
            "Region": self.region,
            "Action": self.action,
            "DetailedStatus": self.detailed_status,
        }


@dataclass(frozen=True)
class ManagedAccountCreated:
    """Control Tower's Account Factory finished (or failed) creating an account."""

    event_id: str | None
    account_id: str | None
    account_name: str | None
    organizational_unit_id: str | None
    organizational_unit_name: str | None
    state: str | None  # SUCCEEDED | FAILED
    message: str | None

    @property
    def succeeded(self) -> bool:
        return self.state == SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        return {
            "Kind": "ManagedAccountCreated",
            "EventId": self.event_id,
            "AccountId": self.account_id,
            "OrganizationalUnitId": self.organizational_unit_id,
            "State": self.state,
        }


OPERATOR_REQUEST_KEY: Final = "dsdash"
OPERATOR_ACTIONS: Final = ("enroll", "offboard", "sweep")


@dataclass(frozen=True)
class OperatorRequest:
    """`dsdash enroll|offboard`: an operator asks the enrollment function to act on one account;
    or `sweep`, sent by the function's schedule, to finish enrollments left failed or pending.

    The console invokes the function rather than running the steps itself, so the narrow hub and
    spoke roles keep trusting exactly one principal (this function's role), and manual enrollment
    takes the same code path, with the same retries and records, as automatic enrollment.
    """

    action: str  # enroll | offboard | sweep
    account_id: str | None = None
    project: str | None = None
    environment: str | None = None
    regions: tuple[str, ...] = ()
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "Kind": "OperatorRequest",
            "Action": self.action,
            "AccountId": self.account_id,
            "Project": self.project,
            "Environment": self.environment,
            "Regions": list(self.regions),
        }


def parse_operator_request(event: Mapping[str, Any]) -> OperatorRequest:
    action = event.get(OPERATOR_REQUEST_KEY)
    if action not in OPERATOR_ACTIONS:
        raise MalformedLifecycleEvent(
            f"operator request action {action!r} is not one of {', '.join(OPERATOR_ACTIONS)}"
        )
    account_id = event.get("account_id")
    if action == "sweep":
        return OperatorRequest(action=action)
    if not isinstance(account_id, str):
        raise MalformedLifecycleEvent("operator request lacks account_id")
    regions = event.get("regions") or []
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        raise MalformedLifecycleEvent("operator request regions must be a list of region names")
    text = {
        key: value if isinstance(value, str) else None
        for key in ("project", "environment", "reason")
        for value in [event.get(key)]
    }
    if action == "enroll" and not (text["project"] and text["environment"]):
        raise MalformedLifecycleEvent("an enroll request names a project and an environment")
    return OperatorRequest(
        action=action,
        account_id=account_id,
        project=text["project"],
        environment=text["environment"],
        regions=tuple(regions),
        reason=text["reason"],
    )


LifecycleEvent = (
    StackInstanceStatusChange | ManagedAccountCreated | OrganizationsChange | OperatorRequest
)


def _describe(event: Mapping[str, Any]) -> str:
    detail = event.get("detail")
    name = detail.get("eventName") if isinstance(detail, Mapping) else None
    described = f"source {event.get('source')!r}, detail-type {event.get('detail-type')!r}"
    return described + (f", eventName {name!r}" if name else "")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_stack_instance_event(event: Mapping[str, Any]) -> StackInstanceStatusChange:
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedLifecycleEvent(f"stack instance event {event.get('id')!r} has no detail")
    stack_set_arn = _text(detail.get("stack-set-arn"))
    stack_id = _text(detail.get("stack-id"))
    action = _text(detail.get("action"))
    if stack_set_arn is None or stack_id is None or action is None:
        raise MalformedLifecycleEvent(
            f"stack instance event {event.get('id')!r} lacks stack-set-arn, stack-id or action "
            f"(got {dict(detail)!r})"
        )
    stack_set = split_arn(stack_set_arn, what="stack-set-arn")
    # stackset/<name>:<uuid>
    if not stack_set.resource.startswith("stackset/"):
        raise MalformedLifecycleEvent(f"stack-set-arn {stack_set_arn!r} names no stackset")
    stack_set_name = stack_set.resource[len("stackset/") :].split(":", 1)[0]
    stack = split_arn(stack_id, what="stack-id")
    if not (len(stack.account_id) == 12 and stack.account_id.isdigit()) or not stack.region:
        raise MalformedLifecycleEvent(
            f"stack-id {stack_id!r} carries no account id and region of the stack instance"
        )
    status_details = detail.get("status-details")
    status = status_details if isinstance(status_details, Mapping) else {}
    return StackInstanceStatusChange(
        event_id=_text(event.get("id")),
        stack_set_arn=stack_set_arn,
        stack_set_name=stack_set_name,
        project=project_of_stackset(stack_set_name),
        stack_id=stack_id,
        partition=stack.partition,
        account_id=stack.account_id,
        region=stack.region,
        stack_set_region=stack_set.region,
        action=action,
        status=_text(status.get("status")),
        status_reason=_text(status.get("status-reason")),
        detailed_status=_text(status.get("detailed-status")),
    )


def parse_managed_account_event(event: Mapping[str, Any]) -> ManagedAccountCreated:
    detail = _mapping(event.get("detail"))
    service_details = detail.get("serviceEventDetails")
    status = (
        service_details.get("createManagedAccountStatus")
        if isinstance(service_details, Mapping)
        else None
    )
    if not isinstance(status, Mapping):
        raise MalformedLifecycleEvent(
            f"CreateManagedAccount event {event.get('id')!r} has no "
            "detail.serviceEventDetails.createManagedAccountStatus"
        )
    account = _mapping(status.get("account"))
    unit = _mapping(status.get("organizationalUnit"))
    return ManagedAccountCreated(
        event_id=_text(detail.get("eventID")) or _text(event.get("id")),
        account_id=_text(account.get("accountId")),
        account_name=_text(account.get("accountName")),
        organizational_unit_id=_text(unit.get("organizationalUnitId")),
        organizational_unit_name=_text(unit.get("organizationalUnitName")),
        state=_text(status.get("state")),
        message=_text(status.get("message")),
    )


def parse_account_event(event: Mapping[str, Any]) -> OrganizationsChange:
    """An Organizations account event (CreateAccountResult, MoveAccount, CloseAccount)."""
    try:
        return parse_organizations_event(event)
    except OrganizationsEventError as error:
        raise MalformedLifecycleEvent(str(error)) from error
