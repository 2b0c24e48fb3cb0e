"""The hub's refresh Lambda: emit one `metric_fetch` refresh, on demand, to every spoke in scope.

Two routes carry the same event (docs/architecture.md §7, "Refresh fan-out"):
- the hub refresh topic (`REFRESH_TOPIC_ARN`, organization bus-policy mode): one Publish reaches
  every spoke stack subscribed to it, with no per-spoke resource or quota in the hub. The message
  is the event itself (`source`, `detail-type`, `detail`); the spoke's extractor checks the scope;
- the hub bus (`HUB_BUS_NAME`), the sample's route: the fan-out rules the hub's connection function
  keeps in per-account mode forward it to spoke buses, whose rule patterns enforce the scope.

The optional scope (ProjectName, Environment, AccountId) travels in the detail
(contracts/refresh_event.schema.json).

After emitting, the refresh asks for the dashboard page to be rendered once it has completed
(docs/architecture.md §7, "Dashboard"): one EventBridge Scheduler one-time schedule,
`at(RequestedAt + PUBLISH_AFTER_REFRESH)`, named after the RefreshId, that invokes the hub's
dashboard publisher and deletes itself. Every spoke answers within the burst window, so at that
time the refresh is complete; a spoke later than that is late, and the publisher's hourly run
shows it. A refresh whose schedule cannot be made still happened: the failure is logged, not
raised (raising would make Lambda retry, and emit the refresh again). The periodic refresh is owned by each spoke (its own
staggered schedule), so this function only runs on demand (`dsdash refresh`, which calls
`emit_refresh` directly or invokes the function with a scope payload); a scheduled invocation
is still accepted and refreshes everyone.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

import contracts
from contracts import dashboard_page
from runtime_common.aws import client as aws_client
from runtime_common.events import put_events
from runtime_common.settings import SettingsError, from_variable, read_settings
from runtime_common.timestamps import format_timestamp

if TYPE_CHECKING:
    import boto3
    from aws_lambda_powertools.utilities.typing import LambdaContext

SCOPE_FIELDS: Final = ("ProjectName", "Environment", "AccountId")
# What an EventBridge schedule rule delivers when its target has no custom input.
_SCHEDULED_EVENT_DETAIL_TYPE: Final = "Scheduled Event"
# The refresh's burst window: every spoke extracts within about a minute of the request (its
# extractor is invoked by the topic or the bus rule at once), ingest's batching window is 5 s and
# a batch takes seconds. Two minutes after RequestedAt the refresh is complete.
PUBLISH_AFTER_REFRESH: Final = timedelta(minutes=2)
# One-time schedules are named after the refresh; the scheduler may create only these names.
PUBLISH_SCHEDULE_PREFIX: Final = "dsdash-publish-"
PUBLISH_SCHEDULE_GROUP: Final = "default"
# Scheduler delivers at least once; a late or repeated delivery is harmless (the publisher
# renders only when the page does not show the newest extraction), so a few retries are enough.
_PUBLISH_RETRY_POLICY: Final = {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}

logger = Logger(service="dsdash-hub-refresh")


class RefreshScopeError(ValueError):
    """The requested refresh scope is not a valid project, environment or account filter."""


class RefreshConfigurationError(SettingsError):
    """The function's environment is missing or malformed."""


@dataclass(frozen=True)
class PagePublish:
    """Where the page render after a refresh goes: the publisher function, and the role
    EventBridge Scheduler invokes it with."""

    function_arn: str
    role_arn: str
    delay: timedelta = PUBLISH_AFTER_REFRESH

    @classmethod
    def of_hub(cls, partition: str, region: str, account_id: str) -> PagePublish:
        """The hub's publisher and schedule role, by their contract names (`dsdash refresh`
        emits from the operator's session, with no lookup)."""
        return cls(
            function_arn=f"arn:{partition}:lambda:{region}:{account_id}:function:"
            f"{dashboard_page.DASHBOARD_PUBLISHER_FUNCTION_NAME}",
            role_arn=f"arn:{partition}:iam::{account_id}:role/"
            f"{dashboard_page.DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME}",
        )


@dataclass(frozen=True)
class RefreshSettings:
    bus_name: str = from_variable("HUB_BUS_NAME")
    # Unset: refresh events go to the hub bus only (no on-demand topic).
    topic_arn: str | None = from_variable("REFRESH_TOPIC_ARN", default=None)
    # Unset (a hub without the publisher): no page render is scheduled.
    publisher_arn: str | None = from_variable("PAGE_PUBLISHER_ARN", default=None)
    publish_role_arn: str | None = from_variable("PAGE_PUBLISH_ROLE_ARN", default=None)

    @property
    def publish(self) -> PagePublish | None:
        if not self.publisher_arn or not self.publish_role_arn:
            return None
        return PagePublish(self.publisher_arn, self.publish_role_arn)


def handler(event: Mapping[str, Any] | None, context: LambdaContext | None) -> dict[str, Any]:
    settings = read_settings(RefreshSettings, os.environ, error=RefreshConfigurationError)
    scope = scope_from_invocation(event)
    refresh_id = emit_refresh(
        None, settings.bus_name, scope, topic_arn=settings.topic_arn, publish=settings.publish
    )
    return {"RefreshId": refresh_id, "Scope": scope}


