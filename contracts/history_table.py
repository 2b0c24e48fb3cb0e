"""The history table: one definition of the Parquet files, the Glue table and the queries over them.

History is columnar: every validated datapoint becomes one row of a Parquet file in the hub's
history bucket, under a Hive-style date partition (docs/architecture.md §4). Everything that
describes those files derives from `COLUMNS` and `PARTITION` below, so a file whose schema differs
from the Glue table can only come from code that bypasses this module:

- the CDK Glue table (column names and Glue types, partition projection, location);
- the writer of the files (Arrow schema: `arrow_schema`, `write_parquet`, in
  `contracts.history_parquet`, reachable from here too);
- the query layer (column names in SQL).

Partitioning: `dt` is the day (UTC) the row was *delivered* to the bucket, not the day it was
extracted, because the delivery stream names objects by arrival time. A row always arrives at or
after its extraction (a replay arrives later), so a query for extractions since day D prunes to
`dt >= D - PARTITION_CLOCK_SKEW_DAYS` and still sees every row; it must not bound `dt` from above
more tightly than `until + REPLAY_HORIZON_DAYS`.

This module is imported by Lambda bundles: it must not import pyarrow at all (see the end of the
module; the Parquet writer is `contracts.history_parquet`).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

GLUE_DATABASE_NAME: Final = "dsdash"
GLUE_TABLE_NAME: Final = "metric_history"
# Objects live under this prefix of the history bucket; the partition folder follows it.
HISTORY_PREFIX: Final = "history/"
# Every history object's name ends with it (the delivery stream's FileExtension): readers list by it.
HISTORY_FILE_EXTENSION: Final = ".parquet"
# Fixed names, like the hub table's, so the CLI finds them from the hub's account and region.
HISTORY_DELIVERY_STREAM_NAME: Final = "dsdash-history"
ATHENA_WORKGROUP_NAME: Final = "dsdash"


def history_bucket_name(account_id: str, region: str) -> str:
    """Bucket names are global: the hub's account and region make this one unique."""
    return f"dsdash-history-{account_id}-{region}"


def athena_results_bucket_name(account_id: str, region: str) -> str:
    return f"dsdash-athena-results-{account_id}-{region}"


@dataclass(frozen=True)
class Column:
    """One column: its name, its Glue (Hive DDL) type and its Arrow type name."""

    name: str
    glue_type: str
    arrow_type: str
    comment: str


# Order matters: it is the order of the Parquet schema and of the Glue table's columns.
COLUMNS: Final[tuple[Column, ...]] = (
    Column("project", "string", "string", "Project name from config/projects.yaml"),
    Column("environment", "string", "string", "Environment of the project (dev, prod, ...)"),
    Column("account_id", "string", "string", "The spoke account that extracted the value"),
    Column("region", "string", "string", "The region whose stack extracted the value"),
    Column("metric_name", "string", "string", "Metric name (the sample's MetricName)"),
    Column(
        "dimensions",
        "string",
        "string",
        "Canonical JSON object of the datapoint's dimensions, keys sorted; '{}' when none",
    ),
    Column("metric_value", "double", "float64", "The value (the sample's MetricValue)"),
    Column("unit", "string", "string", "Unit of the value, e.g. Count, Seconds"),
    Column(
        "extraction_time",
        "timestamp",
        "timestamp_ms_utc",
        "When the spoke extracted the value, UTC, millisecond precision",
    ),
    Column("event_id", "string", "string", "EventBridge id of the event that carried the value"),
    Column("schema_version", "int", "int32", "Metric event schema version (1 = the sample's)"),
    Column("ingested_at", "timestamp", "timestamp_ms_utc", "When the hub accepted the event, UTC"),
)

COLUMN_NAMES: Final = tuple(column.name for column in COLUMNS)

