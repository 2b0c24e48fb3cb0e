from __future__ import annotations

import pytest

from dashboard.downsample import (
    AccountCombiner,
    DownsampleError,
    TimeGrid,
    points_per_series,
    resample_mean,
)

HOUR = 3600
DAY = 86400


def test_ninety_days_of_hours_fit_500_points_at_six_hours() -> None:
    first = 1_740_000_000
    last = first + 90 * DAY

    grid = TimeGrid.spanning(first, last, 500)

    assert grid.step == 6 * HOUR
    assert grid.count <= 500
    assert grid.index_of(first) == 0
    assert grid.index_of(last) == grid.count - 1


@pytest.mark.parametrize("max_points", [1, 2, 7, 24, 100, 500])
@pytest.mark.parametrize("span", [0, 59, HOUR, 7 * DAY + 13, 90 * DAY, 400 * DAY, 3650 * DAY])
def test_grid_never_exceeds_its_budget_and_covers_the_span(max_points: int, span: int) -> None:
    first = 1_700_000_123
    grid = TimeGrid.spanning(first, first + span, max_points)

    assert 1 <= grid.count <= max_points
    assert grid.index_of(first) is not None
    assert grid.index_of(first + span) is not None


def test_grid_rejects_an_end_before_its_start() -> None:
    with pytest.raises(DownsampleError, match="before its start"):
        TimeGrid.spanning(100, 50, 10)


def test_resample_averages_each_bucket_and_leaves_gaps_empty() -> None:
    grid = TimeGrid(start=0, step=2 * HOUR, count=3)
    points = [(0, 1.0), (HOUR, 2.0), (2 * HOUR, 3.0), (3 * HOUR, 5.0), (9 * HOUR, 100.0)]

    # Bucket 0: (1 + 2) / 2; bucket 1: (3 + 5) / 2; bucket 2 (4 h to 6 h): nothing.
    # The point at 9 h is outside the window and left out.
    assert resample_mean(points, grid) == [1.5, 4.0, None]


def test_counts_of_several_accounts_are_summed_from_each_accounts_mean() -> None:
    grid = TimeGrid(start=0, step=DAY, count=2)
    combiner = AccountCombiner(grid, additive=True)
    combiner.add(0, "111111111111", 10)
    combiner.add(HOUR, "111111111111", 30)  # account mean 20 in day 0
    combiner.add(2 * HOUR, "222222222222", 5)
    combiner.add(DAY, "222222222222", 7)  # only this account reported on day 1

    assert combiner.points() == ((0.0, 25.0), (float(DAY), 7.0))


def test_percentages_of_several_accounts_are_averaged() -> None:
    grid = TimeGrid(start=0, step=DAY, count=1)
    combiner = AccountCombiner(grid, additive=False)
    combiner.add(0, "111111111111", 40)
    combiner.add(HOUR, "111111111111", 60)
    combiner.add(0, "222222222222", 80)

    # (mean 50 for the first account + 80) / 2 accounts; not weighted by datapoint count.
    assert combiner.values() == [65.0]


def test_combiner_ignores_points_outside_the_window_and_nan() -> None:
    grid = TimeGrid(start=DAY, step=DAY, count=1)
    combiner = AccountCombiner(grid, additive=True)
    combiner.add(0, "111111111111", 1000)
    combiner.add(DAY, "111111111111", float("nan"))
    combiner.add(DAY + 1, "111111111111", 3)

    assert combiner.points() == ((float(DAY), 3.0),)


def test_point_budget_shrinks_with_the_number_of_lines() -> None:
    assert points_per_series([200] * 15, max_total_points=300_000) == 100
    assert points_per_series([3], max_total_points=300_000) == 500  # capped per line
    assert points_per_series([100_000], max_total_points=300_000) == 24  # floored
    assert points_per_series([], max_total_points=10) == 500
