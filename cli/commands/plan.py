"""`dsdash plan`: the quotas N spokes would hit, and a monthly cost against the sample's design.

Nothing here calls AWS: quotas and costs come from `cli.capacity` (prices with their
source, counts measured by `python -m bench --only cost`). The schedule defaults to the config's
`refresh.schedule`, and the rules-per-bus quota is the config's `hub.rules_per_bus_quota`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.capacity.cost_model import PRICES_PATH, CostModel, monthly_costs
from cli.capacity.measured import MeasuredCountsError
from cli.capacity.plan_report import render_plan
from cli.capacity.quotas import quota_lines
from cli.operator_console import EXIT_USAGE, ConfigOption, fail
from config.errors import ConfigError
from config.loader import load_config, locate_config
from config.schedule import ScheduleError, refresh_period_seconds


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)


def plan(
    *,
    spokes: Annotated[
        int, typer.Option("--spokes", min=1, help="Number of spokes (accounts x regions).")
    ],
    metrics: Annotated[
        int, typer.Option("--metrics", min=1, help="Datapoints per extraction of one spoke.")
    ] = 15,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            help="Refresh schedule, rate(...) or cron(...) (default: refresh.schedule of the config).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Quotas to request and a line-item monthly cost for N spokes, dsdash vs the sample."""
    location = locate_config(config)
    try:
        loaded = load_config(location.path)
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        fail(f"the config file is invalid ({len(error.problems)} problem(s))", EXIT_USAGE)
    expression = schedule or loaded.refresh_schedule
    try:
        period = refresh_period_seconds(expression)
    except ScheduleError as error:
        fail(f"--schedule: {error}", EXIT_USAGE)
    try:
        model = CostModel.load()
    except MeasuredCountsError as error:
        fail(str(error))
    quotas = quota_lines(
        model,
        spokes=spokes,
        metrics=metrics,
        period_seconds=period,
        rules_per_bus_quota=loaded.hub.rules_per_bus_quota,
    )
    cost = monthly_costs(model, spokes=spokes, metrics=metrics, period_seconds=period)
    prices = model.prices
    note = (
        f"Prices: {prices['region']} list prices checked on {prices['checked_on']} "
        f"({PRICES_PATH.name}); counts measured by `{model.measured['generated_by']}`."
    )
    typer.echo(render_plan(quotas, cost, schedule=expression, prices_note=note), nl=False)
