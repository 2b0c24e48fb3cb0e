"""Every SQL difference between Athena (Trino) and DuckDB, in one place (docs/architecture.md §7).

The query layer (`hub_stack.history_query.queries`) writes each query once and asks a `Dialect`
for the pieces that differ:

- **time buckets**: both engines bucket on epoch seconds, so a bucket starts at a multiple of its
  width in UTC, the same grid `dashboard.downsample.TimeGrid` draws. Trino reads epoch seconds
  with `to_unixtime`, DuckDB with `epoch`;
- **timestamp literals**: the Glue column is a Trino `timestamp` (UTC wall time, no zone); the
  Parquet column read by DuckDB is `TIMESTAMP WITH TIME ZONE`;
- **the table**: Athena names the Glue table; DuckDB reads a view over local Parquet files;
- **JSON**: one dimension's value from the `dimensions` column;
- **parameters**: values are rendered as escaped literals by `string_literal`, not bound as
  parameters, because Athena's ExecutionParameters and DuckDB's prepared statements disagree on
  types (Athena takes every parameter as SQL text). One literal renderer for both engines keeps
  the text each engine runs identical but for the pieces above, which lets a test run the Athena
  text on DuckDB (`duckdb_trino_shim`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from contracts.history_table import GLUE_DATABASE_NAME, GLUE_TABLE_NAME

# The name of the DuckDB view over the downloaded Parquet files.
DUCKDB_VIEW_NAME: Final = "metric_history"


class DialectError(ValueError):
    """A value the SQL text cannot carry (a NUL character, a naive timestamp)."""


def string_literal(text: str) -> str:
    """A SQL string literal, quotes doubled: the same rule in Trino and DuckDB."""
    if "\x00" in text:
        raise DialectError(f"a NUL character cannot appear in a query value: {text!r}")
    return "'" + text.replace("'", "''") + "'"


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise DialectError(f"query times must be timezone-aware, got {moment!r}")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


@dataclass(frozen=True)
class Dialect:
    name: str
    table: str
    epoch_function: str
    timestamp_type: str
    timestamp_suffix: str
    json_value_function: str
    # Trino's JSONPath takes a quoted key in brackets, DuckDB's after a dot.
    json_key_open: str
    json_key_close: str

    def timestamp_literal(self, moment: datetime) -> str:
        return f"{self.timestamp_type} '{_utc_text(moment)}{self.timestamp_suffix}'"

    def epoch_seconds(self, column: str) -> str:
        return f"{self.epoch_function}({column})"

    def bucket_start(self, column: str, width_seconds: int) -> str:
        """Epoch seconds of the start of the `width_seconds` bucket holding `column`."""
        if width_seconds < 1:
            raise DialectError(f"a time bucket must be at least 1 second, got {width_seconds}")
        return (
            f"CAST(floor({self.epoch_seconds(column)} / {width_seconds}) AS BIGINT)"
            f" * {width_seconds}"
        )

    def dimension_value(self, name: str) -> str:
        """The value of one dimension, NULL when the set does not have it."""
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        path = f'{self.json_key_open}"{escaped}"{self.json_key_close}'
        return f"{self.json_value_function}(dimensions, {string_literal(path)})"


ATHENA: Final = Dialect(
    name="athena",
    table=f'"{GLUE_DATABASE_NAME}"."{GLUE_TABLE_NAME}"',
    epoch_function="to_unixtime",
    timestamp_type="TIMESTAMP",
    # The Glue `timestamp` column holds UTC wall time without a zone.
    timestamp_suffix="",
    json_value_function="json_extract_scalar",
    json_key_open="$[",
    json_key_close="]",
)

DUCKDB: Final = Dialect(
    name="duckdb",
    table=DUCKDB_VIEW_NAME,
    epoch_function="epoch",
    timestamp_type="TIMESTAMPTZ",
    timestamp_suffix="+00",
    json_value_function="json_extract_string",
    json_key_open="$.",
    json_key_close="",
)

DIALECTS: Final = {dialect.name: dialect for dialect in (ATHENA, DUCKDB)}


def duckdb_trino_shim() -> tuple[str, ...]:
    """Statements that let DuckDB run the Athena dialect's text over the same view.

    Used only by tests and the README example check, to run the exact text sent to Athena where
    moto cannot (moto's Athena runs no SQL: it returns results registered in advance).
    `to_unixtime` and `json_extract_scalar` become macros over DuckDB's own functions, the Glue
    table becomes a view, and the session zone is UTC so a zone-less `TIMESTAMP` literal means
    UTC, as it does against the Glue column.
    """
    return (
        "SET TimeZone = 'UTC'",
        "CREATE OR REPLACE MACRO to_unixtime(t) AS epoch(t)",
        # `$["key"]` (Trino) becomes `$."key"` (DuckDB).
        "CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS "
        "json_extract_string(j, '$.' || substr(p, 3, length(p) - 3))",
        f"CREATE SCHEMA IF NOT EXISTS {GLUE_DATABASE_NAME}",
        f'CREATE OR REPLACE VIEW "{GLUE_DATABASE_NAME}"."{GLUE_TABLE_NAME}" AS '
        f"SELECT * FROM main.{DUCKDB_VIEW_NAME}",
    )
