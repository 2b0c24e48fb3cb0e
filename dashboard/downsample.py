"""Bounding long histories: combine accounts, then average onto a shared, coarse time grid.

Why bucketed means on one grid per chart, rather than largest-triangle-three-buckets (LTTB):
- Every line of a chart (dev, prod, ...) then shares one x array. uPlot draws aligned columns
  directly; LTTB keeps a different set of timestamps per line, which must be joined in the browser
  into a union table of up to lines x points rows, mostly nulls (at 200 lines x 500 points, a
  100,000-row table per chart), and the file would carry one timestamp per value instead of one
  per chart.
- Hovering a chart reads every line at the same instant, which is what comparing dev with prod
  needs.
- Memory is bounded while streaming: `AccountCombiner` keeps a sum and a count per bucket and
  account, whatever the number of datapoints read from the table.
The cost is that a spike narrower than a bucket is averaged down. Buckets are "nice" durations
(1 h, 6 h, 1 day, ...) so a hovered time reads naturally; 90 days fit 500 points at 6 h.

Combining accounts: a project environment may have several accounts. Their values are combined
per bucket from each account's mean in that bucket: summed for additive units (jobs, seconds,
hours), averaged otherwise (percentages, objectives), as `dashboard.model.is_additive` decides.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

# Candidate bucket widths in seconds, smallest first.
NICE_STEPS_SECONDS: Final[tuple[int, ...]] = (
    60,
    300,
    600,
    900,
    1800,
    3600,
    2 * 3600,
    3 * 3600,
    4 * 3600,
    6 * 3600,
    8 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
)
DEFAULT_MAX_POINTS: Final = 500


class DownsampleError(ValueError):
    """A grid or a point budget that cannot be built from the given bounds."""


@dataclass(frozen=True)
class TimeGrid:
    """`count` buckets of `step` seconds from `start` (epoch seconds, aligned to `step` in UTC).

    A bucket is named by its start time.
    """

    start: int
    step: int
    count: int

    @classmethod
    def spanning(cls, first: float, last: float, max_points: int = DEFAULT_MAX_POINTS) -> TimeGrid:
        """The finest nice grid covering [first, last] with at most `max_points` buckets."""
        if max_points < 1:
            raise DownsampleError(f"max_points must be at least 1, got {max_points}")
        if last < first:
            raise DownsampleError(f"grid end {last} is before its start {first}")
        if not (math.isfinite(first) and math.isfinite(last)):
            raise DownsampleError(f"grid bounds must be finite, got {first}..{last}")
        # Beyond the table (a very long window on a small budget), keep doubling: once a step
        # exceeds `last`, everything falls into one bucket, so the search always ends.
        longest = NICE_STEPS_SECONDS[-1]
        doubled = (longest * 2**power for power in itertools.count(1))
        for step in itertools.chain(NICE_STEPS_SECONDS, doubled):
            start = math.floor(first / step) * step
            count = math.floor((last - start) / step) + 1
            if count <= max_points:
                return cls(start=int(start), step=step, count=int(count))
        raise AssertionError("unreachable: the step sequence is unbounded")

    def index_of(self, epoch: float) -> int | None:
        """The bucket holding `epoch`, or None when it is outside the grid."""
        index = math.floor((epoch - self.start) / self.step)
        return index if 0 <= index < self.count else None

    def times(self) -> list[int]:
        return [self.start + index * self.step for index in range(self.count)]


def resample_mean(points: Iterable[tuple[float, float]], grid: TimeGrid) -> list[float | None]:
    """The mean of the points in each bucket of `grid`; None for an empty bucket.

    Points outside the grid are outside the chart's window and are left out.
    """
    sums = [0.0] * grid.count
    counts = [0] * grid.count
    for epoch, value in points:
        index = grid.index_of(epoch)
        if index is None or math.isnan(value):
            continue
        sums[index] += value
        counts[index] += 1
    return [total / count if count else None for total, count in zip(sums, counts, strict=True)]


class AccountCombiner:
    """Streams datapoints of one series from several accounts into one bounded line.

    Memory is one (sum, count) per bucket and account, never per datapoint, so the dashboard
    command can page through 90 days of hourly items of every account without holding them.
    """

    def __init__(self, grid: TimeGrid, *, additive: bool) -> None:
        self.grid = grid
        self.additive = additive
        self._per_account: dict[str, tuple[list[float], list[int]]] = {}

    def add(self, epoch: float, account_id: str, value: float) -> None:
        index = self.grid.index_of(epoch)
        if index is None or math.isnan(value):
            return
        sums, counts = self._per_account.setdefault(
            account_id, ([0.0] * self.grid.count, [0] * self.grid.count)
        )
        sums[index] += value
        counts[index] += 1

    def values(self) -> list[float | None]:
        """Per bucket: the accounts' means combined (summed or averaged); None if none reported."""
        combined: list[float | None] = []
        for index in range(self.grid.count):
            means = [
                sums[index] / counts[index]
                for sums, counts in self._per_account.values()
                if counts[index]
            ]
            if not means:
                combined.append(None)
            elif self.additive:
                combined.append(math.fsum(means))
            else:
                combined.append(math.fsum(means) / len(means))
        return combined

    def points(self) -> tuple[tuple[float, float], ...]:
        """The non-empty buckets as (bucket start, value), in time order."""
        return tuple(
            (float(epoch), value)
            for epoch, value in zip(self.grid.times(), self.values(), strict=True)
            if value is not None
        )


def points_per_series(
    series_counts: Sequence[int],
    *,
    max_points_per_series: int = DEFAULT_MAX_POINTS,
    max_total_points: int,
    min_points_per_series: int = 24,
) -> int:
    """How many grid points each line may have so all charts stay within `max_total_points`.

    A whole dashboard of 15 charts x 200 lines x 500 points would be 1.5 million numbers (about
    12 MB of JSON), so the per-line budget shrinks with the number of lines, down to
    `min_points_per_series` (a day a point over a month) below which a chart stops being useful.
    """
    total_lines = sum(series_counts)
    if total_lines == 0:
        return max_points_per_series
    fair_share = max_total_points // total_lines
    return max(min_points_per_series, min(max_points_per_series, fair_share))
