"""The README's Athena examples run, on DuckDB through the dialect's Trino shim, over history
files written by the real writer, and answer what the rows say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from athena_on_moto import run_athena_text_on_duckdb
from history_files import DAYS, SPOKES, history_rows, write_history

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = re.compile(r"## Use it from Athena and QuickSight\n(?P<body>.*?)\n## ", re.DOTALL)
SQL_BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```", re.DOTALL)


def readme_queries() -> list[str]:
    match = SECTION.search(README.read_text(encoding="utf-8"))
    assert match, "README.md lost its 'Use it from Athena and QuickSight' section"
    queries = [block["sql"] for block in SQL_BLOCK.finditer(match["body"])]
    assert len(queries) == 2
    return queries


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return list(write_history(tmp_path_factory.mktemp("history")).files)


def test_daily_totals_query(files: list[Path]) -> None:
    result, _ = run_athena_text_on_duckdb(readme_queries()[0], files)
    environments = {(project, environment) for project, environment, _, _ in SPOKES}
    assert len(result) == len(environments) * DAYS
    expected: dict[tuple[str, str, str], float] = {}
    for row in history_rows():
        if row["metric_name"] == "TotalCompletedTrainingJobs":
            key = (row["project"], row["environment"], row["extraction_time"][:10])
            expected[key] = expected.get(key, 0.0) + row["metric_value"] / 24
    answered = {
        (record["project"], record["environment"], f"{record['day']:%Y-%m-%d}"): record["total"]
        for record in result.records()
    }
    assert answered == pytest.approx(expected)


def test_sample_access_pattern_query(files: list[Path]) -> None:
    result, _ = run_athena_text_on_duckdb(readme_queries()[1], files)
    # One row per spoke and hour: the replayed copies are gone.
    assert len(result) == len(SPOKES) * DAYS * 24
    times = [record["extraction_time"] for record in result.records()]
    assert times == sorted(times)
