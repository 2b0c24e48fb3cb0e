"""Choosing a history engine by name: DuckDB (local or the hub's bucket) or Athena.

The CLI and the sandbox open engines here. Lambda code never does: the dashboard publisher builds
its Athena engine itself, so no function's import closure reaches `duckdb_engine`, whose wheel does
not fit the Lambda runtime (docs/architecture.md §3, "Layers"). Reads go through
`hub_stack.history_query.reads`, whatever the engine.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from hub_stack.history_query.athena_engine import AthenaEngine
from hub_stack.history_query.duckdb_engine import (
    DuckDbEngine,
    LocalHistorySource,
    S3HistorySource,
)
from hub_stack.history_query.reads import HistoryEngine


class EngineName(StrEnum):
    DUCKDB = "duckdb"
    ATHENA = "athena"


DEFAULT_ENGINE = EngineName.DUCKDB


def open_engine(
    name: EngineName,
    *,
    session: Any,
    account_id: str,
    region: str,
    cache_dir: Path | None = None,
    history_dir: Path | None = None,
) -> HistoryEngine:
    """DuckDB over `history_dir` when given, else over the hub's bucket; or Athena."""
    if name is EngineName.ATHENA:
        if history_dir is not None:
            raise ValueError("--history-dir is read by the duckdb engine only")
        return AthenaEngine(session)
    if history_dir is not None:
        return DuckDbEngine(LocalHistorySource(history_dir))
    return DuckDbEngine(S3HistorySource.of_hub(session, account_id, region, cache_dir))
