"""Known dashboard data for the dashboard tests: the sample's DEV against PROD, plus trouble.

Two projects with a dev and a prod environment (fraud-detection's prod has two accounts), one
stale spoke, one failed enrollment, and a third "project" whose name, reason, dimension and error
message are hostile HTML, as a spoke outside the config's naming rules could send.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from dashboard.downsample import AccountCombiner, TimeGrid
from dashboard.model import (
    DashboardData,
    HistorySeries,
    LatestValue,
    MetricError,
    SpokeSeries,
    SpokeStatus,
    is_additive,
)

GENERATED_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_SCRIPT = '</script><script>alert("reason")</script>'
STALE_ACCOUNT = "222222222202"
FAILED_ACCOUNT = "444444444401"

# (account, project, environment)
FRIENDLY_SPOKES = (
    ("111111111101", "fraud-detection", "dev"),
    ("111111111102", "fraud-detection", "prod"),
    ("111111111103", "fraud-detection", "prod"),
    ("222222222201", "churn-prediction", "dev"),
    (STALE_ACCOUNT, "churn-prediction", "prod"),
)
HOSTILE_SPOKE = ("333333333301", HOSTILE, "prod")
# fraud-detection's second prod account runs in another region.
OTHER_REGION_ACCOUNT = "111111111103"


def region_of(account_id: str) -> str:
    return "us-east-1" if account_id == OTHER_REGION_ACCOUNT else "eu-west-1"


SPOKES = (*FRIENDLY_SPOKES, HOSTILE_SPOKE)
METRICS = (
    ("CompletedTrainingJobs24h", "Count"),
    ("NumberEndPointsInService", "Count"),
    ("ManagedSpotSavingsPercent", "Percent"),
)


def account_value(account_id: str, metric_index: int, hours: float) -> float:
    """A distinct, smooth curve per account and metric."""
    level = 5 + int(account_id[-2:]) * 3 + metric_index * 7 + int(account_id[0]) * 4
    return level + 3 * math.sin(hours / 6 + metric_index)


def sample_dashboard_data(*, include_hostile: bool = True) -> DashboardData:
    """The sample; without `include_hostile`, the view the README shows."""
    sample_spokes = SPOKES if include_hostile else FRIENDLY_SPOKES
    spokes = []
    for account_id, project, environment in sample_spokes:
        stale = account_id == STALE_ACCOUNT
        spokes.append(
            SpokeStatus(
                account_id=account_id,
                project=project,
                environment=environment,
                state="enrolled",
                reason=HOSTILE_SCRIPT if project == HOSTILE else "account in a tagged OU",
                last_seen_at=GENERATED_AT - timedelta(hours=5 if stale else 1),
                stale=stale,
                last_errors=(
                    (MetricError("ManagedSpotSavingsPercent", "ThrottlingException", HOSTILE),)
                    if project == HOSTILE
                    else ()
                ),
            )
        )
    spokes.append(
        SpokeStatus(
            account_id=FAILED_ACCOUNT,
            project="churn-prediction",
            environment="int",
            state="failed",
            reason="StackSet instance failed: role dsdash-spoke-extractor exists",
            last_seen_at=None,
            stale=True,
        )
    )

    end = GENERATED_AT.timestamp()
    start = end - 7 * 86400
    grid = TimeGrid.spanning(start, end, 500)
    latest = []
    history = []
    spoke_history = []
    environments = sorted({(project, env) for _, project, env in sample_spokes})
    for metric_index, (metric, unit) in enumerate(METRICS):
        for project, environment in environments:
            combiner = AccountCombiner(grid, additive=is_additive(unit))
            for account_id, spoke_project, spoke_environment in sample_spokes:
                if (spoke_project, spoke_environment) != (project, environment):
                    continue
                points = tuple(
                    (start + hour * 3600, account_value(account_id, metric_index, hour))
                    for hour in range(7 * 24 + 1)
                )
                for epoch, value in points:
                    combiner.add(epoch, account_id, value)
                spoke_history.append(
                    SpokeSeries(
                        project,
                        environment,
                        metric,
                        unit,
                        account_id,
                        region_of(account_id),
                        points,
                    )
                )
                latest.append(
                    LatestValue(
                        project=project,
                        environment=environment,
                        metric=metric,
                        unit=unit,
                        dimensions=(),
                        account_id=account_id,
                        value=account_value(account_id, metric_index, 7 * 24),
                        extraction_date=GENERATED_AT - timedelta(hours=1),
                        region=region_of(account_id),
                    )
                )
            history.append(HistorySeries(project, environment, metric, unit, combiner.points()))
    # A dimensioned metric, with a hostile dimension value.
    for instance_type in ("ml.m5.xlarge", HOSTILE) if include_hostile else ("ml.m5.xlarge",):
        latest.append(
            LatestValue(
                project="fraud-detection",
                environment="prod",
                metric="CompletedTrainingJobsByInstanceType",
                unit="Count",
                dimensions=(("InstanceType", instance_type),),
                account_id="111111111102",
                value=4.0,
                extraction_date=GENERATED_AT - timedelta(hours=1),
                region="eu-west-1",
            )
        )
    return DashboardData(
        generated_at=GENERATED_AT,
        refresh_period_seconds=3600,
        spokes=tuple(spokes),
        latest_values=tuple(latest),
        history=tuple(history),
        quarantine_count=2,
        history_days=7,
        spoke_history=tuple(spoke_history),
    )


def empty_dashboard_data() -> DashboardData:
    return DashboardData(generated_at=GENERATED_AT, refresh_period_seconds=3600)
