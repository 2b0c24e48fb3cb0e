"""The history queries, written once for both engines (docs/architecture.md §7, "Data plane reads").

Two queries exist:

- `aggregate_sql`: per series (project, environment, metric, dimensions, unit) and time bucket,
  optionally per spoke (account and region, the drill-down). The client receives O(series x
  buckets) rows, never raw history. Spokes are combined in SQL from each spoke's mean in the
  bucket, the way `dashboard.downsample.AccountCombiner` combines them: `spoke_mean_total`
  (additive units) and `spoke_mean_average` (the others).
- `raw_sql`: deduplicated rows, for `dsdash export`.

Both read a `deduplicated` CTE first. A replayed event (SQS redelivery, a dead-letter redrive)
arrives as new rows with the same datapoint: one value per (account, region, project,
environment, metric, dimensions, extraction time) survives, the first one ingested, which is also
the value a conflicting replay would have kept. The aggregate takes it with `min_by(metric_value,
ingested_at)` grouped by that key (five times faster in DuckDB than a window over 450,000 rows,
and Trino has the same function); the export, which needs whole rows, numbers the copies with
`row_number()` and keeps the first.

Partition pruning follows `contracts.history_table`: rows are partitioned by *delivery* day, so
extractions since D are found in `dt >= D - PARTITION_CLOCK_SKEW_DAYS`; the upper bound on `dt`
is `until + REPLAY_HORIZON_DAYS`, never tighter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

from contracts.history_table import (
    PARTITION,
    PARTITION_CLOCK_SKEW_DAYS,
    PARTITION_STRFTIME,
    REPLAY_HORIZON_DAYS,
)
from hub_stack.history_query.dialect import Dialect, string_literal

# What identifies one datapoint: a replay repeats all of it.
DATAPOINT_KEY: Final = (
    "account_id",
    "region",
    "project",
    "environment",
    "metric_name",
    "dimensions",
    "extraction_time",
)
SERIES_COLUMNS: Final = ("project", "environment", "metric_name", "dimensions", "unit")
SPOKE_COLUMNS: Final = ("account_id", "region")
AGGREGATE_VALUE_COLUMNS: Final = (
    "bucket_start",
    "spokes",
    "datapoints",
    "minimum",
    "maximum",
    "mean",
    "spoke_mean_total",
    "spoke_mean_average",
)
RAW_COLUMNS: Final = (
    "project",
    "environment",
    "account_id",
    "region",
    "metric_name",
    "dimensions",
    "metric_value",
    "unit",
    "extraction_time",
    "event_id",
    "schema_version",
    "ingested_at",
    PARTITION.name,
)


class HistoryQueryError(ValueError):
    """Filters that make no query (an empty or inverted range)."""


@dataclass(frozen=True)
class HistoryFilters:
    """What to read. `since` is inclusive, `until` exclusive; both UTC-aware."""

    since: datetime
    until: datetime
    project: str | None = None
    environment: str | None = None
    account_id: str | None = None
    region: str | None = None
    metric_name: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise HistoryQueryError("since and until must be timezone-aware")
        if self.until <= self.since:
            raise HistoryQueryError(f"the range is empty: until {self.until} <= since {self.since}")

    def partition_range(self) -> tuple[date, date]:
        """The delivery days (`dt`) that can hold extractions of the range."""
        first = (self.since.astimezone(UTC) - timedelta(days=PARTITION_CLOCK_SKEW_DAYS)).date()
        last = (self.until.astimezone(UTC) + timedelta(days=REPLAY_HORIZON_DAYS)).date()
        return first, last

    def describe(self) -> str:
        """For messages: `2026-01-01T00:00:00+00:00 .. 2026-01-02T00:00:00+00:00, project=x`."""
        named = [
            f"{name}={value}"
            for name, value in (
                ("project", self.project),
                ("environment", self.environment),
                ("account", self.account_id),
                ("region", self.region),
                ("metric", self.metric_name),
            )
            if value is not None
        ]
        named += [f"dimension {key}={value}" for key, value in sorted(self.dimensions.items())]
        window = f"{self.since.isoformat()} .. {self.until.isoformat()}"
        return ", ".join([window, *named])


def _where(dialect: Dialect, filters: HistoryFilters) -> str:
    first_day, last_day = filters.partition_range()
    conditions = [
        f"{PARTITION.name} >= {string_literal(first_day.strftime(PARTITION_STRFTIME))}",
        f"{PARTITION.name} <= {string_literal(last_day.strftime(PARTITION_STRFTIME))}",
        f"extraction_time >= {dialect.timestamp_literal(filters.since)}",
        f"extraction_time < {dialect.timestamp_literal(filters.until)}",
    ]
    for column, value in (
        ("project", filters.project),
        ("environment", filters.environment),
        ("account_id", filters.account_id),
        ("region", filters.region),
        ("metric_name", filters.metric_name),
    ):
        if value is not None:
            conditions.append(f"{column} = {string_literal(value)}")
    for name, value in sorted(filters.dimensions.items()):
        conditions.append(f"{dialect.dimension_value(name)} = {string_literal(value)}")
    return "\n    AND ".join(conditions)


def _deduplicated_cte(dialect: Dialect, filters: HistoryFilters) -> str:
    key = ", ".join(DATAPOINT_KEY)
    return (
        "deduplicated AS (\n"
        "  SELECT * FROM (\n"
        f"    SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY ingested_at, event_id)"
        " AS copy_number\n"
        f"    FROM {dialect.table}\n"
        f"    WHERE {_where(dialect, filters)}\n"
        "  ) AS numbered\n"
        "  WHERE copy_number = 1\n"
        ")"
    )


def _first_values_cte(dialect: Dialect, filters: HistoryFilters) -> str:
    """One value per datapoint: the first ingested copy's (the unit belongs to the series)."""
    key = ", ".join(DATAPOINT_KEY)
    return (
        "deduplicated AS (\n"
        f"  SELECT {key}, unit, min_by(metric_value, ingested_at) AS metric_value\n"
        f"  FROM {dialect.table}\n"
        f"  WHERE {_where(dialect, filters)}\n"
        f"  GROUP BY {key}, unit\n"
        ")"
    )


