"""`dsdash quarantine list`: the events the hub refused, and why."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.operator_console import (
    ConfigOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    make_console,
    open_hub,
    print_json,
    runtime_of,
)
from hub_stack.runtime.quarantine import DEFAULT_QUARANTINE_DAYS, QuarantineRecord


def quarantine_list(
    context: typer.Context,
    *,
    days: Annotated[
        int, typer.Option("--days", min=1, help="Look back this many days (UTC).")
    ] = DEFAULT_QUARANTINE_DAYS,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N events at most.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """The newest events the hub refused, with the reason."""
    runtime = runtime_of(context)
    with open_hub(config, profile, region, endpoint_url) as connection:
        records = connection.store(clock=runtime.clock).quarantine.recent(limit, days=days)
    if as_json:
        print_json([_quarantine_document(record) for record in records])
        return
    if not records:
        make_console().print(Text(f"No event was quarantined in the last {days} day(s)."))
        return
    table = Table(
        title=f"Quarantined events (last {days} days, newest first)", title_justify="left"
    )
    for column in ("Received", "Reason code", "Claimed account", "Claimed scope", "Event id"):
        table.add_column(column, no_wrap=True)
    table.add_column("Reason")
    for record in records:
        claimed_scope = "/".join(
            part or "?" for part in (record.claimed_project_name, record.claimed_environment)
        )
        table.add_row(
            Text(record.received_at),
            Text(record.reason_code),
            Text(record.claimed_account_id or "?"),
            Text(claimed_scope),
            Text(record.event_id),
            Text(record.reason),
        )
    console = make_console()
    console.print(table)
    console.print(Text(f"{len(records)} event(s); `--json` includes each raw event."))


def _quarantine_document(record: QuarantineRecord) -> dict[str, Any]:
    return {
        "received_at": record.received_at,
        "reason_code": record.reason_code,
        "reason": record.reason,
        "event_id": record.event_id,
        "message_id": record.message_id,
        "claimed_account_id": record.claimed_account_id,
        "claimed_project": record.claimed_project_name,
        "claimed_environment": record.claimed_environment,
        "raw_event": record.raw_event,
        "raw_event_truncated": record.raw_event_truncated,
        "raw_event_bytes": record.raw_event_bytes,
    }


def register(app: typer.Typer) -> None:
    quarantine_app = typer.Typer(
        help="Events the hub refused, and why.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,  # plain help, see cli/cli_conventions.py
    )
    quarantine_app.command("list")(quarantine_list)
    app.add_typer(quarantine_app, name="quarantine")
