"""The Lambda duration model's arithmetic on given inputs, and the memory choice it makes (the
measured CPU times and RSS themselves are printed by the benchmark, never asserted)."""

from __future__ import annotations

import pytest

from cli.capacity.lambda_sizing import (
    FunctionFootprint,
    cheapest_memory,
    duration_seconds,
    linear_in_records,
)


def _footprint(**changes: float) -> FunctionFootprint:
    figures = {
        "cpu_seconds": 0.1,
        "aws_calls": 4.0,
        "largest_cpu_seconds": 0.1,
        "largest_aws_calls": 4.0,
        "peak_rss_mb": 100.0,
        "memory_mb": 512.0,
        "timeout_seconds": 60.0,
    } | changes
    return FunctionFootprint(name="probe", **figures)


def test_cpu_time_stretches_below_one_full_vcpu_and_calls_wait_at_any_size() -> None:
    # 1,769 MB is one vCPU: the CPU part is the CPU time, at half that it takes twice as long.
    assert duration_seconds(0.2, 4, 1769, 0.025) == pytest.approx(0.2 + 0.1)
    assert duration_seconds(0.2, 4, 3538, 0.025) == pytest.approx(0.2 + 0.1)
    assert duration_seconds(0.2, 4, 884.5, 0.025) == pytest.approx(0.4 + 0.1)
    assert duration_seconds(0.2, 0, 128, 0.025) == pytest.approx(0.2 * 1769 / 128)


def test_the_cheapest_memory_is_the_smallest_step_with_half_again_the_peak_rss() -> None:
    # 100 MB x 1.5 = 150 MB, rounded up to the 64 MB step: 192 MB.
    assert cheapest_memory(_footprint(), 0.025).memory_mb == 192
    # A small function still gets Lambda's minimum, 128 MB.
    assert cheapest_memory(_footprint(peak_rss_mb=40.0), 0.025).memory_mb == 128


def test_a_size_whose_largest_invocation_nears_the_timeout_is_passed_over() -> None:
    # 0.5 s of CPU in a 10 s timeout: at most 2.5 s, so 0.5 x 1769 / M <= 2.5, M >= 353.8 MB;
    # the steps from 192 MB are 192, 256, 320, 384.
    footprint = _footprint(largest_cpu_seconds=0.5, largest_aws_calls=0.0, timeout_seconds=10.0)
    choice = cheapest_memory(footprint, 0.025)
    assert choice.memory_mb == 384
    assert choice.largest_duration_seconds <= 2.5
    with pytest.raises(ValueError, match="timeout"):
        cheapest_memory(_footprint(largest_cpu_seconds=100.0, timeout_seconds=10.0), 0.025)


def test_a_per_invocation_figure_is_a_line_through_the_smallest_and_largest_batch() -> None:
    measured = {"1": 110.0, "10": 200.0, "100": 1100.0}
    assert linear_in_records(measured, 1) == pytest.approx(110.0)
    assert linear_in_records(measured, 100) == pytest.approx(1100.0)
    assert linear_in_records(measured, 50.5) == pytest.approx(605.0)  # 100 + 10 x 50.5
