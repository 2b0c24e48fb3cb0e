"""When the hub's publisher renders the page again
(hub_stack/dashboard_publisher/runtime/publisher.py): when a refresh has completed, at least
hourly, never twice for the same data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.dashboard_page import NEWEST_EXTRACTION_METADATA
from hub_stack.dashboard_publisher.runtime.publisher import (
    AFTER_REFRESH,
    FORCED,
    HOURLY,
    publish_reason,
    trigger_of,
)
from hub_stack.runtime.store import FreshSpoke
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.timestamps import format_timestamp

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def spoke(account: str, extracted: datetime, seen: datetime) -> FreshSpoke:
    return FreshSpoke(
        account_id=account,
        project_name="fraud-detection",
        environment="dev",
        state=SpokeState.ENROLLED,
        reason="",
        updated_at=None,
        last_seen_at=format_timestamp(seen),
        last_extraction_date=format_timestamp(extracted),
    )


def page(modified: datetime, newest: datetime) -> dict[str, Any]:
    return {
        "LastModified": modified,
        "Metadata": {NEWEST_EXTRACTION_METADATA: format_timestamp(newest)},
    }


def test_a_page_showing_the_newest_extraction_is_left_alone() -> None:
    extracted = NOW - timedelta(minutes=40)
    registry = [spoke("111111111101", extracted, extracted + timedelta(seconds=5))]
    current = page(NOW - timedelta(minutes=30), extracted)

    assert publish_reason(registry, current, now=NOW, trigger=HOURLY) is None
    # A refresh's schedule delivered twice, or a refresh that brought nothing new.
    assert publish_reason(registry, current, now=NOW, trigger=AFTER_REFRESH) is None


def test_a_completed_refresh_renders_the_newer_data_it_brought() -> None:
    shown = NOW - timedelta(hours=1, minutes=1)
    fresh = NOW - timedelta(minutes=2)
    registry = [spoke("111111111101", fresh, fresh), spoke("111111111102", shown, shown)]
    recent_page = page(NOW - timedelta(minutes=20), shown)

    assert publish_reason(registry, recent_page, now=NOW, trigger=AFTER_REFRESH) == (
        "a refresh completed"
    )
    # The hourly backstop renders newer data too (the spokes' own staggered refreshes).
    assert publish_reason(registry, recent_page, now=NOW, trigger=HOURLY) == (
        "newer data than the page"
    )


def test_the_page_is_rendered_at_least_hourly_and_when_missing_or_forced() -> None:
    extracted = NOW - timedelta(hours=3)
    registry = [spoke("111111111101", extracted, extracted)]
    # The previous hourly run rendered it; this run fires a few seconds early.
    last_hour = page(NOW - timedelta(minutes=59, seconds=50), extracted)

    assert publish_reason(registry, last_hour, now=NOW, trigger=HOURLY) == (
        "page older than an hour"
    )
    assert publish_reason(registry, last_hour, now=NOW, trigger=AFTER_REFRESH) is None
    assert publish_reason(registry, page(NOW - timedelta(minutes=30), extracted), now=NOW) is None
    assert publish_reason(registry, None, now=NOW, trigger=AFTER_REFRESH) == "no page yet"
    assert publish_reason(registry, page(NOW, extracted), now=NOW, trigger=FORCED) == "forced"


def test_the_invocation_names_its_trigger() -> None:
    scheduled_rule_event = {"detail-type": "Scheduled Event", "source": "aws.events"}

    assert trigger_of(scheduled_rule_event) == HOURLY
    assert trigger_of({}) == HOURLY
    assert trigger_of({"RefreshId": "5c3e", "RequestedAt": "2025-06-01T12:00:00Z"}) == (
        AFTER_REFRESH
    )
    assert trigger_of({"force": True}) == FORCED
    assert trigger_of({"force": "yes"}) == HOURLY  # only a real boolean forces
