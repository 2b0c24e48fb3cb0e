"""Thin readers of the history files, for tests that check what ingest delivered.

History is Parquet under `history/dt=<delivery day>/` in the history bucket
(`contracts.history_table`). This reads the objects of the partitions a time range can touch
(every listing paginated), keeps the rows of one metric in the range, and removes replays the way
queries do: one row per datapoint key (account, region, project, environment, metric, dimensions,
extraction time), the first one ingested. Test support, not production: nothing outside
`tests/` reads history this way (the CLI, the dashboard and the sandbox read through
`hub_stack.history_query`).

`series_history` and `datapoints_by_metric` keep the signatures `HubStore` had when history was in
its table, with the store first (its session and `history_bucket()`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from contracts import history_table
from hub_stack.runtime.datapoints import DatapointRecord
from runtime_common.aws import client as aws_client
from runtime_common.timestamps import format_timestamp

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub_stack.runtime.store import HubStore

_KEY_COLUMNS = (
    "account_id",
    "region",
    "project",
    "environment",
    "metric_name",
    "dimensions",
    "extraction_time",
)


def _partition_days(since: datetime | None, until: datetime | None) -> tuple[date, date] | None:
    """Delivery days that may hold extractions of [since, until] (see contracts.history_table)."""
    if since is None and until is None:
        return None
    first = (
        (since.astimezone(UTC) - timedelta(days=history_table.PARTITION_CLOCK_SKEW_DAYS)).date()
        if since is not None
        else date.fromisoformat(history_table.PARTITION_PROJECTION_RANGE_START)
    )
    last = (
        (until.astimezone(UTC) + timedelta(days=history_table.REPLAY_HORIZON_DAYS)).date()
        if until is not None
        else date.max
    )
    return first, last


def history_object_keys(
    s3_client: Any, bucket: str, days: tuple[date, date] | None
) -> Iterator[str]:
    """Keys of the history objects of the delivery days in `days` (all when None), paginated."""
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=history_table.HISTORY_PREFIX):
        for entry in page.get("Contents", []):
            key = str(entry["Key"])
            if not key.endswith(history_table.HISTORY_FILE_EXTENSION):
                continue
            if days is not None:
                folder = key[len(history_table.HISTORY_PREFIX) :].split("/", 1)[0]
                day = folder.removeprefix(f"{history_table.PARTITION.name}=")
                try:
                    delivered = date.fromisoformat(day)
                except ValueError:
                    continue
                if not days[0] <= delivered <= days[1]:
                    continue
            yield key


def read_history(
    s3_client: Any,
    bucket: str,
    *,
    since: datetime | None,
    until: datetime | None,
    metric_name: str,
) -> list[dict[str, Any]]:
    """Rows of `metric_name` extracted in [since, until], deduplicated, oldest first."""
    import pyarrow.parquet as pq

    first_seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key in history_object_keys(s3_client, bucket, _partition_days(since, until)):
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        for row in pq.read_table(io.BytesIO(body)).to_pylist():
            moment: datetime = row["extraction_time"]
            if row["metric_name"] != metric_name:
                continue
            if (since is not None and moment < since) or (until is not None and moment > until):
                continue
            identity = tuple(row[name] for name in _KEY_COLUMNS)
            kept = first_seen.get(identity)
            if kept is None or row["ingested_at"] < kept["ingested_at"]:
                first_seen[identity] = row
    return sorted(
        first_seen.values(),
        key=lambda row: (row["extraction_time"], row["account_id"], row["region"]),
    )


def series_history(
    store: HubStore,
    project_name: str,
    environment: str,
    metric_name: str,
    dimensions: Mapping[str, str] | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DatapointRecord]:
    """Every datapoint of one series between `since` and `until` (inclusive), oldest first."""
    wanted = history_table.canonical_dimensions(dimensions or {})
    return [
        record
        for record in datapoints_by_metric(store, metric_name, since=since, until=until)
        if record.project_name == project_name
        and record.environment == environment
        and history_table.canonical_dimensions(record.dimensions) == wanted
    ]


def datapoints_by_metric(
    store: HubStore,
    metric_name: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DatapointRecord]:
    """The sample's pattern: every datapoint of a metric name between two times."""
    rows = read_history(
        aws_client(store.session, "s3"),
        store.history_bucket(),
        since=since,
        until=until,
        metric_name=metric_name,
    )
    return [
        DatapointRecord(
            project_name=row["project"],
            environment=row["environment"],
            metric_name=row["metric_name"],
            value=_decimal_of(row["metric_value"]),
            unit=row["unit"],
            dimensions=json.loads(row["dimensions"]),
            metadata={},
            account_id=row["account_id"],
            region=row["region"],
            extraction_date=format_timestamp(row["extraction_time"]),
            schema_version=int(row["schema_version"]),
            event_id=row["event_id"],
            expires_at=0,
        )
        for row in rows
    ]


def _decimal_of(value: float) -> Decimal:
    """A history double as the Decimal the table would have held: 10.0 reads back as 10."""
    return Decimal(int(value)) if float(value).is_integer() else Decimal(repr(value))
