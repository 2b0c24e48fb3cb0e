"""`dsdash dashboard`: write the self-contained HTML dashboard (the page itself is `dashboard/`),
or, with `--open`/`--share`, fetch or share the page the hub's publisher keeps current
(`cli/dashboard_sharing.py`, docs/architecture.md §7, "Dashboard")."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Final

import typer

from cli.dashboard_sharing import PublishedPageError, fetch_published_page, share_link
from cli.history_access import DEFAULT_HISTORY_ENGINE, EngineOption, history_engine
from cli.operator_console import (
    EXIT_USAGE,
    ConfigOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    fail,
    open_hub,
    runtime_of,
)
from config.schedule import ScheduleError
from contracts.dashboard_page import DEFAULT_SHARE_SECONDS, MAX_SHARE_SECONDS
from dashboard.dashboard_data import (
    DEFAULT_HISTORY_DAYS,
    build_dashboard_data,
)
from dashboard.html import render_dashboard
from dashboard.kpi_spoke_history import with_spoke_history
from hub_stack.history_query.athena_engine import AthenaQueryError

DEFAULT_DASHBOARD_PATH: Final = Path("dsdash-dashboard.html")


def dashboard(
    context: typer.Context,
    *,
    out: Annotated[
        Path, typer.Option("--out", help="HTML file to write.", dir_okay=False)
    ] = DEFAULT_DASHBOARD_PATH,
    since: Annotated[
        int, typer.Option("--since", min=1, help="Days of history in the charts.")
    ] = DEFAULT_HISTORY_DAYS,
    engine: EngineOption = DEFAULT_HISTORY_ENGINE,
    open_page: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Fetch the page the hub keeps current (its dashboard bucket) into --out, "
            "and open it when run in a terminal, instead of rendering one here.",
        ),
    ] = False,
    share: Annotated[
        bool,
        typer.Option(
            "--share", help="Print a presigned link to the hub's current page, for sharing."
        ),
    ] = False,
    expires_in: Annotated[
        int,
        typer.Option(
            "--expires-in",
            min=1,
            max=MAX_SHARE_SECONDS,
            help="Seconds the --share link stays valid (at most 12 hours).",
        ),
    ] = DEFAULT_SHARE_SECONDS,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Write the self-contained HTML dashboard and print its path; or fetch (--open) or share
    (--share) the page the hub keeps current."""
    if open_page and share:
        fail("choose --open or --share, not both", EXIT_USAGE)
    runtime = runtime_of(context)
    with open_hub(config, profile, region, endpoint_url) as connection:
        if open_page or share:
            try:
                if share:
                    typer.echo(share_link(connection, expires_in))
                    return
                _write(out, fetch_published_page(connection))
            except PublishedPageError as error:
                fail(str(error))
            typer.echo(str(out))
            if sys.stdout.isatty():
                typer.launch(out.resolve().as_uri())
            return
        try:
            history = history_engine(connection, engine)
            data = build_dashboard_data(
                connection.store(clock=runtime.clock),
                connection.config,
                history_engine=history,
                history_days=since,
                clock=runtime.clock,
            )
            # Per-account drill-down lines: the same aggregate per spoke, within its own budget.
            data = with_spoke_history(data, history)
        except ScheduleError as error:
            fail(str(error), EXIT_USAGE)
        except AthenaQueryError as error:
            fail(str(error))
    _write(out, render_dashboard(data).encode("utf-8"))
    typer.echo(str(out))


def _write(out: Path, page: bytes) -> None:
    try:
        out.write_bytes(page)
    except OSError as error:
        fail(f"cannot write the dashboard to {out}: {error.strerror or error}")


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
