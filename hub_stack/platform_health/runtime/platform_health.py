"""The platform-health function: publishes how many spokes are stale and failed.

It runs on a schedule in the hub, reads the spoke registry (one paginated Query, the same one
`dsdash status` makes) and puts three CloudWatch metrics in the `dsdash` namespace, on which the
hub stack's alarms fire (docs/architecture.md §7, "Alerts"):
- `SpokesFailed`: spokes whose enrollment state is `failed`;
- `SpokesStale`: enrolled spokes that sent nothing for `STALE_AFTER_SECONDS` (two refresh
  periods, as `dsdash status` judges them), including enrolled spokes never heard from;
- `SpokesEnrolled`, for context on the same graph.

A schedule of its own, rather than ingest: ingest runs only when events arrive, so it could not
notice that they stopped.

Environment: TABLE_NAME, STALE_AFTER_SECONDS.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from hub_stack.runtime.health_metrics import (
    NAMESPACE,
    SPOKES_ENROLLED,
    SPOKES_FAILED,
    SPOKES_STALE,
)
from hub_stack.runtime.store import FreshSpoke, HubStore
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.aws import client as aws_client
from runtime_common.settings import SettingsError, from_variable, read_settings, whole_number
from runtime_common.timestamps import parse_timestamp

if TYPE_CHECKING:
    import boto3
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="dsdash-hub-health")


class HealthConfigurationError(SettingsError):
    """The function's environment is missing or malformed."""


@dataclass(frozen=True)
class SpokeHealth:
    enrolled: int
    stale: tuple[str, ...]  # account ids
    failed: tuple[str, ...]


def judge_spokes(
    spokes: Sequence[FreshSpoke], *, now: datetime, stale_after: timedelta
) -> SpokeHealth:
    enrolled = [spoke for spoke in spokes if spoke.state is SpokeState.ENROLLED]
    stale = [
        spoke.account_id
        for spoke in enrolled
        if spoke.last_seen_at is None or now - parse_timestamp(spoke.last_seen_at) > stale_after
    ]
    failed = [spoke.account_id for spoke in spokes if spoke.state is SpokeState.FAILED]
    return SpokeHealth(len(enrolled), tuple(sorted(stale)), tuple(sorted(failed)))


def publish_spoke_health(
    store: HubStore,
    cloudwatch: Any,
    *,
    stale_after: timedelta,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SpokeHealth:
    now = clock()
    health = judge_spokes(store.spokes_with_freshness(), now=now, stale_after=stale_after)
    # One PutMetricData call for the three values (up to 1,000 per call).
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {"MetricName": name, "Value": float(value), "Unit": "Count", "Timestamp": now}
            for name, value in (
                (SPOKES_STALE, len(health.stale)),
                (SPOKES_FAILED, len(health.failed)),
                (SPOKES_ENROLLED, health.enrolled),
            )
        ],
    )
    logger.info(
        "published spoke health",
        extra={
            "enrolled": health.enrolled,
            "stale": list(health.stale),
            "failed": list(health.failed),
        },
    )
    return health


def _positive_seconds(text: str) -> timedelta:
    seconds = whole_number(text)
    if seconds < 1:
        raise ValueError(f"{text!r} must be a positive whole number of seconds")
    return timedelta(seconds=seconds)


def _whole_seconds(duration: timedelta) -> str:
    return str(int(duration.total_seconds()))


@dataclass(frozen=True)
class HealthSettings:
    table_name: str = from_variable("TABLE_NAME")
    stale_after: timedelta = from_variable(
        "STALE_AFTER_SECONDS", parse=_positive_seconds, render=_whole_seconds
    )


def handler(
    event: Any, context: LambdaContext | None, *, session: boto3.Session | None = None
) -> dict[str, Any]:
    settings = read_settings(HealthSettings, os.environ, error=HealthConfigurationError)
    health = publish_spoke_health(
        HubStore(settings.table_name, session),
        aws_client(session, "cloudwatch"),
        stale_after=settings.stale_after,
    )
    return {
        "enrolled": health.enrolled,
        "stale": list(health.stale),
        "failed": list(health.failed),
    }
