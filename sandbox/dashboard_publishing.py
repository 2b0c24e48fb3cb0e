"""The hub's dashboard publisher in the sandbox, run as a refresh asks (docs/architecture.md §6).

After each refresh the hub's refresh function makes a one-time EventBridge Scheduler schedule that
invokes the publisher once the refresh's burst window is over (`hub_stack.refresh.runtime.refresh`,
docs/architecture.md §7 "Dashboard"). Two moto gaps stand between that schedule and a page:

- moto's EventBridge Scheduler stores schedules and never runs them. `run_due_page_schedules`
  runs each one-time publish schedule of the hub (listed through the Scheduler API, paginated)
  with the input it carries, then deletes it, as `ActionAfterCompletion=DELETE` does. The
  sandbox has no clock to wait on: it runs them once the world has settled, which is the
  condition the schedule's delay stands for (every extraction the refresh asked for is in).
- The deployed function (`dsdash-dashboard-publisher`, from the hub template) is not invoked
  through moto's Lambda: its real handler
  (`hub_stack.dashboard_publisher.runtime.publisher.handler`) runs in-process with the
  function's own environment, as `sandbox.lambda_runtime` runs handlers, so the hub's dashboard
  bucket holds the page and `dsdash dashboard --open/--share --endpoint-url ...` against `dsdash
  demo --serve` fetches it. moto's Athena runs no SQL (it would answer empty results), so the
  handler is given the DuckDB engine over the same history bucket; the page is what Athena's
  answers would draw (`tests/hub_stack/history_query` checks both engines return the same rows).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from contracts.dashboard_page import DASHBOARD_PUBLISHER_FUNCTION_NAME
from hub_stack.dashboard_publisher.runtime import publisher
from hub_stack.history_query.duckdb_engine import DuckDbEngine, S3HistorySource
from hub_stack.refresh.runtime.refresh import PUBLISH_SCHEDULE_GROUP, PUBLISH_SCHEDULE_PREFIX
from sandbox.credentials import environment


def run_dashboard_publisher(
    session: Any, hub_account: str, region: str, event: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One run of the publisher's handler in the hub (`session`) with `event` (default: forced);
    its result."""
    configuration = session.client("lambda").get_function_configuration(
        FunctionName=DASHBOARD_PUBLISHER_FUNCTION_NAME
    )
    variables = configuration.get("Environment", {}).get("Variables", {})
    with tempfile.TemporaryDirectory(prefix="dsdash-demo-publisher-") as cache:
        engine = DuckDbEngine(S3HistorySource.of_hub(session, hub_account, region, Path(cache)))
        with environment({**variables, "AWS_DEFAULT_REGION": region}):
            return publisher.handler(
                {"force": True} if event is None else event, None, session=session, engine=engine
            )


def run_due_page_schedules(session: Any, hub_account: str, region: str) -> list[dict[str, Any]]:
    """Run every refresh's publish schedule in the hub, oldest first, and delete it; the
    publisher's result for each (the first renders, a later one finds the page current unless
    its refresh brought newer data)."""
    scheduler = session.client("scheduler")
    publisher_arn = session.client("lambda").get_function_configuration(
        FunctionName=DASHBOARD_PUBLISHER_FUNCTION_NAME
    )["FunctionArn"]
    due = []
    for page in scheduler.get_paginator("list_schedules").paginate(
        GroupName=PUBLISH_SCHEDULE_GROUP, NamePrefix=PUBLISH_SCHEDULE_PREFIX
    ):
        for summary in page["Schedules"]:
            if summary["Target"]["Arn"] == publisher_arn:
                due.append(
                    scheduler.get_schedule(GroupName=PUBLISH_SCHEDULE_GROUP, Name=summary["Name"])
                )
    results = []
    for schedule in sorted(due, key=lambda each: each["ScheduleExpression"]):
        event = json.loads(schedule["Target"].get("Input") or "{}")
        results.append(run_dashboard_publisher(session, hub_account, region, event))
        if schedule.get("ActionAfterCompletion") == "DELETE":
            scheduler.delete_schedule(GroupName=PUBLISH_SCHEDULE_GROUP, Name=schedule["Name"])
    return results
