"""Filling moto's Athena gap for tests: the rows a query returns are computed by DuckDB running the
*Athena* dialect's SQL text over the same files, then registered in moto through its
`/moto-api/static/athena/query-results` mechanism (moto's Athena runs no SQL). Nothing is typed
in by hand: what Athena returns in the tests is what the Athena text computes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import requests

from hub_stack.history_query.dialect import duckdb_trino_shim
from hub_stack.history_query.duckdb_engine import history_view_sql
from hub_stack.history_query.results import HistoryResult, normalized_rows

MOTO_ATHENA_RESULTS_URL = "http://motoapi.amazonaws.com/moto-api/static/athena/query-results"
# DuckDB type names -> the names Athena's ColumnInfo uses.
_ATHENA_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP": "timestamp",
}


def run_athena_text_on_duckdb(sql: str, files: Sequence[Path]) -> tuple[HistoryResult, list[str]]:
    """The Athena SQL text's answer over `files`, and each column's Athena type."""
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET autoinstall_known_extensions = false")
        connection.execute("SET autoload_known_extensions = false")
        connection.execute("SET enable_progress_bar = false")
        connection.execute(history_view_sql(files))
        for statement in duckdb_trino_shim():
            connection.execute(statement)
        cursor = connection.execute(sql)
        description = cursor.description or []
        columns = tuple(column[0] for column in description)
        types = [_ATHENA_TYPES[str(column[1])] for column in description]
        return HistoryResult(columns, normalized_rows(cursor.fetchall())), types
    finally:
        connection.close()


def _athena_text(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, datetime):
        return {
            "VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.")
            + f"{value.microsecond // 1000:03d}"
        }
    return {"VarCharValue": str(value)}


def register_athena_result(
    result: HistoryResult, types: Sequence[str], *, account_id: str, region: str
) -> None:
    """Queue `result` as the next query's answer, header row first as Athena returns a SELECT."""
    header = {"Data": [{"VarCharValue": name} for name in result.columns]}
    rows = [header] + [{"Data": [_athena_text(value) for value in row]} for row in result.rows]
    column_info = [
        {"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"}
        for name, kind in zip(result.columns, types, strict=True)
    ]
    response = requests.post(
        MOTO_ATHENA_RESULTS_URL,
        json={
            "account_id": account_id,
            "region": region,
            "results": [{"rows": rows, "column_info": column_info}],
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