def aggregate_sql(
    dialect: Dialect, filters: HistoryFilters, *, bucket_seconds: int, per_spoke: bool = False
) -> str:
    """Per series and bucket (and per spoke with `per_spoke`), in series then time order."""
    group = [*SERIES_COLUMNS, *(SPOKE_COLUMNS if per_spoke else ())]
    group_text = ", ".join(group)
    bucket = dialect.bucket_start("extraction_time", bucket_seconds)
    return (
        f"WITH {_first_values_cte(dialect, filters)},\n"
        "per_spoke AS (\n"
        f"  SELECT {', '.join((*SERIES_COLUMNS, *SPOKE_COLUMNS))}, {bucket} AS bucket_start,\n"
        "    count(*) AS datapoints, min(metric_value) AS minimum, max(metric_value) AS maximum,\n"
        "    sum(metric_value) AS total, avg(metric_value) AS spoke_mean\n"
        "  FROM deduplicated\n"
        f"  GROUP BY {', '.join((*SERIES_COLUMNS, *SPOKE_COLUMNS))}, {bucket}\n"
        ")\n"
        f"SELECT {group_text}, bucket_start,\n"
        "  count(*) AS spokes,\n"
        "  CAST(sum(datapoints) AS BIGINT) AS datapoints,\n"
        "  min(minimum) AS minimum,\n"
        "  max(maximum) AS maximum,\n"
        "  sum(total) / sum(datapoints) AS mean,\n"
        "  sum(spoke_mean) AS spoke_mean_total,\n"
        "  avg(spoke_mean) AS spoke_mean_average\n"
        "FROM per_spoke\n"
        f"GROUP BY {group_text}, bucket_start\n"
        f"ORDER BY {group_text}, bucket_start"
    )


def aggregate_columns(*, per_spoke: bool) -> tuple[str, ...]:
    return (*SERIES_COLUMNS, *(SPOKE_COLUMNS if per_spoke else ()), *AGGREGATE_VALUE_COLUMNS)


def raw_sql(dialect: Dialect, filters: HistoryFilters) -> str:
    """Deduplicated rows with every column and the partition, in series then time order."""
    return (
        f"WITH {_deduplicated_cte(dialect, filters)}\n"
        f"SELECT {', '.join(RAW_COLUMNS)}\n"
        "FROM deduplicated\n"
        "ORDER BY project, environment, metric_name, dimensions, extraction_time, account_id,"
        " region"
    )
