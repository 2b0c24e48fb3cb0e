"""`dsdash query`: every output format carries the stored numbers, read with Query, never Scan."""

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
]

# The five stored datapoints of that series, oldest first (then by account).
EXPECTED_HISTORY = [
    ("2025-06-01T09:00:00.000Z", FRAUD_DEV_FRESH, 10),
    ("2025-06-01T09:00:00.000Z", FRAUD_DEV_STALE, 4),
    ("2025-06-01T10:00:00.000Z", FRAUD_DEV_FRESH, 12),
    ("2025-06-01T10:00:00.000Z", FRAUD_DEV_STALE, 5),
    ("2025-06-01T11:00:00.000Z", FRAUD_DEV_FRESH, 15),
]


def test_history_as_json(hub):
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY, "--format", "json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["extraction_date"], r["account_id"], r["value"]) for r in rows] == EXPECTED_HISTORY
    assert {(r["project"], r["environment"], r["metric"], r["unit"]) for r in rows} == {
        ("fraud-detection", "dev", "TotalCompletedTrainingJobs", "Count")
    }


def test_history_as_csv(hub):
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY, "--format", "csv")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["extraction_date"], r["account_id"], int(r["value"])) for r in rows] == (
        EXPECTED_HISTORY
    )
    assert all(r["dimensions"] == "" and r["region"] == "eu-west-1" for r in rows)


def test_history_as_table(hub):
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY)

    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "TotalCompletedTrainingJobs" in line]
    assert len(lines) == len(EXPECTED_HISTORY)
    for line, (date, account, value) in zip(lines, EXPECTED_HISTORY, strict=True):
        cells = [cell.strip() for cell in line.split("│")]
        assert date in cells and account in cells and str(value) in cells
    assert "5 datapoint(s)" in result.stdout


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
    assert [(r["extraction_date"], r["value"]) for r in rows] == [("2025-06-01T10:00:00.000Z", 5)]


def test_relative_since_counts_back_from_now(hub):
    # NOW is 12:00: the last 90 minutes hold only the 11:00 datapoint.
    result = hub.run("query", *FRAUD_DEV_TOTAL_JOBS_HISTORY, "--since", "90m", "--format", "json")

    assert [r["value"] for r in json.loads(result.stdout)] == [15]


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


def test_dimension_filter_on_a_metric_reads_the_by_metric_index(hub):
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


def test_a_question_no_key_can_address_names_the_missing_option(hub):
    result = hub.run("query", "--environment", "dev", "--format", "json")

    assert result.exit_code == 2
    assert "--project" in result.stderr and "--metric" in result.stderr
    assert result.stderr.count("\n") == 1
    assert hub.operations == []  # refused before reading anything


@pytest.mark.parametrize(
    "arguments",
    [
        FRAUD_DEV_TOTAL_JOBS_HISTORY,
        ["--project", "fraud-detection", "--account", FRAUD_DEV_FRESH],
        ["--metric", "TotalCompletedTrainingJobs", "--environment", "dev"],
        ["--latest"],
        ["--latest", "--project", "churn-prediction", "--environment", "prod"],
    ],
)
def test_filtered_questions_never_scan(hub, arguments):
    result = hub.run("query", *arguments, "--format", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout), "the question should select some datapoints"
    assert "Query" in hub.operations
    assert "Scan" not in hub.operations


def test_bad_option_values_are_usage_errors(hub):
    bad_dimension = hub.run("query", "--metric", "X", "--dimension", "InstanceType")
    bad_since = hub.run("query", "--metric", "X", "--since", "yesterday")

    assert bad_dimension.exit_code == 2
    assert "NAME=VALUE" in bad_dimension.stderr
    assert bad_since.exit_code == 2
    assert "'yesterday'" in bad_since.stderr
