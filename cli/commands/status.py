"""`dsdash status`: every spoke by project and environment, with its freshness and failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Final

import typer
from rich.table import Table
from rich.text import Text

from cli.operator_console import (
    ConfigOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    ago_text,
    duration_text,
    fail,
    make_console,
    open_hub,
    print_json,
    refresh_period_of,
    runtime_of,
)
from dashboard.dashboard_data import (
    SpokeFreshness,
    spoke_freshness,
)
from dashboard.model import STALE_AFTER_REFRESH_PERIODS
from hub_stack.runtime.quarantine import DEFAULT_QUARANTINE_DAYS
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.timestamps import format_timestamp


def status(
    context: typer.Context,
    *,
    fail_on_stale: Annotated[
        bool,
        typer.Option(
            "--fail-on-stale", help="Exit 1 when any enrolled spoke is stale or any spoke failed."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Every spoke by project and environment: state, last seen, stale flag, failed metrics."""
    runtime = runtime_of(context)
    with open_hub(config, profile, region, endpoint_url) as connection:
        period = refresh_period_of(connection)
        now = runtime.clock()
        store = connection.store(clock=runtime.clock)
        rows = spoke_freshness(store.spokes_with_freshness(), now=now, refresh_period=period)
        quarantined = store.quarantine.count(days=DEFAULT_QUARANTINE_DAYS)
    stale = [row for row in rows if row.stale]
    if as_json:
        print_json(_status_document(rows, now=now, period=period, quarantined=quarantined))
    else:
        _print_status(rows, now=now, period=period, quarantined=quarantined)
    failed = [row for row in rows if row.record.state is SpokeState.FAILED]
    if fail_on_stale and (stale or failed):
        problems = [
            f"{len(found)} {kind} spoke(s): "
            + ", ".join(
                f"{row.record.account_id} ({row.project}/{row.environment})" for row in found
            )
            for kind, found in (("stale", stale), ("failed", failed))
            if found
        ]
        fail("; ".join(problems))


def _status_document(
    rows: Sequence[SpokeFreshness], *, now: datetime, period: int, quarantined: int
) -> dict[str, Any]:
    return {
        "generated_at": format_timestamp(now),
        "refresh_period_seconds": period,
        "stale_after_seconds": STALE_AFTER_REFRESH_PERIODS * period,
        "stale_count": sum(row.stale for row in rows),
        "quarantine_days": DEFAULT_QUARANTINE_DAYS,
        "quarantine_count": quarantined,
        "spokes": [
            {
                "account_id": row.record.account_id,
                "project": row.record.project_name,
                "environment": row.record.environment,
                "state": row.record.state.value,
                "reason": row.record.reason,
                "updated_at": row.record.updated_at,
                "last_seen_at": row.record.last_seen_at,
                "last_extraction_date": row.record.last_extraction_date,
                "stale": row.stale,
                "failed_metrics": [
                    {
                        "metric_name": error.metric_name,
                        "error_code": error.error_code,
                        "message": error.message,
                    }
                    for error in row.record.last_errors
                ],
            }
            for row in rows
        ],
    }


def _print_status(
    rows: Sequence[SpokeFreshness], *, now: datetime, period: int, quarantined: int
) -> None:
    console = make_console()
    if not rows:
        console.print(
            Text(
                "No spoke is registered in the hub yet: enroll accounts by tagging their OU, "
                "or with `dsdash enroll`."
            )
        )
    else:
        table = Table(title="Spokes", title_justify="left")
        for column in ("Project", "Environment", "Account", "State", "Reason", "Last seen"):
            table.add_column(column, no_wrap=column in ("Account", "State"))
        table.add_column("Stale", no_wrap=True)
        table.add_column("Failed metrics (last extraction)")
        previous_scope: tuple[str, str] | None = None
        for row in rows:
            scope = (row.project, row.environment)
            shown_scope = ("", "") if scope == previous_scope else scope
            previous_scope = scope
            failures = "\n".join(
                f"{error.metric_name}: {error.error_code}" for error in row.record.last_errors
            )
            table.add_row(
                Text(shown_scope[0]),
                Text(shown_scope[1]),
                Text(row.record.account_id),
                Text(row.record.state.value, style=_STATE_STYLES[row.record.state]),
                Text(row.record.reason),
                Text(ago_text(row.last_seen_at, now)),
                Text("STALE", style="bold red") if row.stale else Text("no"),
                Text(failures, style="yellow") if failures else Text("-"),
            )
        console.print(table)
        enrolled = sum(row.record.state is SpokeState.ENROLLED for row in rows)
        stale = sum(row.stale for row in rows)
        console.print(
            Text(
                f"{len(rows)} spoke(s), {enrolled} enrolled, {stale} stale. Spokes refresh every "
                f"{duration_text(period)}; an enrolled spoke is stale after "
                f"{duration_text(STALE_AFTER_REFRESH_PERIODS * period)} without data."
            )
        )
    console.print(
        Text(
            f"Quarantined events (last {DEFAULT_QUARANTINE_DAYS} days): {quarantined}"
            + (" (see `dsdash quarantine list`)" if quarantined else "")
        )
    )


_STATE_STYLES: Final = {
    SpokeState.ENROLLED: "green",
    SpokeState.PENDING: "yellow",
    SpokeState.FAILED: "bold red",
    SpokeState.OFFBOARDED: "dim",
}


def register(app: typer.Typer) -> None:
    app.command("status")(status)
