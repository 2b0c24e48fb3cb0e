"""What asked this extraction, and whether it is for this spoke (docs/architecture.md §7).

An extraction starts in one of three ways:
- the spoke's own schedule (EventBridge Scheduler, with a flexible window so thousands of spokes
  do not extract in the same second): always for this spoke;
- a refresh event on the spoke bus (the sample's route, forwarded by the hub's fan-out rules):
  the spoke's rule pattern already enforced the scope;
- an SNS notification from the hub refresh topic: the message is the refresh event, and the
  subscription has no filter policy (SNS allows 200 per topic by default, a per-spoke limit we
  avoid), so the scope in its detail is checked here against this spoke's project, environment
  and account. A spoke out of scope returns without extracting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts import REFRESH_EVENT_DETAIL_TYPE, REFRESH_EVENT_SOURCE

# Scope field of the refresh detail -> what of this spoke it must equal.
SCOPE_FIELDS: Final = ("ProjectName", "Environment", "AccountId")


class RefreshMessageError(ValueError):
    """An SNS notification that does not carry a refresh event."""


@dataclass(frozen=True)
class RefreshRequest:
    """The refresh behind an invocation: its detail (empty for a schedule) and its route."""

    route: str  # "schedule", "bus" or "topic"
    detail: Mapping[str, Any]

    @property
    def refresh_id(self) -> str | None:
        value = self.detail.get("RefreshId")
        return value if isinstance(value, str) else None

    def out_of_scope(
        self, *, project: str, environment: str, account_id: Callable[[], str]
    ) -> str | None:
        """Why this spoke is not in the refresh's scope, or None when it is. `account_id` is
        only called when the scope names an account."""
        if self.route != "topic":
            return None  # a schedule is ours; the bus route's rule pattern already checked
        mine = {"ProjectName": lambda: project, "Environment": lambda: environment}
        for name in SCOPE_FIELDS:
            wanted = self.detail.get(name)
            if wanted is None:
                continue
            actual = mine[name]() if name in mine else account_id()
            if wanted != actual:
                return f"refresh {self.refresh_id} is scoped to {name} {wanted!r}, this spoke is {actual!r}"
        return None


def refresh_request_of(event: object) -> RefreshRequest:
    """Read the invocation payload: an SNS notification, a refresh event, or anything else (a
    schedule, or a direct invoke), which refreshes this spoke."""
    if not isinstance(event, Mapping):
        return RefreshRequest(route="schedule", detail={})
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        notification = records[0].get("Sns")
        if isinstance(notification, Mapping):
            return RefreshRequest(route="topic", detail=_refresh_detail(notification))
    detail = event.get("detail")
    if isinstance(detail, Mapping):
        # An EventBridge event: the spoke bus rule only lets refresh events through.
        return RefreshRequest(route="bus", detail=detail)
    return RefreshRequest(route="schedule", detail={})


def _refresh_detail(notification: Mapping[str, Any]) -> Mapping[str, Any]:
    # SNS invokes a Lambda with one record per notification
    # (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html).
    try:
        message = json.loads(str(notification.get("Message", "")))
    except json.JSONDecodeError as error:
        raise RefreshMessageError(f"SNS message is not JSON: {error}") from error
    if (
        not isinstance(message, Mapping)
        or message.get("source") != REFRESH_EVENT_SOURCE
        or message.get("detail-type") != REFRESH_EVENT_DETAIL_TYPE
        or not isinstance(message.get("detail"), Mapping)
    ):
        raise RefreshMessageError(
            f"SNS message from {notification.get('TopicArn')} is not a {REFRESH_EVENT_SOURCE} "
            "refresh event"
        )
    detail: Mapping[str, Any] = message["detail"]
    return detail
