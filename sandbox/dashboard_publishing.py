"""The hub's dashboard publisher, run once by the demo after its refresh (docs/architecture.md §6).

The deployed function (`dsdash-dashboard-publisher`, from the hub template) is not invoked through
moto's Lambda: its real handler (`dashboard.publisher.handler`) runs in-process with the
function's own environment, as `sandbox.lambda_runtime` runs handlers, so the hub's dashboard
bucket holds the page and `dsdash dashboard --open/--share --endpoint-url ...` against `dsdash
demo --serve` fetches it. The one gap: moto's Athena runs no SQL (it would answer empty results),
so the handler is given the DuckDB engine over the same history bucket; the page is what Athena's
answers would draw (`tests/hub_stack/history_query` checks both engines return the same rows).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from contracts.dashboard_page import DASHBOARD_PUBLISHER_FUNCTION_NAME
from dashboard import publisher
from hub_stack.history_query.duckdb_engine import DuckDbEngine, S3HistorySource
from sandbox.credentials import environment


def run_dashboard_publisher(session: Any, hub_account: str, region: str) -> dict[str, Any]:
    """One forced run of the publisher's handler in the hub (`session`): its result."""
    configuration = session.client("lambda").get_function_configuration(
        FunctionName=DASHBOARD_PUBLISHER_FUNCTION_NAME
    )
    variables = configuration.get("Environment", {}).get("Variables", {})
    with tempfile.TemporaryDirectory(prefix="dsdash-demo-publisher-") as cache:
        engine = DuckDbEngine(S3HistorySource.of_hub(session, hub_account, region, Path(cache)))
        with environment({**variables, "AWS_DEFAULT_REGION": region}):
            return publisher.handler({"force": True}, None, session=session, engine=engine)
