"""How the console reaches history: the engine options every history command shares.

`--engine duckdb` (default; also `DSDASH_HISTORY_ENGINE`) reads the hub's history bucket through
boto3 into a local cache and queries it with DuckDB, or reads `--history-dir` (a `dsdash export`
directory) without AWS; `--engine athena` runs the same query in the hub's Athena workgroup
(docs/architecture.md §7, "Hub data plane: reads").
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Final

import typer

from cli.hub_connection import HubConnection
from hub_stack.history_query.engine_selection import DEFAULT_ENGINE, EngineName, open_engine
from hub_stack.history_query.reads import HistoryEngine

EngineOption = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="Query engine for history: duckdb (embedded, reads the history bucket) or athena.",
        envvar="DSDASH_HISTORY_ENGINE",
        case_sensitive=False,
    ),
]
HistoryDirOption = Annotated[
    Path | None,
    typer.Option(
        "--history-dir",
        help="Read history from this directory (a `dsdash export --format parquet` output) "
        "instead of the hub's bucket (duckdb only).",
        file_okay=False,
        exists=True,
    ),
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Where the duckdb engine keeps downloaded history objects "
        "(default: $XDG_CACHE_HOME/dsdash/history or ~/.cache/dsdash/history).",
        file_okay=False,
    ),
]
DEFAULT_HISTORY_ENGINE: Final = DEFAULT_ENGINE

_DURATION: Final = re.compile(r"^([1-9][0-9]*)([mhd])$")
_DURATION_SECONDS: Final = {"m": 60, "h": 3600, "d": 86400}


class HistoryOptionError(ValueError):
    """A history option the command cannot use; the message names it."""


def history_engine(
    connection: HubConnection,
    engine: EngineName,
    *,
    history_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> HistoryEngine:
    if engine is EngineName.ATHENA and history_dir is not None:
        raise HistoryOptionError("--history-dir is read by --engine duckdb only")
    return open_engine(
        engine,
        session=connection.session,
        account_id=connection.config.hub.account_id,
        region=connection.region,
        cache_dir=cache_dir,
        history_dir=history_dir,
    )


def bucket_seconds(text: str) -> int:
    """`30m`, `6h`, `1d` as seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise HistoryOptionError(
            f"--bucket {text!r}: expected a whole number and m, h or d, like 1h or 1d"
        )
    return int(
        timedelta(seconds=int(match.group(1)) * _DURATION_SECONDS[match.group(2)]).total_seconds()
    )
