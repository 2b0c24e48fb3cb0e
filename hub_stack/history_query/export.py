"""`dsdash export`: deduplicated raw history rows, for people who take the data elsewhere.

- Parquet: the bucket's own layout, `<out>/history/dt=<day>/dsdash-export.parquet`, written by
  the contract's writer (`contracts.history_parquet.write_parquet`), so the export has exactly the
  Glue table's schema and `dsdash query --history-dir <out>` (DuckDB) reads it back.
- CSV: one file, `<out>/dsdash-history.csv`, every column plus `dt`, timestamps as ISO 8601 UTC
  with milliseconds (the text `history_row` writes).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from contracts.history_parquet import write_parquet
from contracts.history_table import COLUMN_NAMES, HISTORY_PREFIX, PARTITION
from hub_stack.history_query.queries import RAW_COLUMNS, HistoryFilters
from hub_stack.history_query.reads import HistoryEngine, raw_rows
from hub_stack.history_query.results import NoHistoryDataError

PARQUET_FILE_NAME: Final = "dsdash-export.parquet"
CSV_FILE_NAME: Final = "dsdash-history.csv"


class ExportFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


@dataclass(frozen=True)
class ExportSummary:
    rows: int
    files: tuple[Path, ...]


def export_history(
    engine: HistoryEngine, filters: HistoryFilters, out_dir: Path, export_format: ExportFormat
) -> ExportSummary:
    """Write the range's deduplicated rows under `out_dir`; NoHistoryDataError when none."""
    result = raw_rows(engine, filters)
    if not result.rows:
        raise NoHistoryDataError(filters)
    records = list(result.records())
    if export_format is ExportFormat.CSV:
        return ExportSummary(len(records), (_write_csv(records, out_dir / CSV_FILE_NAME),))
    by_partition: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_partition.setdefault(record[PARTITION.name], []).append(record)
    files = []
    for partition, rows in sorted(by_partition.items()):
        path = out_dir / HISTORY_PREFIX / f"{PARTITION.name}={partition}" / PARQUET_FILE_NAME
        write_parquet(({name: row[name] for name in COLUMN_NAMES} for row in rows), path)
        files.append(path)
    return ExportSummary(len(records), tuple(files))


def _csv_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return "" if value is None else str(value)


def _write_csv(records: Sequence[Mapping[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(RAW_COLUMNS)
        for record in records:
            writer.writerow([_csv_text(record[name]) for name in RAW_COLUMNS])
    return path
