"""Lambda duration and memory, modelled from what the functions measurably did.

Inputs (measured by `python -m bench --only cost`, `bench/lambda_footprint.py`, and kept in
`measured_counts.json` under `lambda`): each function's own CPU time per warm invocation and its
peak RSS, measured in a process of its own with moto in another one, and the `MemorySize` of the
synthesized template.

Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so

    duration(M) = cpu_seconds x max(1, 1769 / M) + aws_calls x per-call latency

The per-call latency (an in-region API round trip, the function waiting, not computing) is an
assumption, named as one in `prices.json`. Below 1,769 MB the CPU part costs the same GB-seconds
at any memory (M x 1769/M), and the waiting part grows with M: the cheapest memory is the smallest
that holds the function's peak RSS with headroom, unless the duration then nears the timeout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

FULL_VCPU_MEMORY_MB: Final = 1769
LAMBDA_MIN_MEMORY_MB: Final = 128
LAMBDA_MAX_MEMORY_MB: Final = 10240
# Candidate sizes step by 64 MB, so a few MB of RSS jitter between runs does not move the choice.
MEMORY_STEP_MB: Final = 64
RSS_HEADROOM: Final = 1.5
# "Well within the timeout": the modelled duration of the largest invocation at most this share.
TIMEOUT_SHARE: Final = 0.25


def duration_seconds(
    cpu_seconds: float, aws_calls: float, memory_mb: float, per_call_seconds: float
) -> float:
    """One invocation's billed duration at `memory_mb`, from its CPU time and its AWS calls."""
    return cpu_seconds * max(1.0, FULL_VCPU_MEMORY_MB / memory_mb) + aws_calls * per_call_seconds


def gb_seconds(
    cpu_seconds: float, aws_calls: float, memory_mb: float, per_call_seconds: float
) -> float:
    return duration_seconds(cpu_seconds, aws_calls, memory_mb, per_call_seconds) * memory_mb / 1024


@dataclass(frozen=True)
class FunctionFootprint:
    """One function as measured: its CPU time and calls for a typical invocation (the cost), for
    its largest one (the timeout check), its peak RSS and its template's memory and timeout."""

    name: str
    cpu_seconds: float
    aws_calls: float
    largest_cpu_seconds: float
    largest_aws_calls: float
    peak_rss_mb: float
    memory_mb: float
    timeout_seconds: float


@dataclass(frozen=True)
class MemoryChoice:
    memory_mb: int
    duration_seconds: float  # the typical invocation's, at that memory
    largest_duration_seconds: float
    smallest_for_rss_mb: int


def cheapest_memory(footprint: FunctionFootprint, per_call_seconds: float) -> MemoryChoice:
    """The size (a multiple of 64 MB) with the fewest GB-seconds per typical invocation among
    those that leave 1.5x the peak RSS and keep the largest invocation within a quarter of the
    timeout."""
    smallest = max(
        LAMBDA_MIN_MEMORY_MB,
        MEMORY_STEP_MB * math.ceil(footprint.peak_rss_mb * RSS_HEADROOM / MEMORY_STEP_MB),
    )
    candidates = [
        size
        for size in range(smallest, LAMBDA_MAX_MEMORY_MB + 1, MEMORY_STEP_MB)
        if duration_seconds(
            footprint.largest_cpu_seconds, footprint.largest_aws_calls, size, per_call_seconds
        )
        <= footprint.timeout_seconds * TIMEOUT_SHARE
    ]
    if not candidates:
        raise ValueError(
            f"{footprint.name}: no memory size keeps its largest invocation within "
            f"{TIMEOUT_SHARE:.0%} of its {footprint.timeout_seconds:,.0f} s timeout"
        )
    best = min(
        candidates,
        key=lambda size: (
            gb_seconds(footprint.cpu_seconds, footprint.aws_calls, size, per_call_seconds),
            size,
        ),
    )
    return MemoryChoice(
        memory_mb=best,
        duration_seconds=duration_seconds(
            footprint.cpu_seconds, footprint.aws_calls, best, per_call_seconds
        ),
        largest_duration_seconds=duration_seconds(
            footprint.largest_cpu_seconds, footprint.largest_aws_calls, best, per_call_seconds
        ),
        smallest_for_rss_mb=smallest,
    )


def linear_in_records(by_batch: Mapping[str, Any], records: float) -> float:
    """A per-invocation figure measured at several batch sizes, at `records` records: the line
    through the smallest and the largest batch measured (fixed part + part per record)."""
    sizes = sorted(int(size) for size in by_batch)
    small, large = sizes[0], sizes[-1]
    at_small, at_large = float(by_batch[str(small)]), float(by_batch[str(large)])
    per_record = (at_large - at_small) / (large - small) if large != small else at_small / small
    return max(0.0, at_small + per_record * (records - small))
