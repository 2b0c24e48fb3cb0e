"""EventBridge schedule expressions: the one parser the config loader and the dashboard share.

`config.loader` refuses a schedule this module cannot read, so `dsdash status` and the dashboard
never meet one at run time. AWS's rules:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
- `rate(value unit)`: a positive whole number, and the unit singular for 1 (`rate(1 hour)`) and
  plural otherwise (`rate(5 minutes)`); `rate(1 hours)` and `rate(5 minute)` are invalid;
- `cron(minutes hours day-of-month month day-of-week year)`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Final

_MINUTE: Final = 60
_HOUR: Final = 3600
_DAY: Final = 86400
_RATE_UNITS: Final = {"minute": _MINUTE, "hour": _HOUR, "day": _DAY}
_RATE_PATTERN: Final = re.compile(r"^rate\(([0-9]+) ([a-z]+)\)$")
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
        return _rate_seconds(schedule, rate.group(1), rate.group(2))
    cron = _CRON_PATTERN.match(text)
    if cron is None:
        raise ScheduleError(f"refresh schedule {schedule!r} is neither rate(...) nor cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(f"cron schedule {schedule!r} needs 6 fields, got {len(fields)}")
    return _cron_longest_gap_seconds(schedule, fields)


def _rate_seconds(schedule: str, amount_text: str, unit: str) -> int:
    amount = int(amount_text)
    if amount < 1 or amount_text.startswith("0"):
        raise ScheduleError(f"rate schedule {schedule!r}: the value must be a whole number from 1")
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise ScheduleError(
            f"rate schedule {schedule!r}: unknown unit {unit!r} (minute, hour or day)"
        )
    expected_unit = singular if amount == 1 else f"{singular}s"
    if unit != expected_unit:
        # EventBridge refuses the rule: "rate(1 hours)" is not a valid schedule expression.
        raise ScheduleError(
            f"rate schedule {schedule!r}: write rate({amount} {expected_unit}) (AWS wants the"
            " singular unit for 1 and the plural otherwise)"
        )
    return amount * _RATE_UNITS[singular]


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
