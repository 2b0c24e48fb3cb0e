"""`dsdash query`: history aggregated by the engine per series and time bucket (never read from
the hub table), and the latest values read with Query, never Scan."""

from __future__ import annotations

import csv
import io
import json

import pytest
from operator_cli_support import (
    CHURN_PROD_FRESH,
    CHURN_THRESHOLD,
    FRAUD_DEV_FRESH,
    FRAUD_DEV_STALE,
)

FRAUD_DEV_TOTAL_JOBS_HISTORY = [
    "--project",
    "fraud-detection",
    "--environment",
    "dev",
    "--metric",
    "TotalCompletedTrainingJobs",
    "--bucket",
    "1h",
]

# The series' hourly buckets: the two dev accounts' counts add up (10+4, 12+5, 15).
EXPECTED_BUCKETS = [
    ("2025-06-01T09:00:00Z", 14, 2),
    ("2025-06-01T10:00:00Z", 17, 2),
    ("2025-06-01T11:00:00Z", 15, 1),
]
# Drilled down per account: the five stored datapoints, each account's line oldest first.
EXPECTED_PER_ACCOUNT = [
    ("2025-06-01T09:00:00Z", FRAUD_DEV_FRESH, 10),
    ("2025-06-01T10:00:00Z", FRAUD_DEV_FRESH, 12),
    ("2025-06-01T11:00:00Z", FRAUD_DEV_FRESH, 15),
    ("2025-06-01T09:00:00Z", FRAUD_DEV_STALE, 4),
    ("2025-06-01T10:00:00Z", FRAUD_DEV_STALE, 5),
]


def test_history_as_json_is_one_row_per_bucket(hub):
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY, "--format", "json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["bucket_start"], r["value"], r["spokes"]) for r in rows] == EXPECTED_BUCKETS
    assert {(r["project"], r["environment"], r["metric"], r["unit"]) for r in rows} == {
        ("fraud-detection", "dev", "TotalCompletedTrainingJobs", "Count")
    }
    assert hub.operations == []  # history never reads the hub table


def test_history_per_account_is_the_drill_down(hub):
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY, "--by-account", "--format", "json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["bucket_start"], r["account_id"], r["value"]) for r in rows] == (
        EXPECTED_PER_ACCOUNT
    )
    assert {r["region"] for r in rows} == {"eu-west-1"}


def test_history_as_csv(hub):
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY, "--format", "csv")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["bucket_start"], float(r["value"]), int(r["spokes"])) for r in rows] == (
        EXPECTED_BUCKETS
    )
    assert all(r["dimensions"] == "" and r["account_id"] == "" for r in rows)


def test_history_as_table(hub):
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY)

    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "TotalCompletedTrainingJobs" in line]
    assert len(lines) == len(EXPECTED_BUCKETS)
    for line, (start, value, spokes) in zip(lines, EXPECTED_BUCKETS, strict=True):
        cells = [cell.strip() for cell in line.split("│")]
        assert start in cells and str(value) in cells and str(spokes) in cells
    assert "3 row(s), 5 datapoint(s)" in result.stdout


def test_since_and_account_narrow_the_history(hub):
    result = hub.run(
        "query",
        *FRAUD_DEV_TOTAL_JOBS_HISTORY,
        "--since",
        "2025-06-01T09:30:00Z",
        "--account",
        FRAUD_DEV_STALE,
        "--format",
        "json",
    )

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["bucket_start"], r["value"]) for r in rows] == [("2025-06-01T10:00:00Z", 5)]


def test_relative_since_counts_back_from_now(hub):
    # NOW is 12:00: the last 90 minutes hold only the 11:00 datapoint.
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY, "--since", "90m", "--format", "json")

    assert [r["value"] for r in json.loads(result.stdout)] == [15]


