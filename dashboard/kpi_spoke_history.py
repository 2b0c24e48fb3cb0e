"""Per-spoke history for the dashboard's drill-down, read through the query layer.

`dashboard.dashboard_data.combined_history` reads one line per project and environment (spokes
combined in SQL). The drill-down from such a line needs each spoke's own line: the same aggregate
query with `per_spoke=True` (`hub_stack.history_query.reads.aggregate`), on a coarser grid than the
combined lines, because there are spokes x series of them (docs/architecture.md §7, "Dashboard:
controls, drill-down and KPI cards"). The engine still returns O(spoke lines x buckets) rows,
never raw history.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from typing import Final

from dashboard.downsample import TimeGrid
from dashboard.kpi_payload import spoke_points_per_line
from dashboard.model import DashboardData, SpokeSeries
from hub_stack.history_query.queries import HistoryFilters
from hub_stack.history_query.reads import HistoryEngine, aggregate, aggregate_rows

# Buckets per spoke line read from the engine when the caller names no budget.
SPOKE_POINTS_READ: Final = 200

SpokeKey = tuple[str, str, str, tuple[tuple[str, str], ...], str, str]


def spoke_history(
    engine: HistoryEngine,
    *,
    since: datetime,
    until: datetime,
    max_points: int = SPOKE_POINTS_READ,
) -> tuple[SpokeSeries, ...]:
    """Every spoke's line of every series between `since` and `until`: its mean per bucket."""
    grid = TimeGrid.spanning(since.timestamp(), until.timestamp(), max_points)
    result = aggregate(
        engine, HistoryFilters(since=since, until=until), bucket_seconds=grid.step, per_spoke=True
    )
    points: dict[SpokeKey, list[tuple[float, float]]] = {}
    units: dict[SpokeKey, str] = {}
    for row in aggregate_rows(result):
        dimensions = tuple(sorted(json.loads(row.dimensions).items()))
        key = (
            row.project,
            row.environment,
            row.metric_name,
            dimensions,
            row.account_id or "",
            row.region or "",
        )
        if units.setdefault(key, row.unit) != row.unit:
            continue  # one line per series and spoke, in the unit it first reported
        points.setdefault(key, []).append((float(row.bucket_start), row.mean))
    return tuple(
        SpokeSeries(
            project=key[0],
            environment=key[1],
            metric=key[2],
            unit=units[key],
            account_id=key[4],
            region=key[5],
            points=tuple(points[key]),
            dimensions=key[3],
        )
        for key in sorted(points)
    )


def with_spoke_history(data: DashboardData, engine: HistoryEngine) -> DashboardData:
    """`data` with the per-spoke lines of its history window (the drill-down's data).

    The engine is asked for no finer a grid than the page will embed
    (`dashboard.kpi_payload.spoke_points_per_line`), one line per spoke and series the latest
    values name, so its output stays O(page budget) whatever the number of spokes."""
    days = data.history_days or 30
    since = data.generated_at - timedelta(days=days)
    lines = {
        (value.project, value.environment, value.metric, value.dimensions, value.account_id)
        for value in data.latest_values
    }
    return dataclasses.replace(
        data,
        spoke_history=spoke_history(
            engine,
            since=since,
            until=data.generated_at,
            max_points=spoke_points_per_line(max(1, len(lines))),
        ),
    )
