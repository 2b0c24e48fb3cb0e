"""History files written by the real writer (`contracts.history_parquet.write_parquet`), for the
query-layer tests: a few spokes, series and days, plus a replay delivered days later."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.history_parquet import write_parquet
from contracts.history_table import history_row, partition_folder

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 3
SPOKES = (
    ("fraud-detection", "dev", "111111111101", "eu-west-1"),
    ("fraud-detection", "prod", "222222222222", "eu-west-1"),
    ("fraud-detection", "prod", "333333333333", "us-east-1"),
    ("churn-prediction", "prod", "444444444444", "eu-west-1"),
)
METRICS = (
    ("TotalCompletedTrainingJobs", "Count", {}),
    ("EndpointLatency", "Milliseconds", {"EndpointName": "fraud's-model"}),
)


def _value(hour: int, spoke_index: int, metric_index: int) -> float:
    return float((hour * 7 + spoke_index * 13 + metric_index * 5) % 23)


def history_rows(days: int = DAYS) -> Iterator[dict[str, Any]]:
    for hour in range(days * 24):
        moment = START + timedelta(hours=hour)
        for spoke_index, (project, environment, account, region) in enumerate(SPOKES):
            for metric_index, (metric, unit, dimensions) in enumerate(METRICS):
                yield history_row(
                    project=project,
                    environment=environment,
                    account_id=account,
                    region=region,
                    metric_name=metric,
                    dimensions=dimensions,
                    metric_value=_value(hour, spoke_index, metric_index),
                    unit=unit,
                    extraction_time=moment,
                    event_id=f"event-{hour}-{spoke_index}",
                    schema_version=2,
                    ingested_at=moment + timedelta(minutes=2),
                )


@dataclass(frozen=True)
class WrittenHistory:
    root: Path
    files: Sequence[Path]
    rows: int
    replayed_rows: int


def write_history(root: Path) -> WrittenHistory:
    """One file per delivery day, and a replay of the first day's first hours delivered on the
    last day (SQS redelivered the events): same datapoints, new event ids and ingest times."""
    rows = list(history_rows())
    files = []
    for day in range(DAYS):
        delivered = START + timedelta(days=day)
        day_rows = [
            row for row in rows if row["extraction_time"].startswith(f"{delivered:%Y-%m-%d}")
        ]
        path = root / partition_folder(delivered) / f"delivery-{day}.parquet"
        write_parquet(day_rows, path)
        files.append(path)
    replay_delivery = START + timedelta(days=DAYS - 1, hours=5)
    replayed = [
        {
            **row,
            "event_id": "replay-" + row["event_id"],
            "ingested_at": f"{replay_delivery:%Y-%m-%dT%H:%M:%S.000Z}",
        }
        for row in rows[:40]
    ]
    replay_path = root / partition_folder(replay_delivery) / "replay.parquet"
    write_parquet(replayed, replay_path)
    files.append(replay_path)
    return WrittenHistory(root, tuple(files), len(rows), len(replayed))
