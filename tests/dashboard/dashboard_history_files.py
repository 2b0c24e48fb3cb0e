"""A dashboard built through the demo's read path, for the browser tests.

History rows are written as Parquet by the contract's writer (`contracts.history_table`), one file
per delivery day, and read back through the query layer (DuckDB) by the functions the demo's
`sandbox.demo_page.write_dashboard` uses: `dashboard.dashboard_data.combined_history` for the
project/environment lines and `dashboard.kpi_spoke_history.spoke_history` for the drill-down.
Latest values are each spoke's last row, as ingest keeps them.

The shape is the demo's, smaller: 14 days of hourly extractions by five spokes of two projects,
one environment with two accounts in two regions, and the data-science metrics the KPI cards
lead with. Two series are deliberately thin: `ModelPackagesPendingApproval` has one datapoint in
the whole window (it must draw as a point), and `FailedPipelineExecutions` stopped reporting
three days ago (the last 24 hours have no data).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.history_table import history_row, partition_folder, write_parquet
from dashboard.dashboard_data import combined_history
from dashboard.kpi_spoke_history import spoke_history
from dashboard.model import DashboardData, LatestValue, SpokeStatus, dimensions_of
from hub_stack.history_query.duckdb_engine import DuckDbEngine, LocalHistorySource

GENERATED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAYS = 14
# (project, environment, account, region)
SPOKES = (
    ("fraud-detection", "dev", "210000000001", "eu-west-1"),
    ("fraud-detection", "prod", "210000000002", "eu-west-1"),
    ("fraud-detection", "prod", "210000000003", "us-east-1"),
    ("churn-prediction", "dev", "220000000001", "eu-west-1"),
    ("churn-prediction", "prod", "220000000002", "eu-west-1"),
)
# (metric, unit, dimensions)
METRICS = (
    ("CompletedTrainingJobs24h", "Count", {}),
    ("FailedTrainingJobs", "Count", {}),
    ("NumberEndPointsInService", "Count", {}),
    ("ManagedSpotSavingsPercent", "Percent", {}),
    ("BestTrainingObjective", "None", {"ObjectiveMetric": "validation:auc"}),
)
SINGLE_POINT_METRIC = "ModelPackagesPendingApproval"
STOPPED_METRIC = "FailedPipelineExecutions"
STOPPED_DAYS_AGO = 3


def _value(metric_index: int, spoke_index: int, hour: int) -> float:
    base = (3 + spoke_index * 2, 1 + spoke_index % 2, 2 + spoke_index, 20 + spoke_index * 5, 0.8)
    wave = math.sin((hour + spoke_index * 3) * math.tau / 24)
    if metric_index == 4:
        return round(0.75 + 0.01 * spoke_index + hour / 10_000 + wave / 100, 4)
    return float(max(0, round(base[metric_index] + 2 * wave + hour / 100)))


def history_rows() -> list[dict[str, Any]]:
    start = GENERATED_AT - timedelta(days=DAYS)
    rows = []
    for hour in range(DAYS * 24):
        moment = start + timedelta(hours=hour, minutes=30)

        def row(
            spoke: tuple[str, str, str, str],
            metric: str,
            unit: str,
            *,
            hour: int = hour,
            moment: datetime = moment,
            **kw: Any,
        ) -> None:
            project, environment, account, region = spoke
            rows.append(
                history_row(
                    project=project,
                    environment=environment,
                    account_id=account,
                    region=region,
                    metric_name=metric,
                    unit=unit,
                    extraction_time=moment,
                    event_id=f"{account}-{hour}",
                    schema_version=2,
                    ingested_at=moment + timedelta(minutes=1),
                    **kw,
                )
            )

        for spoke_index, spoke in enumerate(SPOKES):
            for metric_index, (metric, unit, dimensions) in enumerate(METRICS):
                row(
                    spoke,
                    metric,
                    unit,
                    dimensions=dimensions,
                    metric_value=_value(metric_index, spoke_index, hour),
                )
            if hour < (DAYS - STOPPED_DAYS_AGO) * 24:
                value = (hour + spoke_index) % 3 + 2 * spoke_index
                row(spoke, STOPPED_METRIC, "Count", dimensions={}, metric_value=value)
        if hour == DAYS * 24 - 5:
            row(SPOKES[1], SINGLE_POINT_METRIC, "Count", dimensions={}, metric_value=4.0)
    return rows


def write_history(root: Path) -> list[dict[str, Any]]:
    rows = history_rows()
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_day[partition_folder(datetime.fromisoformat(row["ingested_at"]))].append(row)
    for folder, day_rows in by_day.items():
        write_parquet(day_rows, root / folder / "delivery.parquet")
    return rows


def _latest_values(rows: list[dict[str, Any]]) -> tuple[LatestValue, ...]:
    latest: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:  # oldest first: the last row of a key is its latest
        key = (row["account_id"], row["region"], row["metric_name"], row["dimensions"])
        latest[key] = row
    return tuple(
        LatestValue(
            project=row["project"],
            environment=row["environment"],
            metric=row["metric_name"],
            unit=row["unit"],
            dimensions=dimensions_of(dict(_dimension_pairs(row["dimensions"]))),
            account_id=row["account_id"],
            value=row["metric_value"],
            extraction_date=datetime.fromisoformat(row["extraction_time"]),
            region=row["region"],
        )
        for row in latest.values()
    )


def _dimension_pairs(text: str) -> list[tuple[str, str]]:
    import json

    return sorted(json.loads(text).items())


def demo_shaped_dashboard(root: Path) -> DashboardData:
    rows = write_history(root)
    engine = DuckDbEngine(LocalHistorySource(root))
    since = GENERATED_AT - timedelta(days=DAYS)
    latest = _latest_values(rows)
    return DashboardData(
        generated_at=GENERATED_AT,
        refresh_period_seconds=3600,
        spokes=tuple(
            SpokeStatus(
                account_id=account,
                project=project,
                environment=environment,
                state="enrolled",
                reason="account in a tagged OU",
                last_seen_at=GENERATED_AT - timedelta(minutes=30),
                stale=False,
            )
            for project, environment, account, _ in SPOKES
        ),
        latest_values=latest,
        history=tuple(combined_history(engine, since=since, until=GENERATED_AT)),
        spoke_history=spoke_history(engine, since=since, until=GENERATED_AT),
        history_days=DAYS,
    )
