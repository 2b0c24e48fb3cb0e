"""When the hub's publisher renders the page again (dashboard/publisher.py): after a refresh has
settled, at least hourly, never twice for the same data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.dashboard_page import NEWEST_EXTRACTION_METADATA
from dashboard.publisher import publish_reason
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

    assert publish_reason(registry, page(NOW - timedelta(minutes=30), extracted), now=NOW) is None


def test_a_refresh_still_arriving_waits_and_a_settled_one_is_rendered() -> None:
    shown = NOW - timedelta(hours=1, minutes=1)
    fresh = NOW - timedelta(minutes=2)
    arriving = [spoke("111111111101", fresh, fresh), spoke("111111111102", shown, shown)]
    recent_page = page(NOW - timedelta(minutes=20), shown)

    assert publish_reason(arriving, recent_page, now=NOW) is None
    assert publish_reason(arriving, recent_page, now=NOW + timedelta(minutes=5)) == (
        "a refresh brought newer data"
    )


def test_the_page_is_rendered_at_least_hourly_and_when_missing_or_forced() -> None:
    extracted = NOW - timedelta(hours=3)
    registry = [spoke("111111111101", extracted, extracted)]

    assert publish_reason(registry, page(NOW - timedelta(hours=1), extracted), now=NOW) == (
        "page older than an hour"
    )
    assert publish_reason(registry, None, now=NOW) == "no page yet"
    assert publish_reason(registry, page(NOW, extracted), now=NOW, force=True) == "forced"
