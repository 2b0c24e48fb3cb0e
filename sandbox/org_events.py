"""Organizations lifecycle events for the sandbox, emitted at moto's Organizations backend.

moto gap (docs/architecture.md §6): moto's Organizations emits no CloudTrail events, so nothing would ever
tell the reconciler or the enrollment function that an account was created, moved or closed, or
that an OU was tagged. While `organizations_lifecycle_events()` is active, each successful
CreateAccount, MoveAccount, TagResource, UntagResource and CloseAccount call on moto's
Organizations backend puts the event AWS would deliver through CloudTrail on the management
account's default bus in us-east-1 (Organizations is a global service whose events arrive in
us-east-1 only: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_security_incident-response.html):

- API calls: detail-type "AWS API Call via CloudTrail", the call's arguments in
  `detail.requestParameters` with CloudTrail's lower-camel-case keys;
- account creation: "AWS Service Event via CloudTrail", eventName CreateAccountResult, the
  outcome in `detail.serviceEventDetails.createAccountStatus`.

The shapes match tests/events/org_*.json (AWS's documented examples) and parse with
`enrollment.placement.organizations_events.parse_organizations_event`. The events go through moto's
events backend `put_events`, so the sandbox's EventBridge delivery runs the rules that match.
Because the patch is on the backend, it works for in-process clients and for clients of a served
moto endpoint alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from moto.events.models import events_backends
from moto.organizations.models import OrganizationsBackend

ORGANIZATIONS_EVENT_SOURCE: Final = "aws.organizations"
API_CALL_DETAIL_TYPE: Final = "AWS API Call via CloudTrail"
SERVICE_EVENT_DETAIL_TYPE: Final = "AWS Service Event via CloudTrail"
ORGANIZATIONS_EVENT_REGION: Final = "us-east-1"
SANDBOX_ROLE_NAME: Final = "dsdash-sandbox"

_PATCHED_METHODS: Final = (
    "create_account",
    "move_account",
    "tag_resource",
    "untag_resource",
    "close_account",
)


class OrganizationsEventError(RuntimeError):
    """An Organizations event could not be put on the management account's bus."""


def _cloudtrail_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _service_event_timestamp(moment: datetime) -> str:
    # createAccountStatus timestamps are formatted as in AWS's example: "May 17, 2024 7:19:02 AM".
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year} {hour}:{moment:%M:%S} {moment:%p}"


