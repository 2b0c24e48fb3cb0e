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

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from config.model import DsdashConfig
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
    parse_timestamp,
)

DEFAULT_HISTORY_DAYS: Final = 30
# Shown for registry items that never carried a project or environment (an account offboarded
# before it was ever assigned one).
UNASSIGNED: Final = "(unassigned)"

_MINUTE: Final = 60
_HOUR: Final = 3600
_DAY: Final = 86400
_RATE_UNITS: Final = {
    "minute": _MINUTE,
    "minutes": _MINUTE,
    "hour": _HOUR,
    "hours": _HOUR,
    "day": _DAY,
    "days": _DAY,
}
_RATE_PATTERN: Final = re.compile(r"^rate\(\s*(\d+)\s+([a-z]+)\s*\)$")
_CRON_PATTERN: Final = re.compile(r"^cron\((.*)\)$")
# Approximations for day fields that name days relative to the month (L, W, #): monthly.
_MONTH_SECONDS: Final = 31 * _DAY


class ScheduleError(ValueError):
    """A refresh schedule this module cannot turn into a period."""


def refresh_period_seconds(schedule: str) -> int:
    """The refresh period, in seconds, of an EventBridge schedule expression.

    `rate(n unit)` is exact. For `cron(...)` the period is an approximation: the longest gap
    between two consecutive firings, computed from the minute and hour fields, the days of the
    week or month it runs on (a 31-day month) and the months; `L`, `W` and `#` day forms count as
    monthly. The longest gap is chosen, not the mean, so that a spoke is never called stale merely
    because an irregular schedule (say 09:00 and 17:00) has a long pause; the cost is that a
    missing spoke is flagged later on such schedules.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
    """
    text = schedule.strip()
    rate = _RATE_PATTERN.match(text)
    if rate is not None:
        amount, unit = int(rate.group(1)), rate.group(2)
        if unit not in _RATE_UNITS or amount < 1:
            raise ScheduleError(f"cannot read refresh schedule {schedule!r}: unknown rate unit")
        return amount * _RATE_UNITS[unit]
    cron = _CRON_PATTERN.match(text)
    if cron is None:
        raise ScheduleError(f"refresh schedule {schedule!r} is neither rate(...) nor cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(f"cron schedule {schedule!r} needs 6 fields, got {len(fields)}")
    return _cron_longest_gap_seconds(schedule, fields)


def _cron_longest_gap_seconds(schedule: str, fields: Sequence[str]) -> int:
    minute_field, hour_field, day_of_month, month, day_of_week, _year = fields
    minutes = _expand(schedule, minute_field, 0, 59)
    hours = _expand(schedule, hour_field, 0, 23)
    firings = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    # Within a day, cyclically: the gap after the last firing runs to the first one tomorrow.
    day_minutes = 24 * 60
    gaps = [later - earlier for earlier, later in itertools.pairwise(firings)]
    gaps.append(firings[0] + day_minutes - firings[-1])
    longest = max(gaps) * _MINUTE
    firing_span = (firings[-1] - firings[0]) * _MINUTE

    day_gap_seconds = _day_gap_seconds(schedule, day_of_month, day_of_week)
    if day_gap_seconds > _DAY:
        # From the last firing of a run day to the first firing of the next run day.
        longest = max(longest, day_gap_seconds - firing_span)
    if month not in ("*", "?"):
        months = _expand(schedule, month, 1, 12, names=_MONTH_NAMES)
        longest = max(longest, _longest_cyclic_gap(months, 12) * _MONTH_SECONDS)
    return longest


_MONTH_NAMES: Final = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
_WEEKDAY_NAMES: Final = {
    name: number
    for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}


def _day_gap_seconds(schedule: str, day_of_month: str, day_of_week: str) -> int:
    if day_of_week not in ("*", "?"):
        if any(marker in day_of_week for marker in ("L", "#")):
            return _MONTH_SECONDS
        weekdays = _expand(schedule, day_of_week, 1, 7, names=_WEEKDAY_NAMES)
        return _longest_cyclic_gap(weekdays, 7) * _DAY
    if day_of_month not in ("*", "?"):
        if any(marker in day_of_month for marker in ("L", "W")):
            return _MONTH_SECONDS
        days = _expand(schedule, day_of_month, 1, 31)
        return _longest_cyclic_gap(days, 31) * _DAY
    return _DAY


def _longest_cyclic_gap(values: Sequence[int], cycle: int) -> int:
    ordered = sorted(set(values))
    gaps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    gaps.append(ordered[0] + cycle - ordered[-1])
    return max(gaps)


def _expand(
    schedule: str, field: str, low: int, high: int, *, names: Mapping[str, int] | None = None
) -> list[int]:
    """The values a cron field selects: `*`, `n`, `a-b`, `*/s`, `a/s`, `a-b/s`, and lists."""
    values: set[int] = set()
    for part in field.upper().split(","):
        base, _, step_text = part.partition("/")
        step = _number(schedule, step_text, names=None) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(schedule, first, names), _number(schedule, last, names)
        else:
            start = _number(schedule, base, names)
            end = high if step_text else start
        if step < 1 or not (low <= start <= high and low <= end <= high) or end < start:
            raise ScheduleError(f"cron schedule {schedule!r}: field {field!r} is out of range")
        values.update(range(start, end + 1, step))
    return sorted(values)


def _number(schedule: str, text: str, names: Mapping[str, int] | None) -> int:
    if names is not None and text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleError(f"cron schedule {schedule!r}: cannot read {text!r}")
    return int(text)


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
