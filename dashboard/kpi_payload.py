"""The JSON block the dashboard page script reads (`dashboard/assets/dashboard.js`).

Written by `dashboard.html.render_dashboard`. Sizes are bounded here: combined lines share one
time grid per chart within `MAX_TOTAL_CHART_POINTS`, and the drill-down's per-spoke lines get
their own budget, `MAX_TOTAL_SPOKE_POINTS` (docs/architecture.md §7, "Dashboard: controls,
drill-down and KPI cards").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from dashboard.downsample import TimeGrid, points_per_series, resample_mean
from dashboard.model import (
    DashboardData,
    HistorySeries,
    LatestValue,
    SpokeSeries,
    SpokeStatus,
    is_additive,
    series_label,
)

# 300,000 numbers are about 2 MB of JSON: 15 charts x 200 lines then get a point a day over 90
# days, and the whole page stays well under 5 MB, small enough to mail.
MAX_TOTAL_CHART_POINTS: Final = 300_000
MAX_POINTS_PER_SERIES: Final = 500
# Significant digits kept for chart values: more than a chart's pixels can show.
CHART_SIGNIFICANT_DIGITS: Final = 6
# The drill-down's per-spoke lines get their own, smaller budget: there are spokes x series of
# them (15,000 at 1,000 spokes x 15 metrics), so at that scale a spoke line gets a point every
# 7 days over 90 days (13 points), while at the demo's few spokes it keeps 2-hourly buckets.
# 225,000 levels of at most 3 digits, with each line's header, are about 1 MB of JSON.
MAX_TOTAL_SPOKE_POINTS: Final = 225_000
MAX_POINTS_PER_SPOKE_LINE: Final = 200
MIN_POINTS_PER_SPOKE_LINE: Final = 8
# Per-account values are sent as whole levels between each line's low and high, two characters
# of this alphabet a value (64 x 64 = 4,096 levels; "~~" for none): see `_add_spoke_lines`.
LEVEL_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SPOKE_LEVELS: Final = len(LEVEL_ALPHABET) ** 2 - 1
SPOKE_SIGNIFICANT_DIGITS: Final = 4
NO_LEVEL: Final = "~~"


def spoke_is_marked_stale(spoke: SpokeStatus) -> bool:
    return spoke.stale and spoke.state != "offboarded"


def page_payload(data: DashboardData) -> dict[str, Any]:
    regions: dict[str, set[str]] = defaultdict(set)
    for value in data.latest_values:
        if value.region:
            regions[value.account_id].add(value.region)
    charts = _charts(data.history)
    tables = _add_spoke_lines(charts, data.spoke_history)
    return {
        "spokeAccounts": tables["accounts"],
        "spokeRegions": tables["regions"],
        "generatedAt": _epoch(data.generated_at),
        "refreshPeriodSeconds": data.refresh_period_seconds,
        "range": _embedded_range(data),
        "groups": _latest_groups(data.latest_values),
        "charts": charts,
        "spokes": [
            _spoke_entry(spoke, sorted(regions[spoke.account_id]))
            for spoke in _spokes_in_display_order(data.spokes)
        ],
    }


def _embedded_range(data: DashboardData) -> dict[str, float | int] | None:
    """The window the page holds: the time-range control never offers more than this."""
    if data.history_days:
        start = data.generated_at.timestamp() - data.history_days * 86400
        return {"start": _epoch_of(start), "end": _epoch(data.generated_at)}
    times = [point[0] for line in data.history for point in line.points]
    if not times:
        return None
    return {"start": _epoch_of(min(times)), "end": _epoch_of(max(times))}


def _epoch_of(seconds: float) -> float | int:
    return int(seconds) if float(seconds).is_integer() else seconds


def spoke_points_per_line(line_count: int) -> int:
    """Grid points each drill-down line may have on the page, for `line_count` spoke lines."""
    return points_per_series(
        [line_count],
        max_points_per_series=MAX_POINTS_PER_SPOKE_LINE,
        max_total_points=MAX_TOTAL_SPOKE_POINTS,
        min_points_per_series=MIN_POINTS_PER_SPOKE_LINE,
    )


def _add_spoke_lines(
    charts: list[dict[str, Any]], spoke_history: Sequence[SpokeSeries]
) -> dict[str, list[str]]:
    """Give each chart its per-spoke lines, on a grid of its own within MAX_TOTAL_SPOKE_POINTS;
    returns the account and region tables the lines index.

    There are spokes x series of these lines (15,000 at 1,000 spokes), so each is an array, not
    an object: `[index of its project/environment line in chart.series, account index, region
    index, low, step, levels]`, a value being `low + level x step`. `levels` is a string of two
    characters a bucket (`LEVEL_ALPHABET`, "~~" for a bucket without a value): 4,096 levels, finer
    than a chart's pixels, in two bytes instead of six digits and a comma.
    """
    by_metric: dict[str, list[SpokeSeries]] = defaultdict(list)
    for series in spoke_history:
        if series.points:
            by_metric[series.metric].append(series)
    budget = spoke_points_per_line(sum(len(lines) for lines in by_metric.values()))
    accounts: dict[str, int] = {}
    regions: dict[str, int] = {}
    for chart in charts:
        lines = by_metric.get(chart["metric"], [])
        parents = {series["label"]: index for index, series in enumerate(chart["series"])}
        if not lines:
            continue
        first = min(point[0] for line in lines for point in line.points)
        last = max(point[0] for line in lines for point in line.points)
        grid = TimeGrid.spanning(first, last, budget)
        chart["spokeStep"] = grid.step
        chart["spokeX"] = grid.times()
        chart["spokeLines"] = []
        for line in sorted(
            lines, key=lambda s: (s.project, s.environment, s.dimensions, s.account_id, s.region)
        ):
            parent = parents.get(series_label(line.project, line.environment, line.dimensions))
            if parent is None:
                continue  # no project/environment line to drill down from
            low, step, levels = _quantized(resample_mean(line.points, grid))
            chart["spokeLines"].append(
                [
                    parent,
                    accounts.setdefault(line.account_id, len(accounts)),
                    regions.setdefault(line.region, len(regions)),
                    low,
                    step,
                    levels,
                ]
            )
    return {"accounts": list(accounts), "regions": list(regions)}


def _quantized(values: Sequence[float | None]) -> tuple[float, float, str]:
    finite = [value for value in values if value is not None and math.isfinite(value)]
    if not finite:
        return 0, 0, NO_LEVEL * len(values)
    low = _chart_number(min(finite), SPOKE_SIGNIFICANT_DIGITS) or 0
    span = max(finite) - low
    # Rounded up, so the highest value's level stays within SPOKE_LEVELS.
    step = float(f"{span / SPOKE_LEVELS * 1.001:.{SPOKE_SIGNIFICANT_DIGITS}g}") if span > 0 else 0
    text = []
    for value in values:
        if value is None or not math.isfinite(value):
            text.append(NO_LEVEL)
            continue
        level = min(SPOKE_LEVELS, max(0, round((value - low) / step))) if step else 0
        high, rest = divmod(level, len(LEVEL_ALPHABET))
        text.append(LEVEL_ALPHABET[high] + LEVEL_ALPHABET[rest])
    return low, step, "".join(text)


def _dimension_text(dimensions: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name}={value}" for name, value in dimensions)


def _latest_groups(values: Sequence[LatestValue]) -> list[dict[str, Any]]:
    """One entry per project, environment, metric and dimensions, with its accounts' rows."""
    grouped: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[LatestValue]]
    grouped = defaultdict(list)
    for value in values:
        grouped[(value.project, value.environment, value.metric, value.dimensions)].append(value)
    groups = []
    for (project, environment, metric, dimensions), members in sorted(grouped.items()):
        unit = members[0].unit
        additive = is_additive(unit)
        total = math.fsum(member.value for member in members)
        groups.append(
            {
                "project": project,
                "environment": environment,
                "metric": metric,
                "dimensions": _dimension_text(dimensions),
                "unit": unit,
                "value": _finite_or_none(total if additive else total / len(members)),
                "combined": "sum" if additive else "mean",
                "extracted": _epoch(max(member.extraction_date for member in members)),
                "regions": sorted({member.region for member in members if member.region}),
                # [account, value, extraction epoch, region]: arrays, not objects, as there are
                # many.
                "accounts": [
                    [
                        member.account_id,
                        _finite_or_none(member.value),
                        _epoch(member.extraction_date),
                        member.region,
                    ]
                    for member in sorted(
                        members, key=lambda member: (member.account_id, member.region)
                    )
                ],
            }
        )
    return groups