# The one partition key: delivery day, `yyyy-MM-dd` (see the module docstring).
PARTITION: Final = Column(
    "dt", "string", "string", "UTC day the row was delivered to the bucket (yyyy-MM-dd)"
)
PARTITION_DATE_FORMAT: Final = "yyyy-MM-dd"  # Glue partition projection / Java format
PARTITION_STRFTIME: Final = "%Y-%m-%d"  # the same format for Python
PARTITION_PROJECTION_RANGE_START: Final = "2024-01-01"
# The delivery stream's S3 prefixes: Firehose evaluates `!{timestamp:...}` (UTC arrival time), so
# objects land in the `dt` partition of their delivery day; records that fail conversion go under
# the error prefix, by error type.
DELIVERY_PREFIX: Final = f"{HISTORY_PREFIX}{PARTITION.name}=!{{timestamp:{PARTITION_DATE_FORMAT}}}/"
DELIVERY_ERROR_PREFIX: Final = f"errors/!{{firehose:error-output-type}}/{PARTITION.name}=!{{timestamp:{PARTITION_DATE_FORMAT}}}/"
PARTITION_CLOCK_SKEW_DAYS: Final = 1
# SQS keeps a message at most 14 days, and a dead letter may be redriven up to 14 days later.
REPLAY_HORIZON_DAYS: Final = 28


def partition_folder(delivered_at: datetime) -> str:
    """The object-key folder of rows delivered at `delivered_at`, e.g. `history/dt=2026-12-02/`."""
    return f"{HISTORY_PREFIX}{PARTITION.name}={delivered_at.astimezone(UTC):{PARTITION_STRFTIME}}/"


def glue_columns() -> list[dict[str, str]]:
    """The Glue table's `Columns` (StorageDescriptor), in file order."""
    return [{"Name": c.name, "Type": c.glue_type, "Comment": c.comment} for c in COLUMNS]


def glue_partition_keys() -> list[dict[str, str]]:
    return [{"Name": PARTITION.name, "Type": PARTITION.glue_type, "Comment": PARTITION.comment}]


def partition_projection_parameters(bucket_name: str) -> dict[str, str]:
    """Table parameters for Athena partition projection: no crawler, no partition registration.

    https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
    """
    name = PARTITION.name
    return {
        "projection.enabled": "true",
        f"projection.{name}.type": "date",
        f"projection.{name}.format": PARTITION_DATE_FORMAT,
        f"projection.{name}.range": f"{PARTITION_PROJECTION_RANGE_START},NOW",
        f"projection.{name}.interval": "1",
        f"projection.{name}.interval.unit": "DAYS",
        "storage.location.template": f"s3://{bucket_name}/{HISTORY_PREFIX}{name}=${{{name}}}/",
        "classification": "parquet",
        "parquet.compression": "SNAPPY",
    }


def canonical_dimensions(dimensions: Mapping[str, str]) -> str:
    """The `dimensions` column: one string per dimension set, so GROUP BY works in both engines."""
    return json.dumps(dict(sorted(dimensions.items())), separators=(",", ":"), ensure_ascii=False)


def history_row(
    *,
    project: str,
    environment: str,
    account_id: str,
    region: str,
    metric_name: str,
    dimensions: Mapping[str, str],
    metric_value: float,
    unit: str,
    extraction_time: datetime,
    event_id: str,
    schema_version: int,
    ingested_at: datetime,
) -> dict[str, Any]:
    """One row as the delivery stream receives it (JSON-ready: timestamps as ISO-8601 UTC text).

    Keyword-only, so a renamed column breaks every caller at once instead of shifting values.
    """
    row = {
        "project": project,
        "environment": environment,
        "account_id": account_id,
        "region": region,
        "metric_name": metric_name,
        "dimensions": canonical_dimensions(dimensions),
        "metric_value": float(metric_value),
        "unit": unit,
        "extraction_time": _iso_millis(extraction_time),
        "event_id": event_id,
        "schema_version": int(schema_version),
        "ingested_at": _iso_millis(ingested_at),
    }
    assert tuple(row) == COLUMN_NAMES, "history_row must follow COLUMNS"
    return row


def _iso_millis(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"history timestamps must be timezone-aware, got {moment!r}")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_row_timestamp(text: str) -> datetime:
    """Inverse of the row's timestamp text."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# The Parquet side (`arrow_schema`, `write_parquet`) lives in `contracts.history_parquet`, which
# imports pyarrow: Lambda bundles ship the import closure of this module (every import statement
# counts, even in a function), and no bundle may carry pyarrow. The names stay reachable here for
# the callers outside Lambda, resolved on first use.
_PARQUET_NAMES: Final = frozenset({"arrow_schema", "write_parquet"})


def __getattr__(name: str) -> Any:
    if name in _PARQUET_NAMES:
        return getattr(importlib.import_module("contracts.history_parquet"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
