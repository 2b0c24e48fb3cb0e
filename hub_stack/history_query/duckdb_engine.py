"""The embedded engine: DuckDB over local Parquet files (docs/architecture.md §7).

The files come from a `HistorySource`: the hub's bucket mirrored through boto3
(`S3HistorySource`), or a directory laid out as the bucket is (`LocalHistorySource`: a `dsdash
export --format parquet` directory, or a copy of the bucket). DuckDB never downloads an
extension: auto-install and auto-load are switched off before any query, and the Parquet and JSON
readers it needs are built into the Python wheel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from contracts.history_table import (
    COLUMNS,
    HISTORY_PREFIX,
    PARTITION,
    PARTITION_STRFTIME,
    history_bucket_name,
)
from hub_stack.history_query.dialect import DUCKDB, DUCKDB_VIEW_NAME, Dialect, string_literal
from hub_stack.history_query.queries import HistoryFilters
from hub_stack.history_query.results import HistoryResult, normalized_rows
from hub_stack.history_query.s3_mirror import MirrorStatistics, default_cache_dir, mirror_history

# DuckDB names for the contract's Arrow types, for the empty view of a range without files.
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "float64": "DOUBLE",
    "int32": "INTEGER",
    "timestamp_ms_utc": "TIMESTAMPTZ",
}
_OFFLINE_SETTINGS = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET TimeZone = 'UTC'",
    # DuckDB draws a progress bar on the terminal for long queries: never in a CLI's output.
    "SET enable_progress_bar = false",
)


class HistorySource(Protocol):
    def files(self, filters: HistoryFilters) -> Sequence[Path]:
        """Local Parquet files, each under a `dt=<day>/` folder, that may hold the range."""
        ...


@dataclass(frozen=True)
class LocalHistorySource:
    """A directory holding `history/dt=<day>/*` (the bucket's layout) or `dt=<day>/*`."""

    root: Path

    def files(self, filters: HistoryFilters) -> Sequence[Path]:
        first_day, last_day = filters.partition_range()
        first = first_day.strftime(PARTITION_STRFTIME)
        last = last_day.strftime(PARTITION_STRFTIME)
        base = self.root / HISTORY_PREFIX if (self.root / HISTORY_PREFIX).is_dir() else self.root
        found: list[Path] = []
        for folder in sorted(base.glob(f"{PARTITION.name}=*")):
            day = folder.name.partition("=")[2]
            if folder.is_dir() and first <= day <= last:
                found.extend(
                    path
                    for path in sorted(folder.iterdir())
                    if path.is_file() and not path.name.endswith(".part")
                )
        return found


@dataclass
class S3HistorySource:
    """The hub's history bucket, mirrored into `cache_dir` through boto3 before each query."""

    session: Any
    bucket: str
    cache_dir: Path = field(default_factory=default_cache_dir)
    statistics: MirrorStatistics = field(default_factory=MirrorStatistics)

    @classmethod
    def of_hub(
        cls, session: Any, account_id: str, region: str, cache_dir: Path | None = None
    ) -> S3HistorySource:
        return cls(
            session=session,
            bucket=history_bucket_name(account_id, region),
            cache_dir=cache_dir or default_cache_dir(),
        )

    def files(self, filters: HistoryFilters) -> Sequence[Path]:
        first_day, last_day = filters.partition_range()
        client = self.session.client("s3")
        return mirror_history(
            client, self.bucket, first_day, last_day, self.cache_dir, statistics=self.statistics
        )


class DuckDbEngine:
    """Runs the query layer's SQL in an in-memory DuckDB over a source's files."""

    dialect: Dialect = DUCKDB

    def __init__(self, source: HistorySource) -> None:
        self.source = source

    def execute(self, sql: str, filters: HistoryFilters) -> HistoryResult:
        import duckdb  # the CLI imports this module; DuckDB loads only when a query runs

        connection = duckdb.connect(":memory:")
        try:
            for statement in _OFFLINE_SETTINGS:
                connection.execute(statement)
            connection.execute(history_view_sql(self.source.files(filters)))
            cursor = connection.execute(sql)
            columns = tuple(description[0] for description in cursor.description or ())
            return HistoryResult(columns, normalized_rows(cursor.fetchall()))
        finally:
            connection.close()


def history_view_sql(files: Sequence[Path], view: str = DUCKDB_VIEW_NAME) -> str:
    """The view the dialect's table name refers to: the files with `dt` from their folder."""
    if not files:
        columns = ", ".join(
            f"CAST(NULL AS {_DUCKDB_TYPES[column.arrow_type]}) AS {column.name}"
            for column in (*COLUMNS, PARTITION)
        )
        return f"CREATE OR REPLACE VIEW {view} AS SELECT {columns} WHERE false"
    listed = ", ".join(string_literal(str(path)) for path in files)
    return (
        f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet([{listed}], "
        f"hive_partitioning = true, hive_types = {{'{PARTITION.name}': VARCHAR}})"
    )