def _charts(history: Sequence[HistorySeries]) -> list[dict[str, Any]]:
    by_metric: dict[str, list[HistorySeries]] = defaultdict(list)
    for series in history:
        if series.points:
            by_metric[series.metric].append(series)
    budget = points_per_series(
        [len(lines) for lines in by_metric.values()],
        max_points_per_series=MAX_POINTS_PER_SERIES,
        max_total_points=MAX_TOTAL_CHART_POINTS,
    )
    charts = []
    for metric in sorted(by_metric):
        lines = sorted(
            by_metric[metric],
            key=lambda s: (s.project, _environment_rank(s.environment), s.dimensions),
        )
        first = min(point[0] for line in lines for point in line.points)
        last = max(point[0] for line in lines for point in line.points)
        grid = TimeGrid.spanning(first, last, budget)
        charts.append(
            {
                "metric": metric,
                "unit": lines[0].unit,
                "step": grid.step,
                "x": grid.times(),
                "series": [
                    {
                        "label": series_label(line.project, line.environment, line.dimensions),
                        "project": line.project,
                        "environment": line.environment,
                        "y": [_chart_number(v) for v in resample_mean(line.points, grid)],
                    }
                    for line in lines
                ],
            }
        )
    return charts


def _epoch(moment: datetime) -> float | int:
    # Whole seconds print without ".0": 15,000 account rows make the difference visible.
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN or infinity; the page shows "n/a" for None.
    return value if math.isfinite(value) else None


