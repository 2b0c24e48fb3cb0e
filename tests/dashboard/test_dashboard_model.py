from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dashboard_sample_data import GENERATED_AT, sample_dashboard_data

from bench.synthetic_dashboard import synthetic_dashboard_data
from dashboard.model import (
    DashboardData,
    DashboardDataError,
    SpokeStatus,
    is_stale,
)


def test_json_round_trip_keeps_every_field() -> None:
    data = sample_dashboard_data()

    assert DashboardData.from_json(data.to_json()) == data


def test_from_json_names_the_missing_field() -> None:
    document = json.loads(sample_dashboard_data().to_json())
    del document["spokes"][0]["stale"]

    with pytest.raises(DashboardDataError, match="stale"):
        DashboardData.from_json(json.dumps(document))


def test_unknown_spoke_state_is_refused_with_the_account() -> None:
    with pytest.raises(DashboardDataError, match=r"123456789012.*'retired'"):
        SpokeStatus("123456789012", "p", "dev", "retired", "", None, stale=True)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(DashboardDataError, match="timezone-aware"):
        DashboardData(generated_at=datetime(2025, 1, 1), refresh_period_seconds=3600)


def test_a_spoke_is_stale_after_more_than_two_refresh_periods() -> None:
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)

    assert not is_stale(now - timedelta(hours=2), now, 3600)
    assert is_stale(now - timedelta(hours=2, seconds=1), now, 3600)
    assert is_stale(None, now, 3600)


def test_synthetic_dashboard_has_the_benchmark_shape() -> None:
    data = synthetic_dashboard_data()

    assert len(data.spokes) == 1000
    assert len({value.metric for value in data.latest_values}) == 15
    assert len(data.latest_values) == 1000 * 15
    # 100 projects x (dev, prod) lines per metric, each bounded.
    assert len(data.history) == 200 * 15
    assert max(len(series.points) for series in data.history) <= 500
    assert sum(spoke.stale for spoke in data.spokes) == 20
    assert data.history_days == 90


def test_synthetic_shortcut_equals_streaming_every_datapoint() -> None:
    shape = {
        "spoke_count": 8,
        "metric_count": 9,  # includes a Percent and a None metric, which are averaged
        "history_days": 3,
        "accounts_per_environment": 2,
        "generated_at": GENERATED_AT,
    }
    fast = synthetic_dashboard_data(**shape)
    streamed = synthetic_dashboard_data(**shape, stream_every_datapoint=True)

    assert fast.latest_values == streamed.latest_values
    for fast_series, streamed_series in zip(fast.history, streamed.history, strict=True):
        assert [t for t, _ in fast_series.points] == [t for t, _ in streamed_series.points]
        for (_, fast_value), (_, streamed_value) in zip(
            fast_series.points, streamed_series.points, strict=True
        ):
            assert fast_value == pytest.approx(streamed_value, rel=1e-9)
