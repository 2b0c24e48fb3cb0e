"""The demo's history backfill on its simulated clock (`sandbox.history_backfill`), without a
sandbox: which times are extracted, which jobs are added, and what moto's job object says at a
given moment. The whole path (extractor, transport, ingest, page) runs in the demo tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest

from sandbox.history_backfill import (
    WINDOW_EDGES_HOURS,
    _timeline,
    backfill_history,
    history_jobs,
    simulated_hours,
)
from sandbox.seed import TrainingJobPlan

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_extractions_cover_the_days_before_now_oldest_first() -> None:
    times = list(simulated_hours(NOW, 14, 4))
    assert len(times) == 14 * 24 // 4
    assert times == sorted(times)
    assert times[0] == NOW - timedelta(days=14) + timedelta(minutes=30)
    assert times[-1] < NOW  # the demo's own refresh is the newest extraction
    assert {moment.minute for moment in times} == {30}  # never on a job's whole-hour end


def test_the_last_days_are_hourly_and_the_days_before_every_few_hours() -> None:
    times = list(simulated_hours(NOW, 14, 4, hourly_days=1))
    day_ago = NOW - timedelta(days=1)
    older, last_day = [t for t in times if t < day_ago], [t for t in times if t > day_ago]

    assert len(times) == 13 * 24 // 4 + 24
    assert times == sorted(times) and times[-1] < NOW
    assert {b - a for a, b in pairwise(older)} == {timedelta(hours=4)}
    assert {b - a for a, b in pairwise(last_day)} == {timedelta(hours=1)}
    # Hourly throughout, and more hourly days than backfilled days, are the same times.
    assert list(simulated_hours(NOW, 2, 1)) == list(simulated_hours(NOW, 2, 4, hourly_days=5))


def test_added_jobs_are_deterministic_and_stay_clear_of_window_edges() -> None:
    jobs = history_jobs("123456789012", seed=7, days=14, job_name_prefix="fraud-")
    assert jobs == history_jobs("123456789012", seed=7, days=14, job_name_prefix="fraud-")
    assert jobs != history_jobs("123456789012", seed=8, days=14, job_name_prefix="fraud-")
    ages = [job.end_age_hours for job in jobs if job.end_age_hours is not None]
    assert len(ages) == len(jobs) > 14  # finished jobs, a few a day
    assert all(1 <= age < 14 * 24 for age in ages)
    assert all(abs(age - edge) > 1 for age in ages for edge in WINDOW_EDGES_HOURS)
    assert any(job.name.startswith("fraud-") for job in jobs)
    assert all(job.final_metrics for job in jobs if job.status == "Completed")


def test_a_job_is_in_progress_until_its_end_then_finished() -> None:
    plan = TrainingJobPlan(
        name="fraud-history-0000",
        status="Completed",
        instance_type="ml.m5.xlarge",
        instance_count=1,
        spot=False,
        end_age_hours=10,
        training_seconds=3600,
        billable_seconds=3600,
        final_metrics={"validation:auc": 0.9},
    )
    stored = SimpleNamespace()
    timeline = _timeline(plan, stored, NOW)
    ended = NOW - timedelta(hours=10)

    timeline.show_at(ended - timedelta(minutes=1))
    assert stored.training_job_status == "InProgress"
    assert stored.training_end_time is None and stored.final_metric_data_list == []

    timeline.show_at(ended + timedelta(minutes=1))
    assert stored.training_job_status == "Completed"
    # moto keeps naive UTC datetimes
    assert stored.training_end_time == ended.replace(tzinfo=None)
    assert stored.final_metric_data_list[0]["Value"] == 0.9
    assert timeline.created < timeline.started < ended


def test_the_cadence_must_divide_a_day() -> None:
    with pytest.raises(ValueError, match="divide a day"):
        backfill_history(SimpleNamespace(), NOW, every_hours=5)  # type: ignore[arg-type]
