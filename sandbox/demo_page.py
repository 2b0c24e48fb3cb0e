"""The demo's dashboard page, rendered from what the real path delivered."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from dashboard.dashboard_data import build_dashboard_data
from dashboard.html import render_dashboard
from dashboard.kpi_spoke_history import with_spoke_history
from hub_stack.history_query.duckdb_engine import DuckDbEngine, S3HistorySource
from sandbox.demo_world import Demo
from sandbox.history_backfill import DEFAULT_BACKFILL_DAYS


def write_dashboard(demo: Demo, path: Path, *, history_days: int = DEFAULT_BACKFILL_DAYS) -> None:
    """The page `dsdash dashboard` renders, from the hub's latest values and the history the real
    path delivered to the sandbox's history bucket (ingest -> Firehose -> Parquet, §6), read
    through the query layer as the CLI's default engine reads it (DuckDB over a boto3 mirror)."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="dsdash-demo-history-") as cache:
        source = S3HistorySource.of_hub(
            demo.hub_session(), demo.hub_account, demo.config.hub.region, Path(cache)
        )
        engine = DuckDbEngine(source)
        data = build_dashboard_data(
            demo.store(),
            demo.config,
            history_engine=engine,
            history_days=history_days,
            clock=lambda: now,
        )
        data = with_spoke_history(data, engine)
    path.write_text(render_dashboard(data), encoding="utf-8")
