"""Fill `dashboard.model.DashboardData` from the hub, for `dsdash dashboard` and `status`.

The registry and latest values are DynamoDB Queries (one partition each). History comes from the
history table through the query layer (`hub_stack.history_query`, DuckDB or Athena): ONE
aggregate query for the whole window, grouped by series and time bucket, the spokes of an
environment combined in SQL, so the client receives O(series x buckets) rows whatever the number
of spokes and datapoints (docs/architecture.md §7, "Hub data plane: reads").

Staleness: a spoke is stale when it sent no data for more than two refresh periods
(`dashboard.model.is_stale`). Only enrolled spokes are expected to report: a pending spoke is
still being connected and a failed or offboarded one is not connected, and their state already
says so, so they are never flagged stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from config.model import DsdashConfig
from config.schedule import refresh_period_seconds
from dashboard.downsample import DEFAULT_MAX_POINTS, TimeGrid
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
from hub_stack.history_query.queries import HistoryFilters
from hub_stack.history_query.reads import HistoryEngine, aggregate, aggregate_rows
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.quarantine import DEFAULT_QUARANTINE_DAYS
from hub_stack.runtime.store import FreshSpoke, HubSnapshot, HubStore
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.timestamps import parse_timestamp

DEFAULT_HISTORY_DAYS: Final = 30
# Shown for registry items that never carried a project or environment (an account offboarded
# before it was ever assigned one).
UNASSIGNED: Final = "(unassigned)"

# ----------------------------------------------------------------------------- spokes


@dataclass(frozen=True)
class SpokeFreshness:
    """A registry entry with its stale flag, as `dsdash status` shows it."""

    record: FreshSpoke
    last_seen_at: datetime | None
    stale: bool

    @property
    def project(self) -> str:
        return self.record.project_name or UNASSIGNED

    @property
    def environment(self) -> str:
        return self.record.environment or UNASSIGNED


def spoke_freshness(
    spokes: Iterable[FreshSpoke], *, now: datetime, refresh_period: int
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
        region=record.region,
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
    engine: HistoryEngine,
    *,
    since: datetime,
    until: datetime,
    max_points: int = DEFAULT_MAX_POINTS,
    units: Mapping[SeriesKey, str] | None = None,
) -> list[HistorySeries]:
    """One line per series between `since` and `until` on one shared time grid, the spokes of its
    environment combined (summed for additive units, averaged otherwise) from each spoke's mean
    in the bucket, as `dashboard.downsample.AccountCombiner` combines them. A series' unit is its
    latest value's when `units` names it (the history keeps the unit each value was sent with)."""
    grid = TimeGrid.spanning(since.timestamp(), until.timestamp(), max_points)
    result = aggregate(engine, HistoryFilters(since=since, until=until), bucket_seconds=grid.step)
    points: dict[SeriesKey, list[tuple[float, float]]] = {}
    row_units: dict[SeriesKey, str] = {}
    for row in aggregate_rows(result):
        dimensions = tuple(sorted(json.loads(row.dimensions).items()))
        key = (row.project, row.environment, row.metric_name, dimensions)
        unit = row_units.setdefault(key, (units or {}).get(key, row.unit))
        if row.unit != unit:
            continue  # a unit the series no longer uses: one line per series, in its unit
        value = row.spoke_mean_total if is_additive(unit) else row.spoke_mean_average
        points.setdefault(key, []).append((float(row.bucket_start), value))
    return [
        HistorySeries(key[0], key[1], key[2], row_units[key], tuple(points[key]), key[3])
        for key in sorted(points)
    ]


def build_dashboard_data(
    store: HubStore,
    config: DsdashConfig,
    *,
    history_engine: HistoryEngine,
    history_days: int = DEFAULT_HISTORY_DAYS,
    quarantine_days: int = DEFAULT_QUARANTINE_DAYS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DashboardData:
    """Everything the HTML dashboard shows: registry and latest values from the hub table,
    history aggregated by `history_engine`."""
    return assemble_dashboard_data(
        store,
        refresh_schedule=config.refresh_schedule,
        projects=config.projects,
        history_engine=history_engine,
        history_days=history_days,
        quarantine_days=quarantine_days,
        clock=clock,
    )


def assemble_dashboard_data(
    store: HubStore,
    *,
    refresh_schedule: str,
    projects: Iterable[str],
    history_engine: HistoryEngine,
    history_days: int = DEFAULT_HISTORY_DAYS,
    quarantine_days: int = DEFAULT_QUARANTINE_DAYS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    snapshot: HubSnapshot | None = None,
) -> DashboardData:
    """`build_dashboard_data` from the two things it needs of the config, for the hub's
    publisher function, which has the config's schedule and project names in its environment.

    `snapshot` is the table as the caller already read it (`HubStore.snapshot` of at least
    `projects`): the publisher reads it to decide whether to render, and the page shows what
    that read saw without reading the same items again."""
    configured_projects = tuple(projects)
    if history_days < 1:
        raise ValueError(f"history_days must be at least 1, got {history_days}")
    now = clock()
    period = refresh_period_seconds(refresh_schedule)
    if snapshot is None:
        snapshot = store.snapshot(extra_projects=configured_projects)
    spokes = tuple(
        spoke_status(row)
        for row in spoke_freshness(snapshot.spokes, now=now, refresh_period=period)
    )
    latest = tuple(
        latest_value(record)
        for project in sorted(snapshot.latest_values)
        for record in snapshot.latest_values[project]
    )
    history = combined_history(
        history_engine,
        since=now - timedelta(days=history_days),
        until=now,
        units=series_of(latest),
    )
    return DashboardData(
        generated_at=now,
        refresh_period_seconds=period,
        spokes=spokes,
        latest_values=latest,
        history=tuple(history),
        quarantine_count=store.quarantine.count(days=quarantine_days),
        history_days=history_days,
    )