def scope_from_invocation(event: Mapping[str, Any] | None) -> dict[str, str]:
    """The scope of an invocation payload: none for a schedule, else the payload's fields."""
    if not event or event.get("detail-type") == _SCHEDULED_EVENT_DETAIL_TYPE:
        return {}
    return normalized_scope(event)


def normalized_scope(scope: Mapping[str, Any] | None) -> dict[str, str]:
    """Drop absent (None) fields and refuse anything that is not a scope field."""
    if scope is None:
        return {}
    if not isinstance(scope, Mapping):
        raise RefreshScopeError(f"a refresh scope must be an object, got {type(scope).__name__}")
    unknown = sorted(set(scope) - set(SCOPE_FIELDS))
    if unknown:
        raise RefreshScopeError(
            f"unknown refresh scope field(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(SCOPE_FIELDS)}"
        )
    return {name: value for name, value in scope.items() if value is not None}


def build_refresh_detail(
    scope: Mapping[str, Any] | None, *, refresh_id: str, requested_at: datetime
) -> dict[str, Any]:
    """The refresh event's detail, validated against the refresh-event schema."""
    detail: dict[str, Any] = {
        "RefreshId": refresh_id,
        "RequestedAt": format_timestamp(requested_at),
        **normalized_scope(scope),
    }
    validator = Draft202012Validator(
        contracts.load_schema("refresh-event"), format_checker=FormatChecker()
    )
    error = best_match(validator.iter_errors(detail))
    if error is not None:
        field = ".".join(str(part) for part in error.absolute_path) or "detail"
        raise RefreshScopeError(f"invalid refresh scope: {field}: {error.message}")
    return detail


def emit_refresh(
    session: boto3.Session | None,
    bus_name: str,
    scope: Mapping[str, Any] | None = None,
    *,
    topic_arn: str | None = None,
    publish: PagePublish | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str:
    """Put one refresh event on `bus_name`, and publish it to `topic_arn` when given; with
    `publish`, schedule the page render for when the refresh has completed. Returns the
    RefreshId.

    Raises RefreshScopeError before any AWS call if the scope is invalid, and
    runtime_common.events.PutEventsFailed if EventBridge does not accept the event. Whatever the
    number of spokes, this is one PutEvents, at most one Publish and at most one CreateSchedule.
    """
    refresh_id = str(uuid.uuid4())
    requested_at = clock()
    detail = build_refresh_detail(scope, refresh_id=refresh_id, requested_at=requested_at)
    if topic_arn:
        publish_refresh(session, topic_arn, detail)
    put_events(
        aws_client(session, "events"),
        [
            {
                "EventBusName": bus_name,
                "Source": contracts.REFRESH_EVENT_SOURCE,
                "DetailType": contracts.REFRESH_EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail, separators=(",", ":")),
            }
        ],
    )
    logger.info("emitted refresh", extra={"bus_name": bus_name, **detail})
    if publish is not None:
        schedule_page_publish(session, publish, refresh_id=refresh_id, requested_at=requested_at)
    return refresh_id


def publish_schedule_name(refresh_id: str) -> str:
    return f"{PUBLISH_SCHEDULE_PREFIX}{refresh_id}"


def schedule_page_publish(
    session: boto3.Session | None,
    publish: PagePublish,
    *,
    refresh_id: str,
    requested_at: datetime,
) -> str | None:
    """One one-time schedule that invokes the publisher when the refresh has completed; returns
    its name, or None when it could not be made (logged: the hourly page still comes).

    The schedule deletes itself after its run (ActionAfterCompletion DELETE), so schedules do not
    pile up toward the account's quota; its input names the refresh, for the publisher's log."""
    name = publish_schedule_name(refresh_id)
    due = (requested_at + publish.delay).astimezone(UTC)
    try:
        aws_client(session, "scheduler").create_schedule(
            Name=name,
            GroupName=PUBLISH_SCHEDULE_GROUP,
            ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Description="dsdash: render the dashboard page once this refresh has completed",
            Target={
                "Arn": publish.function_arn,
                "RoleArn": publish.role_arn,
                "Input": json.dumps(
                    {"RefreshId": refresh_id, "RequestedAt": format_timestamp(requested_at)},
                    separators=(",", ":"),
                ),
                "RetryPolicy": _PUBLISH_RETRY_POLICY,
            },
        )
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "could not schedule the page render after the refresh; the hourly run will render it",
            extra={"refresh_id": refresh_id, "error": str(error)},
        )
        return None
    logger.info("page render scheduled", extra={"schedule": name, "at": format_timestamp(due)})
    return name


def publish_refresh(
    session: boto3.Session | None, topic_arn: str, detail: Mapping[str, Any]
) -> str:
    """Publish the refresh event to the hub refresh topic; returns the SNS MessageId.

    The message is shaped like the EventBridge event the bus route delivers, so the extractor
    reads both the same way. Subscriptions carry no filter policy: SNS allows 200 filter policies
    per topic by default, which would be a per-spoke limit again; the extractor applies the scope.
    """
    message = {
        "source": contracts.REFRESH_EVENT_SOURCE,
        "detail-type": contracts.REFRESH_EVENT_DETAIL_TYPE,
        "detail": dict(detail),
    }
    response = aws_client(session, "sns").publish(
        TopicArn=topic_arn, Message=json.dumps(message, separators=(",", ":"))
    )
    return str(response["MessageId"])
