"""`dsdash dashboard`: write the self-contained HTML dashboard (the page itself is `dashboard/`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer

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
from dashboard.dashboard_data import (
    DEFAULT_HISTORY_DAYS,
    build_dashboard_data,
)
from dashboard.html import render_dashboard

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
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Write the self-contained HTML dashboard and print its path."""
    runtime = runtime_of(context)
    with open_hub(config, profile, region, endpoint_url) as connection:
        try:
            data = build_dashboard_data(
                connection.store(clock=runtime.clock),
                connection.config,
                history_days=since,
                clock=runtime.clock,
            )
        except ScheduleError as error:
            fail(str(error), EXIT_USAGE)
    page = render_dashboard(data)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write the dashboard to {out}: {error.strerror or error}")
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