def test_dimension_filter_selects_one_series(hub):
    result = hub.run(
        "query",
        "--metric",
        "CompletedTrainingJobsByInstanceType",
        "--dimension",
        "InstanceType=ml.m5.xlarge",
        "--format",
        "json",
    )

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["dimensions"], r["value"]) for r in rows] == [({"InstanceType": "ml.m5.xlarge"}, 7)]


def test_history_without_dimensions_covers_every_dimension_series(hub):
    result = hub.run(
        "query",
        "--project",
        "fraud-detection",
        "--environment",
        "dev",
        "--metric",
        "CompletedTrainingJobsByInstanceType",
        "--format",
        "json",
    )

    rows = json.loads(result.stdout)
    assert sorted((r["dimensions"]["InstanceType"], r["value"]) for r in rows) == [
        ("ml.g5.2xlarge", 2),
        ("ml.m5.xlarge", 7),
    ]


def test_a_range_without_history_says_so(hub):
    result = hub.run("query", "--since", "2025-01-01", "--until", "2025-01-02", "--format", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert result.stderr.startswith("dsdash: no data in this range (2025-01-01T00:00:00+00:00")
    assert result.stderr.count("\n") == 1


def test_latest_values_of_a_project(hub):
    result = hub.run("query", "--latest", "--project", "fraud-detection", "--format", "json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    found = {
        (r["metric"], tuple(r["dimensions"].items()), r["account_id"]): r["value"] for r in rows
    }
    assert found == {
        (
            "CompletedTrainingJobsByInstanceType",
            (("InstanceType", "ml.g5.2xlarge"),),
            FRAUD_DEV_FRESH,
        ): 2,
        (
            "CompletedTrainingJobsByInstanceType",
            (("InstanceType", "ml.m5.xlarge"),),
            FRAUD_DEV_FRESH,
        ): 7,
        ("TotalCompletedTrainingJobs", (), FRAUD_DEV_FRESH): 15,
        ("TotalCompletedTrainingJobs", (), FRAUD_DEV_STALE): 5,
    }


def test_latest_of_everything_keeps_decimals_exact(hub):
    csv_result = hub.run("query", "--latest", "--metric", "SsmParameterValue", "--format", "csv")

    assert csv_result.exit_code == 0, csv_result.output
    rows = list(csv.DictReader(io.StringIO(csv_result.stdout)))
    assert [(r["account_id"], r["value"], r["dimensions"]) for r in rows] == [
        (CHURN_PROD_FRESH, CHURN_THRESHOLD, "ParameterName=/churn/model/quality-threshold")
    ]
    json_rows = json.loads(
        hub.run("query", "--latest", "--metric", "SsmParameterValue", "--format", "json").stdout
    )
    assert [r["value"] for r in json_rows] == [float(CHURN_THRESHOLD)]


@pytest.mark.parametrize(
    "arguments",
    [["--latest"], ["--latest", "--project", "churn-prediction", "--environment", "prod"]],
)
def test_latest_values_never_scan(hub, arguments):
    result = hub.run("query", *arguments, "--format", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout), "the question should select some datapoints"
    # Latest values are DynamoDB Queries; history comes from the history files (S3), never the
    # table (docs/architecture.md §7, "Hub data plane (issue 10)").
    if "--latest" in arguments:
        assert "Query" in hub.operations
    assert "Scan" not in hub.operations


def test_bad_option_values_are_usage_errors(hub):
    bad_dimension = hub.run("query", "--metric", "X", "--dimension", "InstanceType")
    bad_since = hub.run("query", "--metric", "X", "--since", "yesterday")
    bad_bucket = hub.run("query", "--metric", "X", "--bucket", "hourly")
    inverted = hub.run("query", "--since", "2025-06-02", "--until", "2025-06-01")

    assert bad_dimension.exit_code == 2
    assert "NAME=VALUE" in bad_dimension.stderr
    assert bad_since.exit_code == 2
    assert "'yesterday'" in bad_since.stderr
    assert bad_bucket.exit_code == 2
    assert "--bucket 'hourly'" in bad_bucket.stderr
    assert inverted.exit_code == 2
    assert "empty" in inverted.stderr
