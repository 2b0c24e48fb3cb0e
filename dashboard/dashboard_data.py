"""Fill `dashboard.model.DashboardData` from the hub store, for `dsdash dashboard` and `status`.

Every read is a Query: the spoke registry (one partition), the latest values of each known
project (one partition each), then the history of each series those latest values name (one
partition each), so the cost grows with the number of series and the window, not with the
table.

Staleness: a spoke is stale when it sent no data for more than two refresh periods
(`dashboard.model.is_stale`). Only enrolled spokes are expected to report: a pending spoke is
still being connected and a failed or offboarded one is not connected, and their state already
says so, so they are never flagged stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from config.model import DsdashConfig
from config.schedule import refresh_period_seconds
from dashboard.downsample import DEFAULT_MAX_POINTS, AccountCombiner, TimeGrid
from dashboard.model import (
    DashboardData,
    HistorySeries,
    LatestValue,
    MetricError,
    SpokeStatus,
    dimensions_of,
    is_additive,
    is_stale,
)
from hub_stack.runtime.store import (
    DEFAULT_QUARANTINE_DAYS,
    DatapointRecord,
    HubStore,
    SpokeRecord,
    SpokeState,
)
from runtime_common.timestamps import parse_timestamp

DEFAULT_HISTORY_DAYS: Final = 30
# Shown for registry items that never carried a project or environment (an account offboarded
# before it was ever assigned one).
UNASSIGNED: Final = "(unassigned)"

# ----------------------------------------------------------------------------- spokes


@dataclass(frozen=True)
class SpokeFreshness:
    """A registry entry with its stale flag, as `dsdash status` shows it."""

    record: SpokeRecord
    last_seen_at: datetime | None
    stale: bool

    @property
    def project(self) -> str:
        return self.record.project_name or UNASSIGNED

    @property
    def environment(self) -> str:
        return self.record.environment or UNASSIGNED


def spoke_freshness(
    spokes: Iterable[SpokeRecord], *, now: datetime, refresh_period: int
) -> list[SpokeFreshness]:
    """Every spoke with its stale flag, sorted by project, environment and account."""
    rows = []
    for record in spokes:
        last_seen = parse_timestamp(record.last_seen_at) if record.last_seen_at else None
        stale = record.state is SpokeState.ENROLLED and is_stale(last_seen, now, refresh_period)
        rows.append(SpokeFreshness(record, last_seen, stale))
    return sorted(rows, key=lambda row: (row.project, row.environment, row.record.account_id))


def spoke_status(row: SpokeFreshness) -> SpokeStatus:
    return SpokeStatus(
        account_id=row.record.account_id,
        project=row.project,
        environment=row.environment,
        state=row.record.state.value,
        reason=row.record.reason,
        last_seen_at=row.last_seen_at,
        stale=row.stale,
        last_errors=tuple(
            MetricError(error.metric_name, error.error_code, error.message)
            for error in row.record.last_errors
        ),
    )


# ----------------------------------------------------------------------------- values


def latest_value(record: DatapointRecord) -> LatestValue:
    return LatestValue(
        project=record.project_name,
        environment=record.environment,
        metric=record.metric_name,
        unit=record.unit,
        dimensions=dimensions_of(record.dimensions),
        account_id=record.account_id,
        value=float(record.value),
        extraction_date=parse_timestamp(record.extraction_date),
    )


SeriesKey = tuple[str, str, str, tuple[tuple[str, str], ...]]


def series_of(values: Iterable[LatestValue]) -> dict[SeriesKey, str]:
    """Each series (project, environment, metric, dimensions) the latest values name, with its
    unit; the accounts of one environment share a series."""
    series: dict[SeriesKey, str] = {}
    for value in values:
        series.setdefault(
            (value.project, value.environment, value.metric, value.dimensions), value.unit
        )
    return series


def combined_history(
    store: HubStore,
    series: Mapping[SeriesKey, str],
    *,
    since: datetime,
    until: datetime,
    max_points: int = DEFAULT_MAX_POINTS,
) -> list[HistorySeries]:
    """One line per series between `since` and `until`, the accounts of its environment combined
    (summed for additive units, averaged otherwise) on one shared time grid."""
    grid = TimeGrid.spanning(since.timestamp(), until.timestamp(), max_points)
    lines = []
    for (project, environment, metric, dimensions), unit in sorted(series.items()):
        combiner = AccountCombiner(grid, additive=is_additive(unit))
        for datapoint in store.series_history(
            project, environment, metric, dict(dimensions), since=since, until=until
        ):
            combiner.add(
                parse_timestamp(datapoint.extraction_date).timestamp(),
                # Each region of a spoke extracts its own values: they add up like accounts.
                f"{datapoint.account_id}/{datapoint.region}",
                float(datapoint.value),
            )
        points = combiner.points()
        if points:
            lines.append(HistorySeries(project, environment, metric, unit, points, dimensions))
    return lines


def build_dashboard_data(
    store: HubStore,
    config: DsdashConfig,
    *,
    history_days: int = DEFAULT_HISTORY_DAYS,
    quarantine_days: int = DEFAULT_QUARANTINE_DAYS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DashboardData:
    """Everything the HTML dashboard shows, read from the hub with Queries only."""
    if history_days < 1:
        raise ValueError(f"history_days must be at least 1, got {history_days}")
    now = clock()
    period = refresh_period_seconds(config.refresh_schedule)
    registry = store.list_spokes()
    spokes = tuple(
        spoke_status(row) for row in spoke_freshness(registry, now=now, refresh_period=period)
    )
    projects = sorted(
        {spoke.project_name for spoke in registry if spoke.project_name}.union(config.projects)
    )
    latest = tuple(
        latest_value(record) for project in projects for record in store.latest_values(project)
    )
    history = combined_history(
        store, series_of(latest), since=now - timedelta(days=history_days), until=now
    )
    return DashboardData(
        generated_at=now,
        refresh_period_seconds=period,
        spokes=spokes,
        latest_values=latest,
        history=tuple(history),
        quarantine_count=store.count_quarantine(days=quarantine_days),
        history_days=history_days,
    )
