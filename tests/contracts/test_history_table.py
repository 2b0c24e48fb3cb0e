"""The history table's one definition: the Parquet writer and the Glue table agree column by column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from contracts import history_table

GLUE_TO_ARROW = {
    "string": "string",
    "double": "double",
    "int": "int32",
    "timestamp": "timestamp[ms, tz=UTC]",
}


def _row() -> dict[str, object]:
    return history_table.history_row(
        project="fraud",
        environment="prod",
        account_id="111111111111",
        region="eu-west-1",
        metric_name="TrainingJobsCompleted",
        dimensions={"b": "2", "a": "1"},
        metric_value=3,
        unit="Count",
        extraction_time=datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC),
        event_id="e-1",
        schema_version=2,
        ingested_at=datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC),
    )


def test_written_file_has_the_glue_tables_columns_and_types(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    assert history_table.write_parquet([_row()], path) == 1
    schema = pq.read_schema(path)
    glue = history_table.glue_columns()
    assert [field.name for field in schema] == [column["Name"] for column in glue]
    assert [str(field.type) for field in schema] == [GLUE_TO_ARROW[c["Type"]] for c in glue]


def test_duckdb_reads_back_the_values_written(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    history_table.write_parquet([_row()], path)
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        row = connection.execute(
            "SELECT dimensions, metric_value, extraction_time FROM read_parquet(?)", [str(path)]
        ).fetchone()
    assert row is not None
    dimensions, value, extracted = row
    assert dimensions == '{"a":"1","b":"2"}'
    assert value == 3.0
    assert extracted == datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)


def test_partition_folder_is_hive_style_by_utc_delivery_day() -> None:
    delivered = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert history_table.partition_folder(delivered) == "history/dt=2026-12-01/"
    parameters = history_table.partition_projection_parameters("bucket")
    assert parameters["storage.location.template"] == "s3://bucket/history/dt=${dt}/"
