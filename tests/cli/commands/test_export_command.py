"""`dsdash export`: the range's deduplicated raw rows as Parquet (readable again by `dsdash
query --history-dir`) or CSV, and a plain message when the range holds nothing."""

from __future__ import annotations

import csv
import json

from operator_cli_support import FRAUD_DEV_FRESH, FRAUD_DEV_STALE, known_datapoints

from contracts.history_table import COLUMN_NAMES


def test_parquet_export_reads_back_as_the_same_history(hub, tmp_path):
    out = tmp_path / "export"

    result = hub.run("export", "--since", "1d", "--format", "parquet", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert f"exported {len(known_datapoints())} row(s) to {out}" in result.stdout
    assert list(out.glob("history/dt=*/*.parquet"))
    arguments = ["--project", "fraud-detection", "--environment", "dev"]
    arguments += ["--metric", "TotalCompletedTrainingJobs", "--bucket", "1h", "--format", "json"]
    from_export = hub.run("query", *arguments, "--history-dir", str(out))
    from_bucket = hub.run("query", *arguments)
    assert from_export.exit_code == 0, from_export.output
    assert json.loads(from_export.stdout) == json.loads(from_bucket.stdout)
    assert [row["value"] for row in json.loads(from_export.stdout)] == [14, 17, 15]


def test_csv_export_has_every_column_and_row(hub, tmp_path):
    out = tmp_path / "csv"

    result = hub.run("export", "--since", "1d", "--format", "csv", "--out", str(out))

    assert result.exit_code == 0, result.output
    with (out / "dsdash-history.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(known_datapoints())
    assert set(COLUMN_NAMES) <= set(rows[0])
    total_jobs = sorted(
        (row["extraction_time"], row["account_id"], float(row["metric_value"]))
        for row in rows
        if row["metric_name"] == "TotalCompletedTrainingJobs"
    )
    assert total_jobs[:2] == [
        ("2025-06-01T09:00:00.000Z", FRAUD_DEV_FRESH, 10.0),
        ("2025-06-01T09:00:00.000Z", FRAUD_DEV_STALE, 4.0),
    ]


def test_exporting_an_empty_range_says_so_and_writes_nothing(hub, tmp_path):
    out = tmp_path / "nothing"

    result = hub.run("export", "--since", "2025-01-01", "--until", "2025-01-02", "--out", str(out))

    assert result.exit_code == 1
    assert "no data in this range" in result.stderr and "nothing exported" in result.stderr
    assert not out.exists()