@dataclass
class OrganizationsEventEmitter:
    """Builds and puts the events; `emitted` keeps every event put, in order, for inspection."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    emitted: list[dict[str, Any]] = field(default_factory=list)

    def api_call(
        self, backend: OrganizationsBackend, event_name: str, request_parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        caller = backend.account_id
        detail = self._common_detail(backend, event_name, self.clock())
        detail.update(
            userIdentity={
                "type": "AssumedRole",
                "principalId": f"AROASANDBOX:{SANDBOX_ROLE_NAME}",
                "arn": f"arn:aws:sts::{caller}:assumed-role/{SANDBOX_ROLE_NAME}/{SANDBOX_ROLE_NAME}",
                "accountId": caller,
            },
            sourceIPAddress="127.0.0.1",
            userAgent="dsdash-sandbox",
            requestParameters=dict(request_parameters),
            responseElements=None,
            requestID=str(uuid.uuid4()),
            eventType="AwsApiCall",
        )
        return self._put(backend, API_CALL_DETAIL_TYPE, detail)

    def create_account_result(
        self, backend: OrganizationsBackend, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        now = self.clock()
        detail = self._common_detail(backend, "CreateAccountResult", now)
        detail.update(
            userIdentity={
                "accountId": self._management_account(backend),
                "invokedBy": "organizations.amazonaws.com",
            },
            sourceIPAddress="organizations.amazonaws.com",
            userAgent="organizations.amazonaws.com",
            requestParameters=None,
            responseElements=None,
            eventType="AwsServiceEvent",
            serviceEventDetails={
                "createAccountStatus": {
                    "id": status["Id"],
                    "state": status["State"],
                    "accountName": status["AccountName"],
                    "accountId": status["AccountId"],
                    "requestedTimestamp": _service_event_timestamp(now),
                    "completedTimestamp": _service_event_timestamp(now),
                }
            },
        )
        return self._put(backend, SERVICE_EVENT_DETAIL_TYPE, detail)

    @staticmethod
    def _management_account(backend: OrganizationsBackend) -> str:
        if backend.org is None:
            raise OrganizationsEventError(
                f"account {backend.account_id} is in no organization; no event to emit"
            )
        management: str = backend.org.master_account_id
        return management

    def _common_detail(
        self, backend: OrganizationsBackend, event_name: str, moment: datetime
    ) -> dict[str, Any]:
        return {
            "eventVersion": "1.09",
            "eventTime": _cloudtrail_time(moment),
            "eventSource": "organizations.amazonaws.com",
            "eventName": event_name,
            "awsRegion": ORGANIZATIONS_EVENT_REGION,
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "managementEvent": True,
            "recipientAccountId": self._management_account(backend),
            "eventCategory": "Management",
        }

    def _put(
        self, backend: OrganizationsBackend, detail_type: str, detail: dict[str, Any]
    ) -> dict[str, Any]:
        management = self._management_account(backend)
        events = events_backends[management][ORGANIZATIONS_EVENT_REGION]
        [entry] = events.put_events(
            [
                {
                    "Source": ORGANIZATIONS_EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": "default",
                }
            ]
        )
        if "EventId" not in entry:
            raise OrganizationsEventError(
                f"putting the {detail['eventName']} event failed: {entry.get('ErrorMessage')}"
            )
        event = {
            "version": "0",
            "id": entry["EventId"],
            "detail-type": detail_type,
            "source": ORGANIZATIONS_EVENT_SOURCE,
            "account": management,
            "time": detail["eventTime"],
            "region": ORGANIZATIONS_EVENT_REGION,
            "resources": [],
            "detail": detail,
        }
        self.emitted.append(event)
        return event


def _tag_list(tags: Any) -> list[dict[str, str]]:
    return [{"key": str(tag["Key"]), "value": str(tag["Value"])} for tag in tags or []]


@contextmanager
def organizations_lifecycle_events(
    emitter: OrganizationsEventEmitter | None = None,
) -> Iterator[OrganizationsEventEmitter]:
    """Emit Organizations CloudTrail events for the duration of the block (see module doc)."""
    emitter = emitter if emitter is not None else OrganizationsEventEmitter()
    originals = {name: getattr(OrganizationsBackend, name) for name in _PATCHED_METHODS}

    def create_account(self: OrganizationsBackend, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = originals["create_account"](self, **kwargs)
        emitter.create_account_result(self, result["CreateAccountStatus"])
        return result

    def move_account(self: OrganizationsBackend, **kwargs: Any) -> None:
        originals["move_account"](self, **kwargs)
        emitter.api_call(
            self,
            "MoveAccount",
            {
                "accountId": kwargs["AccountId"],
                "sourceParentId": kwargs["SourceParentId"],
                "destinationParentId": kwargs["DestinationParentId"],
            },
        )

    def tag_resource(self: OrganizationsBackend, **kwargs: Any) -> None:
        originals["tag_resource"](self, **kwargs)
        emitter.api_call(
            self,
            "TagResource",
            {"resourceId": kwargs["ResourceId"], "tags": _tag_list(kwargs.get("Tags"))},
        )

    def untag_resource(self: OrganizationsBackend, **kwargs: Any) -> None:
        originals["untag_resource"](self, **kwargs)
        emitter.api_call(
            self,
            "UntagResource",
            {"resourceId": kwargs["ResourceId"], "tagKeys": list(kwargs.get("TagKeys") or [])},
        )

    def close_account(self: OrganizationsBackend, **kwargs: Any) -> None:
        originals["close_account"](self, **kwargs)
        emitter.api_call(self, "CloseAccount", {"accountId": kwargs["AccountId"]})

    replacements: dict[str, Callable[..., Any]] = {
        "create_account": create_account,
        "move_account": move_account,
        "tag_resource": tag_resource,
        "untag_resource": untag_resource,
        "close_account": close_account,
    }
    for name, replacement in replacements.items():
        setattr(OrganizationsBackend, name, replacement)
    try:
        yield emitter
    finally:
        for name, original in originals.items():
            setattr(OrganizationsBackend, name, original)
