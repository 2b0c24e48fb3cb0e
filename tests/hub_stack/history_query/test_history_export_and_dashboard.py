"""`dsdash export`'s files read back, and dashboard lines from the engine equal the lines the
dashboard's own combiner draws from the raw rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from history_files import DAYS, START, WrittenHistory, history_rows, write_history

from contracts.history_parquet import arrow_schema
from contracts.history_table import COLUMN_NAMES, parse_row_timestamp
from dashboard.dashboard_data import combined_history
from dashboard.downsample import AccountCombiner, TimeGrid
from dashboard.model import is_additive
from hub_stack.history_query.duckdb_engine import DuckDbEngine, LocalHistorySource
from hub_stack.history_query.export import ExportFormat, export_history
from hub_stack.history_query.queries import RAW_COLUMNS, HistoryFilters
from hub_stack.history_query.reads import aggregate, raw_rows
from hub_stack.history_query.results import NoHistoryDataError

WHOLE_RANGE = HistoryFilters(since=START, until=START + timedelta(days=DAYS))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WrittenHistory]:
    yield write_history(tmp_path_factory.mktemp("history"))


def test_parquet_export_has_the_table_schema_and_reads_back(
    written: WrittenHistory, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    source = DuckDbEngine(LocalHistorySource(written.root))
    summary = export_history(source, WHOLE_RANGE, tmp_path, ExportFormat.PARQUET)
    assert summary.rows == written.rows  # deduplicated: the replay's rows are not exported
    for path in summary.files:
        assert pq.read_schema(path).remove_metadata().equals(arrow_schema())
    exported = DuckDbEngine(LocalHistorySource(tmp_path))
    assert raw_rows(exported, WHOLE_RANGE) == raw_rows(source, WHOLE_RANGE)
    assert aggregate(exported, WHOLE_RANGE, bucket_seconds=3600) == aggregate(
        source, WHOLE_RANGE, bucket_seconds=3600
    )


def test_csv_export_carries_every_row_and_column(written: WrittenHistory, tmp_path: Path) -> None:
    engine = DuckDbEngine(LocalHistorySource(written.root))
    (path,) = export_history(engine, WHOLE_RANGE, tmp_path, ExportFormat.CSV).files
    with path.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == RAW_COLUMNS
    expected = {
        (row["account_id"], row["metric_name"], row["extraction_time"]): row["metric_value"]
        for row in history_rows()
    }
    exported = {
        (row["account_id"], row["metric_name"], row["extraction_time"]): float(row["metric_value"])
        for row in rows
    }
    assert exported == expected
    assert all(set(COLUMN_NAMES) <= set(row) for row in rows)
    assert all(parse_row_timestamp(row["ingested_at"]) for row in rows)


def test_an_export_of_an_empty_range_says_so(written: WrittenHistory, tmp_path: Path) -> None:
    engine = DuckDbEngine(LocalHistorySource(written.root))
    empty = HistoryFilters(since=START - timedelta(days=9), until=START - timedelta(days=8))
    with pytest.raises(NoHistoryDataError, match="no data in this range"):
        export_history(engine, empty, tmp_path / "out", ExportFormat.CSV)
    assert not (tmp_path / "out").exists()


def test_dashboard_lines_equal_the_combiner_over_raw_rows(written: WrittenHistory) -> None:
    since, until = START, START + timedelta(days=DAYS)
    lines = combined_history(
        DuckDbEngine(LocalHistorySource(written.root)), since=since, until=until, max_points=20
    )
    # The dashboard's own combiner, fed every (deduplicated) raw row as before the query layer.
    grid = TimeGrid.spanning(since.timestamp(), until.timestamp(), 20)
    combiners: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], AccountCombiner] = {}
    for row in history_rows():
        dimensions = tuple(sorted(json.loads(row["dimensions"]).items()))
        key = (row["project"], row["environment"], row["metric_name"], dimensions)
        combiner = combiners.setdefault(
            key, AccountCombiner(grid, additive=is_additive(row["unit"]))
        )
        combiner.add(
            parse_row_timestamp(row["extraction_time"]).timestamp(),
            f"{row['account_id']}/{row['region']}",
            row["metric_value"],
        )
    assert {(x.project, x.environment, x.metric, x.dimensions) for x in lines} == set(combiners)
    for line in lines:
        expected = combiners[(line.project, line.environment, line.metric, line.dimensions)]
        assert [epoch for epoch, _ in line.points] == [epoch for epoch, _ in expected.points()]
        assert [value for _, value in line.points] == pytest.approx(
            [value for _, value in expected.points()]
        )
