"""Parse AWS Organizations events delivered to EventBridge through CloudTrail.

Organizations is a global service: its CloudTrail events reach EventBridge in us-east-1 only, and
on a best-effort basis
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_security_incident-response.html).
The reconciler therefore treats any of them as "something changed" and reconciles everything; the
enrollment function uses the parsed fields to record the account it concerns.

Shapes follow AWS's documented examples:
- API calls (TagResource, UntagResource, MoveAccount, CloseAccount): detail-type
  "AWS API Call via CloudTrail", the call's arguments in `detail.requestParameters` with
  CloudTrail's lower-camel-case keys (`resourceId`, `tags: [{key, value}]`, `tagKeys`,
  `accountId`, `sourceParentId`, `destinationParentId`).
- CreateAccountResult: detail-type "AWS Service Event via CloudTrail", the outcome in
  `detail.serviceEventDetails.createAccountStatus` (`id`, `state`, `accountName`, `accountId`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

ORGANIZATIONS_EVENT_SOURCE: Final = "aws.organizations"
API_CALL_DETAIL_TYPE: Final = "AWS API Call via CloudTrail"
SERVICE_EVENT_DETAIL_TYPE: Final = "AWS Service Event via CloudTrail"


class OrganizationsEventError(ValueError):
    """The event is not an Organizations CloudTrail event this module understands."""


@dataclass(frozen=True)
class OrganizationsChange:
    event_name: str
    event_id: str | None
    event_time: str | None
    # The account the event is about (MoveAccount, CloseAccount, CreateAccountResult, or a
    # TagResource/UntagResource on an account).
    account_id: str | None = None
    # The tagged or untagged resource: an OU id, a root id, an account id or a policy id.
    resource_id: str | None = None
    source_parent_id: str | None = None
    destination_parent_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    removed_tag_keys: tuple[str, ...] = ()
    # CreateAccountResult only: IN_PROGRESS, SUCCEEDED or FAILED, and the failure reason.
    create_account_state: str | None = None
    create_account_failure_reason: str | None = None

    @property
    def organizational_unit_id(self) -> str | None:
        """The OU (or root) the event concerns: the tagged resource or the destination parent."""
        if self.resource_id and self.resource_id.startswith(("ou-", "r-")):
            return self.resource_id
        return self.destination_parent_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "EventName": self.event_name,
            "EventId": self.event_id,
            "EventTime": self.event_time,
            "AccountId": self.account_id,
            "ResourceId": self.resource_id,
            "OrganizationalUnitId": self.organizational_unit_id,
            "SourceParentId": self.source_parent_id,
            "DestinationParentId": self.destination_parent_id,
            "Tags": dict(self.tags),
            "RemovedTagKeys": list(self.removed_tag_keys),
            "CreateAccountState": self.create_account_state,
        }


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    # CloudTrail lower-cases the first letter of request fields; accept the API's spelling too.
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def _is_account_id(value: str | None) -> bool:
    return value is not None and len(value) == 12 and value.isdigit()


def is_organizations_event(event: Mapping[str, Any]) -> bool:
    return event.get("source") == ORGANIZATIONS_EVENT_SOURCE and isinstance(
        event.get("detail"), Mapping
    )


def _create_account_result(
    common: Mapping[str, Any], detail: Mapping[str, Any], _: Mapping[str, Any]
) -> OrganizationsChange:
    service_details: Mapping[str, Any] = detail.get("serviceEventDetails") or {}
    status = service_details.get("createAccountStatus")
    if not isinstance(status, Mapping):
        raise OrganizationsEventError(
            f"CreateAccountResult event {common['event_id']!r} has no "
            "serviceEventDetails.createAccountStatus"
        )
    return OrganizationsChange(
        **common,
        account_id=status.get("accountId"),
        create_account_state=status.get("state"),
        create_account_failure_reason=status.get("failureReason"),
    )


def _tag_resource(
    common: Mapping[str, Any], _: Mapping[str, Any], request: Mapping[str, Any]
) -> OrganizationsChange:
    resource_id = _first(request, "resourceId", "ResourceId")
    tags = {
        str(_first(tag, "key", "Key")): str(_first(tag, "value", "Value") or "")
        for tag in _first(request, "tags", "Tags") or []
    }
    return OrganizationsChange(
        **common,
        resource_id=resource_id,
        account_id=resource_id if _is_account_id(resource_id) else None,
        tags=MappingProxyType(tags),
    )


def _untag_resource(
    common: Mapping[str, Any], _: Mapping[str, Any], request: Mapping[str, Any]
) -> OrganizationsChange:
    resource_id = _first(request, "resourceId", "ResourceId")
    return OrganizationsChange(
        **common,
        resource_id=resource_id,
        account_id=resource_id if _is_account_id(resource_id) else None,
        removed_tag_keys=tuple(_first(request, "tagKeys", "TagKeys") or ()),
    )


def _move_account(
    common: Mapping[str, Any], _: Mapping[str, Any], request: Mapping[str, Any]
) -> OrganizationsChange:
    return OrganizationsChange(
        **common,
        account_id=_first(request, "accountId", "AccountId"),
        source_parent_id=_first(request, "sourceParentId", "SourceParentId"),
        destination_parent_id=_first(request, "destinationParentId", "DestinationParentId"),
    )


def _account_call(
    common: Mapping[str, Any], _: Mapping[str, Any], request: Mapping[str, Any]
) -> OrganizationsChange:
    # CloseAccount, RemoveAccountFromOrganization and other account-scoped calls.
    return OrganizationsChange(**common, account_id=_first(request, "accountId", "AccountId"))


_Parser = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], OrganizationsChange]
# eventName -> what it says, from (common fields, detail, requestParameters). Any other event
# name is read as an account-scoped call.
_PARSERS: Final[Mapping[str, _Parser]] = MappingProxyType(
    {
        "CreateAccountResult": _create_account_result,
        "TagResource": _tag_resource,
        "UntagResource": _untag_resource,
        "MoveAccount": _move_account,
    }
)


def parse_organizations_event(event: Mapping[str, Any]) -> OrganizationsChange:
    """Extract what changed from an Organizations CloudTrail event (see module docstring)."""
    if not is_organizations_event(event):
        raise OrganizationsEventError(
            f"expected an event with source {ORGANIZATIONS_EVENT_SOURCE!r} and a detail object, "
            f"got source {event.get('source')!r}"
        )
    detail_type = event.get("detail-type")
    if detail_type not in (API_CALL_DETAIL_TYPE, SERVICE_EVENT_DETAIL_TYPE):
        raise OrganizationsEventError(
            f"unexpected detail-type {detail_type!r} for an Organizations event; expected "
            f"{API_CALL_DETAIL_TYPE!r} or {SERVICE_EVENT_DETAIL_TYPE!r}"
        )
    detail: Mapping[str, Any] = event["detail"]
    event_name = detail.get("eventName")
    if not isinstance(event_name, str) or not event_name:
        raise OrganizationsEventError(f"Organizations event {event.get('id')!r} has no eventName")
    common: dict[str, Any] = {
        "event_name": event_name,
        "event_id": detail.get("eventID") or event.get("id"),
        "event_time": detail.get("eventTime") or event.get("time"),
    }
    request: Mapping[str, Any] = detail.get("requestParameters") or {}
    return _PARSERS.get(event_name, _account_call)(common, detail, request)
