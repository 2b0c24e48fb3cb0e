"""The benchmark's measured counts per extraction (`measured_counts.json`, written by
`python -m bench --only cost`), and their values at any number of metrics.

Counts were measured at a few metrics-per-extraction values; between two of them a count is
interpolated linearly, beyond the last it is extrapolated from the last two (events and bytes
grow about linearly with datapoints until an event splits, which the measurements include).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

MEASURED_COUNTS_PATH: Final = Path(__file__).with_name("measured_counts.json")


class MeasuredCountsError(ValueError):
    """The measurement file is missing or does not have what the model needs."""


def load_measured(path: Path = MEASURED_COUNTS_PATH) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MeasuredCountsError(
            f"{path} is missing: run `python -m bench --only cost` to measure"
        ) from None
    if not document.get("by_metrics"):
        raise MeasuredCountsError(f"{path}: no measurement under by_metrics")
    if not document.get("lambda"):
        raise MeasuredCountsError(
            f"{path}: no Lambda measurement under lambda: run `python -m bench --only cost`"
        )
    return document


def _interpolate(low: float, high: float, share: float) -> float:
    return low + (high - low) * share


def _blend(low: Any, high: Any, share: float) -> Any:
    if isinstance(low, Mapping):
        return {key: _blend(low[key], high[key], share) for key in low if key in high}
    if isinstance(low, bool) or not isinstance(low, int | float):
        return low
    return _interpolate(float(low), float(high), share)


def counts_at(document: Mapping[str, Any], metrics: int) -> dict[str, Any]:
    """Per-design counts for `metrics` metrics per extraction."""
    if metrics < 1:
        raise MeasuredCountsError(f"metrics per extraction must be at least 1, got {metrics}")
    measured = {int(key): value for key, value in document["by_metrics"].items()}
    points = sorted(measured)
    if metrics in measured:
        return dict(measured[metrics])
    if len(points) == 1:
        # One measurement: counts scale with the number of metrics.
        return {
            design: _scaled(figures, metrics / points[0])
            for design, figures in measured[points[0]].items()
        }
    below = [point for point in points if point < metrics]
    above = [point for point in points if point > metrics]
    if below and above:
        low, high = below[-1], above[0]
    elif above:
        low, high = points[0], points[1]
    else:
        low, high = points[-2], points[-1]
    share = (metrics - low) / (high - low)
    return {
        design: _blend(measured[low][design], measured[high][design], share)
        for design in measured[low]
    }


def _scaled(figures: Any, factor: float) -> Any:
    if isinstance(figures, Mapping):
        return {key: _scaled(value, factor) for key, value in figures.items()}
    if isinstance(figures, bool) or not isinstance(figures, int | float):
        return figures
    return float(figures) * factor
