"""The data-science KPI cards at the top of the dashboard, each with its change over 24 hours.

A card's value is the latest values of one metric over every project, environment and spoke,
combined as the table combines them (summed for counts and durations, averaged otherwise: see
`dashboard.model.is_additive`). Its change compares that with the same metric's history one
period earlier (the combined lines of `DashboardData.history`): the value of each line at or just
before `generated_at - COMPARISON_PERIOD`, combined the same way. A metric without history that
far back shows no change rather than a made-up one.

Which metrics lead follows `metrics/`: completed and failed training jobs in the extractor's
24-hour window, endpoints in service, managed spot savings, and the model-quality objective of
each series of `BestTrainingObjective` (one card per series: averaging two models' AUC would mean
nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from dashboard.model import DashboardData, HistorySeries, LatestValue, is_additive, series_label

COMPARISON_PERIOD: Final = timedelta(hours=24)
MAX_MODEL_QUALITY_CARDS: Final = 4

# (metric, card label, detail, a rise is good?). None: neither direction is good or bad.
LEADING_METRICS: Final[tuple[tuple[str, str, str, bool | None], ...]] = (
    ("CompletedTrainingJobs24h", "Training jobs completed", "in the last 24 h", True),
    ("FailedTrainingJobs", "Failed training jobs", "in the last 24 h", False),
    ("NumberEndPointsInService", "Endpoints in service", "now", None),
    ("ManagedSpotSavingsPercent", "Managed spot savings", "of training time, mean", True),
)
MODEL_QUALITY_METRIC: Final = "BestTrainingObjective"


@dataclass(frozen=True)
class KpiCard:
    key: str
    label: str
    value: float | None
    unit: str
    detail: str
    previous: float | None
    rise_is_good: bool | None
    alert: bool = False

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def _combine(values: Sequence[float], unit: str) -> float | None:
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return None
    total = math.fsum(finite)
    return total if is_additive(unit) else total / len(finite)


def _value_before(series: HistorySeries, moment: float, tolerance: float) -> float | None:
    """The series' last point at or before `moment`, if it is no older than `tolerance`."""
    found = None
    for epoch, value in series.points:
        if epoch > moment:
            break
        found = (epoch, value)
    if found is None or moment - found[0] > tolerance:
        return None
    return found[1]


def _previous(
    data: DashboardData, metric: str, lines: Sequence[HistorySeries], unit: str
) -> float | None:
    moment = (data.generated_at - COMPARISON_PERIOD).timestamp()
    # A bucket up to a few hours wide holds the moment; older than the period means no data.
    tolerance = COMPARISON_PERIOD.total_seconds() / 2
    values = [
        value
        for line in lines
        if line.metric == metric
        for value in [_value_before(line, moment, tolerance)]
        if value is not None
    ]
    return _combine(values, unit)


def _metric_card(
    data: DashboardData, metric: str, label: str, detail: str, rise_is_good: bool | None
) -> KpiCard | None:
    latest = [value for value in data.latest_values if value.metric == metric]
    if not latest:
        return None
    unit = latest[0].unit
    value = _combine([item.value for item in latest if item.unit == unit], unit)
    previous = _previous(data, metric, data.history, unit)
    spokes = len({(item.account_id, item.region) for item in latest})
    alert = rise_is_good is False and value is not None and value > 0
    return KpiCard(
        key=metric,
        label=label,
        value=value,
        unit=unit,
        detail=f"{detail}; {spokes} spoke{'s' if spokes != 1 else ''}",
        previous=previous,
        rise_is_good=rise_is_good,
        alert=alert,
    )


def _model_quality_cards(data: DashboardData) -> list[KpiCard]:
    by_series: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[LatestValue]] = {}
    for value in data.latest_values:
        if value.metric == MODEL_QUALITY_METRIC:
            by_series.setdefault((value.project, value.environment, value.dimensions), []).append(
                value
            )
    # Production models first: they are the ones people ask about.
    ordered = sorted(by_series, key=lambda key: (key[1] != "prod", key))
    cards = []
    for project, environment, dimensions in ordered[:MAX_MODEL_QUALITY_CARDS]:
        members = by_series[(project, environment, dimensions)]
        lines = [
            line
            for line in data.history
            if (line.metric, line.project, line.environment, line.dimensions)
            == (MODEL_QUALITY_METRIC, project, environment, dimensions)
        ]
        objective = dict(dimensions).get("ObjectiveMetric", "objective")
        cards.append(
            KpiCard(
                key=f"{MODEL_QUALITY_METRIC}:{project}/{environment}:{objective}",
                label=f"Model quality: {objective}",
                value=_combine([member.value for member in members], "None"),
                unit="None",
                detail=series_label(project, environment, ()),
                previous=_previous(data, MODEL_QUALITY_METRIC, lines, "None"),
                rise_is_good=None,
            )
        )
    return cards


def kpi_cards(data: DashboardData) -> list[KpiCard]:
    """The leading data-science cards, in `LEADING_METRICS` order, then model quality."""
    cards = [
        card
        for metric, label, detail, rise_is_good in LEADING_METRICS
        for card in [_metric_card(data, metric, label, detail, rise_is_good)]
        if card is not None
    ]
    return cards + _model_quality_cards(data)
