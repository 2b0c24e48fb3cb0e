"""Synthetic dashboard data for `make bench` and the dashboard's tests: a large, deterministic
`DashboardData` built without a hub, so the renderer can be measured and exercised at scale.

It lives in `bench/`, not beside the model, because production code never needs invented data.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from dashboard.downsample import DEFAULT_MAX_POINTS, AccountCombiner, TimeGrid, resample_mean
from dashboard.model import (
    DashboardData,
    DashboardDataError,
    HistorySeries,
    LatestValue,
    MetricError,
    SpokeStatus,
    is_additive,
)

SYNTHETIC_METRICS: Final[tuple[tuple[str, str], ...]] = (
    ("TotalCompletedTrainingJobs", "Count"),
    ("CompletedTrainingJobs24h", "Count"),
    ("NumberEndPointsInService", "Count"),
    ("FailedTrainingJobs", "Count"),
    ("TrainingJobsInProgress", "Count"),
    ("BillableTrainingSeconds", "Seconds"),
    ("ManagedSpotSavingsPercent", "Percent"),
    ("EndpointInstanceHours", "Hours"),
    ("BestTrainingObjective", "None"),
    ("NotebookInstancesInService", "Count"),
    ("ModelPackagesPendingApproval", "Count"),
    ("FailedPipelineExecutions", "Count"),
    ("CompletedTrainingJobsByInstanceType", "Count"),
    ("SsmParameterValue", "None"),
    ("TrainingJobsStopped", "Count"),
)


def synthetic_dashboard_data(
    *,
    spoke_count: int = 1000,
    metric_count: int = 15,
    history_days: int = 90,
    history_step_seconds: int = 3600,
    accounts_per_environment: int = 5,
    environments: Sequence[str] = ("dev", "prod"),
    stale_every: int = 50,
    max_points_per_series: int = DEFAULT_MAX_POINTS,
    generated_at: datetime | None = None,
    stream_every_datapoint: bool = False,
    seed: int = 7,
) -> DashboardData:
    """A large, deterministic dashboard: `spoke_count` spokes, each reporting `metric_count`
    metrics every `history_step_seconds` for `history_days` days (1,000 x 15 x 90 days hourly by
    default).

    Spokes are grouped `accounts_per_environment` to a project environment, so 1,000 spokes make
    100 projects with a dev and a prod environment of 5 accounts each. Every `stale_every`-th
    spoke is stale, and every tenth stale spoke also failed a metric.

    Each account's values are `level x shape(t)`. With `stream_every_datapoint`, every datapoint
    of every account goes through `AccountCombiner`, as the store's does (32 million calls at full
    size: slow). By default each shape is resampled once and scaled by the accounts' combined
    level, which gives the same lines because a bucket mean is linear; a test checks both agree.
    """
    if metric_count > len(SYNTHETIC_METRICS):
        raise DashboardDataError(
            f"metric_count {metric_count} exceeds the {len(SYNTHETIC_METRICS)} synthetic metrics"
        )
    now = generated_at or datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    end = now.timestamp()
    start = end - history_days * 86400
    randomness = random.Random(seed)
    metrics = SYNTHETIC_METRICS[:metric_count]
    grid = TimeGrid.spanning(start, end, max_points_per_series)
    epochs = [
        start + step * history_step_seconds
        for step in range(1, history_days * 86400 // history_step_seconds + 1)
    ]

    def shape(phase_hours: int, epoch: float) -> float:
        # A daily cycle plus a slow upward trend: enough shape to see on a chart.
        hours = (epoch - start) / 3600
        return 1.3 + math.sin((hours + phase_hours) * math.tau / 24) / 3 + hours / 5000

    phases = range(0, 24, 4)
    resampled_shapes = {
        phase: resample_mean(((epoch, shape(phase, epoch)) for epoch in epochs), grid)
        for phase in phases
    }

    latest: list[LatestValue] = []
    history: list[HistorySeries] = []
    spokes, accounts_by_environment = _synthetic_spokes(
        spoke_count=spoke_count,
        accounts_per_environment=accounts_per_environment,
        environments=environments,
        stale_every=stale_every,
        now=now,
    )
    for (project, environment), accounts in accounts_by_environment.items():
        for metric_number, (metric, unit) in enumerate(metrics):
            phase = phases[randomness.randrange(len(phases))]
            base = randomness.uniform(1, 100) * (metric_number + 1)
            levels = {
                account_id: base * (1 + number / 10) for number, account_id in enumerate(accounts)
            }
            for account_id, level in levels.items():
                latest.append(
                    LatestValue(
                        project=project,
                        environment=environment,
                        metric=metric,
                        unit=unit,
                        dimensions=(),
                        account_id=account_id,
                        value=round(level * shape(phase, epochs[-1]), 2),
                        extraction_date=datetime.fromtimestamp(epochs[-1], UTC),
                    )
                )
            if stream_every_datapoint:
                combiner = AccountCombiner(grid, additive=is_additive(unit))
                for account_id, level in levels.items():
                    for epoch in epochs:
                        combiner.add(epoch, account_id, level * shape(phase, epoch))
                points = combiner.points()
            else:
                combined_level = math.fsum(levels.values())
                if not is_additive(unit):
                    combined_level /= len(levels)
                points = tuple(
                    (float(epoch), combined_level * value)
                    for epoch, value in zip(grid.times(), resampled_shapes[phase], strict=True)
                    if value is not None
                )
            history.append(HistorySeries(project, environment, metric, unit, points))
    return DashboardData(
        generated_at=now,
        refresh_period_seconds=3600,
        spokes=tuple(spokes),
        latest_values=tuple(latest),
        history=tuple(history),
        quarantine_count=3,
        history_days=history_days,
    )


def _synthetic_spokes(
    *,
    spoke_count: int,
    accounts_per_environment: int,
    environments: Sequence[str],
    stale_every: int,
    now: datetime,
) -> tuple[list[SpokeStatus], dict[tuple[str, str], list[str]]]:
    """The synthetic spokes, and their accounts by project and environment."""
    spokes: list[SpokeStatus] = []
    accounts_by_environment: dict[tuple[str, str], list[str]] = {}
    for index in range(spoke_count):
        group = index // accounts_per_environment
        project = f"project-{group // len(environments):03d}"
        environment = environments[group % len(environments)]
        account_id = f"{100000000000 + index:012d}"
        stale = stale_every > 0 and index % stale_every == stale_every - 1
        errors: tuple[MetricError, ...] = ()
        if stale and index % (stale_every * 10) == stale_every - 1:
            errors = (
                MetricError(
                    "FailedTrainingJobs",
                    "AccessDeniedException",
                    "not authorized to perform sagemaker:ListTrainingJobs",
                ),
            )
        spokes.append(
            SpokeStatus(
                account_id=account_id,
                project=project,
                environment=environment,
                state="enrolled",
                reason="account in a tagged OU",
                last_seen_at=now - timedelta(hours=30 if stale else 1),
                stale=stale,
                last_errors=errors,
            )
        )
        accounts_by_environment.setdefault((project, environment), []).append(account_id)
    return spokes, accounts_by_environment
