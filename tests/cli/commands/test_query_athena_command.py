"""`dsdash query --engine athena`: the same rows as DuckDB, and one line when Athena fails.

moto's Athena runs no SQL: the rows it returns are registered first, computed by DuckDB running
the Athena dialect's text over the same history files (tests/hub_stack/history_query/
athena_on_moto.py)."""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from operator_cli_support import NOW, REGION

from cli import hub_connection
from config.loader import load_config
from contracts.history_table import ATHENA_WORKGROUP_NAME, history_bucket_name
from hub_stack.history_query import dialect
from hub_stack.history_query.queries import HistoryFilters, aggregate_sql

# The helper of the query layer's tests is imported by module name, so its folder goes on sys.path
# (tests/hub_stack/history_query lies under the source package's name, not a namespace of its own).
_HISTORY_QUERY_TESTS = Path(__file__).resolve().parents[2] / "hub_stack" / "history_query"
if str(_HISTORY_QUERY_TESTS) not in sys.path:
    sys.path.insert(0, str(_HISTORY_QUERY_TESTS))

from athena_on_moto import register_athena_result, run_athena_text_on_duckdb  # noqa: E402

ARGUMENTS = ["--project", "fraud-detection", "--environment", "dev"]
ARGUMENTS += ["--metric", "TotalCompletedTrainingJobs", "--bucket", "1h", "--since", "1d"]


@pytest.fixture
def history_files(hub, tmp_path):
    """The hub's workgroup, and local copies of its history objects (for DuckDB to compute
    what moto's Athena must answer)."""
    hub.session.client("athena").create_work_group(
        Name=ATHENA_WORKGROUP_NAME,
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://athena-results/"}},
    )
    s3 = hub.session.client("s3")
    bucket = history_bucket_name(load_config().hub.account_id, REGION)
    files = []
    for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        path = tmp_path / entry["Key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, entry["Key"], str(path))
        files.append(path)
    return files


def test_athena_answers_what_duckdb_answers(hub, history_files):
    filters = HistoryFilters(
        since=NOW - timedelta(days=1),
        until=NOW,
        project="fraud-detection",
        environment="dev",
        metric_name="TotalCompletedTrainingJobs",
    )
    athena_text = aggregate_sql(dialect.ATHENA, filters, bucket_seconds=3600)
    rows, types = run_athena_text_on_duckdb(athena_text, history_files)
    account = hub.session.client("sts").get_caller_identity()["Account"]
    register_athena_result(rows, types, account_id=account, region=REGION)

    by_athena = hub.run("query", *ARGUMENTS, "--engine", "athena", "--format", "json")
    by_duckdb = hub.run("query", *ARGUMENTS, "--format", "json")

    assert by_athena.exit_code == 0, by_athena.output
    assert json.loads(by_athena.stdout) == json.loads(by_duckdb.stdout)
    assert [row["value"] for row in json.loads(by_athena.stdout)] == [14, 17, 15]


def test_a_failed_athena_query_is_one_line_naming_the_query(hub, history_files, monkeypatch):
    real_open_session = hub_connection.open_session

    def failing_athena(*arguments: Any) -> hub_connection.HubSession:
        session = real_open_session(*arguments)

        # moto gap: its queries always succeed; give GetQueryExecution Athena's failure shape.
        def fail(parsed: dict[str, Any], **_: Any) -> None:
            parsed["QueryExecution"]["Status"].update(
                State="FAILED",
                StateChangeReason="HIVE_BAD_DATA: Error reading file history/dt=2025-06-01/x",
            )

        session.events.register("after-call.athena.GetQueryExecution", fail)
        return session

    monkeypatch.setattr(hub_connection, "open_session", failing_athena)

    result = hub.run("query", *ARGUMENTS, "--engine", "athena")

    assert result.exit_code == 1
    assert re.match(
        r"^dsdash: Athena query [0-9a-f-]{36} FAILED: HIVE_BAD_DATA: Error reading file",
        result.stderr,
    )
    assert result.stderr.count("\n") == 1


def test_history_dir_is_for_duckdb_only(hub, tmp_path):
    result = hub.run("query", *ARGUMENTS, "--engine", "athena", "--history-dir", str(tmp_path))

    assert result.exit_code == 2
    assert "--history-dir" in result.stderr
