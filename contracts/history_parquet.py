"""The Parquet side of the history table: the files' Arrow schema and their writer.

Derived from `contracts.history_table.COLUMNS`, like the Glue table, so a file whose schema differs
from the Glue table can only come from code that bypasses both. Imports pyarrow: never part of a
Lambda bundle (`contracts.history_table` resolves these names from here on first use).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from contracts.history_table import COLUMN_NAMES, COLUMNS, parse_row_timestamp


def arrow_schema() -> pa.Schema:
    """The Parquet files' schema (data columns only; `dt` lives in the object key)."""
    types = {
        "string": pa.string(),
        "float64": pa.float64(),
        "int32": pa.int32(),
        "timestamp_ms_utc": pa.timestamp("ms", tz="UTC"),
    }
    return pa.schema([pa.field(c.name, types[c.arrow_type], nullable=False) for c in COLUMNS])


def write_parquet(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write rows (as `history_row` returns them) to one Parquet file; returns the row count."""
    materialized: Sequence[Mapping[str, Any]] = list(rows)
    columns: dict[str, list[Any]] = {name: [] for name in COLUMN_NAMES}
    for row in materialized:
        for name in COLUMN_NAMES:
            value = row[name]
            if name in ("extraction_time", "ingested_at") and isinstance(value, str):
                value = parse_row_timestamp(value)
            columns[name].append(value)
    table = pa.table(columns, schema=arrow_schema())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")
    return len(materialized)
