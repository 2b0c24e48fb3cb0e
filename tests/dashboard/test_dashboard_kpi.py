"""The data-science cards: what they add up, what they compare with, and in which order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.html import render_dashboard
from dashboard.kpi import kpi_cards
from dashboard.model import DashboardData, HistorySeries, LatestValue

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def latest(metric: str, unit: str, account: str, value: float, **kw: object) -> LatestValue:
    return LatestValue(
        project=str(kw.get("project", "fraud")),
        environment=str(kw.get("environment", "prod")),
        metric=metric,
        unit=unit,
        dimensions=tuple(kw.get("dimensions", ())),  # type: ignore[arg-type]
        account_id=account,
        value=value,
        extraction_date=NOW - timedelta(minutes=20),
        region="eu-west-1",
    )


def hourly(
    metric: str, unit: str, values_by_hours_ago: dict[int, float], **kw: object
) -> HistorySeries:
    points = tuple(
        ((NOW - timedelta(hours=hours)).timestamp(), value)
        for hours, value in sorted(values_by_hours_ago.items(), reverse=True)
    )
    return HistorySeries(
        str(kw.get("project", "fraud")),
        str(kw.get("environment", "prod")),
        metric,
        unit,
        points,
        tuple(kw.get("dimensions", ())),  # type: ignore[arg-type]
    )


def test_cards_combine_accounts_and_compare_with_a_day_earlier() -> None:
    data = DashboardData(
        generated_at=NOW,
        refresh_period_seconds=3600,
        latest_values=(
            latest("CompletedTrainingJobs24h", "Count", "111111111111", 7),
            latest("CompletedTrainingJobs24h", "Count", "222222222222", 5),
            latest("ManagedSpotSavingsPercent", "Percent", "111111111111", 40),
            latest("ManagedSpotSavingsPercent", "Percent", "222222222222", 20),
            latest("NumberEndPointsInService", "Count", "111111111111", 3),
        ),
        history=(
            # The environment's combined line: 9 completed a day ago (and 30 two days ago).
            hourly("CompletedTrainingJobs24h", "Count", {48: 30, 24: 9, 1: 12}),
            hourly("ManagedSpotSavingsPercent", "Percent", {24: 35, 1: 30}),
            hourly("ManagedSpotSavingsPercent", "Percent", {24: 25}, environment="dev"),
        ),
    )
    cards = {card.key: card for card in kpi_cards(data)}

    completed = cards["CompletedTrainingJobs24h"]
    assert (completed.value, completed.previous, completed.change) == (12, 9, 3)
    savings = cards["ManagedSpotSavingsPercent"]
    assert savings.value == 30  # a mean of percentages, never their sum
    assert savings.previous == 30  # (35 + 25) / 2 over the lines a day earlier
    # No history a day back: no change rather than a made-up one.
    assert cards["NumberEndPointsInService"].change is None
    assert "FailedTrainingJobs" not in cards  # no value, no card
    assert [card.key for card in kpi_cards(data)] == [
        "CompletedTrainingJobs24h",
        "NumberEndPointsInService",
        "ManagedSpotSavingsPercent",
    ]


def test_model_quality_has_a_card_per_series_production_first() -> None:
    auc = (("ObjectiveMetric", "validation:auc"),)
    data = DashboardData(
        generated_at=NOW,
        refresh_period_seconds=3600,
        latest_values=(
            latest(
                "BestTrainingObjective", "None", "1" * 12, 0.71, environment="dev", dimensions=auc
            ),
            latest("BestTrainingObjective", "None", "2" * 12, 0.93, dimensions=auc),
        ),
        history=(hourly("BestTrainingObjective", "None", {25: 0.9, 2: 0.93}, dimensions=auc),),
    )
    cards = kpi_cards(data)
    assert [card.detail for card in cards] == ["fraud/prod", "fraud/dev"]
    assert cards[0].label == "Model quality: validation:auc"
    assert cards[0].previous == 0.9
    page = render_dashboard(data)
    assert page.index('data-kpi="BestTrainingObjective:fraud/prod') < page.index("health-heading")
    assert "+0.030 vs 24 h earlier" in page