def _environment_rank(environment: str) -> tuple[int, str]:
    # Lines read dev, then int, then prod, whatever other environments a project has.
    order = {"dev": 0, "int": 1, "prod": 3}
    return (order.get(environment, 2), environment)


def _chart_number(
    value: float | None, digits: int = CHART_SIGNIFICANT_DIGITS
) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = float(f"{value:.{digits}g}")
    return int(rounded) if rounded.is_integer() else rounded


def _spokes_in_display_order(spokes: Sequence[SpokeStatus]) -> list[SpokeStatus]:
    """Problems first (stale, failed enrollment, failing metrics), then by name."""

    def needs_attention(spoke: SpokeStatus) -> bool:
        return spoke_is_marked_stale(spoke) or spoke.state == "failed" or bool(spoke.last_errors)

    return sorted(
        spokes,
        key=lambda spoke: (
            not needs_attention(spoke),
            spoke.project,
            _environment_rank(spoke.environment),
            spoke.account_id,
        ),
    )


def _spoke_entry(spoke: SpokeStatus, regions: list[str]) -> dict[str, Any]:
    return {
        "account": spoke.account_id,
        "regions": regions,
        "project": spoke.project,
        "environment": spoke.environment,
        "state": spoke.state,
        "reason": spoke.reason,
        "lastSeen": _epoch(spoke.last_seen_at) if spoke.last_seen_at else None,
        "stale": spoke_is_marked_stale(spoke),
        "errors": [
            [error.metric_name, error.error_code, error.message] for error in spoke.last_errors
        ],
    }
