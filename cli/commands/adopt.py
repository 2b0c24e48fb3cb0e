"""`dsdash adopt --from-ssm [--dry-run]`: register the original sample's spokes in the hub.

It reads the sample's `/monitored_projects/<Project>/<env>` parameters in the hub account, prints
what it will change (and what it cannot adopt, with why) before changing anything, then writes
the registry items (`cli.sample_adoption`). `--dry-run` stops after the plan.

Exit codes, as the other operator commands: 0 done (or nothing to do), 1 some parameters could
not be adopted (the others were) or the hub could not answer, 2 a usage error (no `--from-ssm`,
invalid config).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.operator_console import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    fail,
    make_console,
    open_hub,
)
from cli.sample_adoption import (
    AdoptionPlan,
    plan_adoption,
    read_sample_parameters,
    register_spokes,
)
from hub_stack.runtime.store import HubStore


def register(app: typer.Typer) -> None:
    app.command("adopt")(adopt)


def adopt(
    *,
    from_ssm: Annotated[
        bool,
        typer.Option(
            "--from-ssm",
            help="Read the sample's /monitored_projects/<Project>/<env> parameters in the hub.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; write nothing.")
    ] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Register the spokes of a running sample deployment in the hub's registry, so the hub
    accepts their events (with hub.accept_sample_spokes). Changes nothing else."""
    if not from_ssm:
        fail("say where the spokes come from: --from-ssm (the only source so far)", EXIT_USAGE)
    with open_hub(config, profile, region, endpoint_url) as connection:
        store = connection.store()
        parameters = read_sample_parameters(connection.session)
        registry = {spoke.account_id: spoke for spoke in store.registry.list_spokes()}
        plan = plan_adoption(parameters, connection.config, registry)
        _print_plan(plan)
        if dry_run:
            typer.echo("dry run: nothing was written")
        else:
            _apply(store, plan)
    if plan.problems:
        raise typer.Exit(EXIT_FAILURE)


def _apply(store: HubStore, plan: AdoptionPlan) -> None:
    written = register_spokes(store, plan.to_register)
    typer.echo(f"registered {written} spoke(s) in the hub registry")


def _print_plan(plan: AdoptionPlan) -> None:
    console = make_console()
    if plan.spokes:
        table = Table(title="Spokes of the sample", title_justify="left")
        for column in ("Change", "Account", "Project", "Environment", "From parameter"):
            table.add_column(column, no_wrap=True)
        for spoke in plan.spokes:
            table.add_row(
                spoke.change.value,
                spoke.account_id,
                spoke.project_name,
                spoke.environment,
                Text(spoke.parameter_name),
            )
        console.print(table)
    console.print(
        Text(
            f"{len(plan.to_register)} to register, "
            f"{len(plan.spokes) - len(plan.to_register)} already registered, "
            f"{len(plan.problems)} not adoptable; "
            f"{plan.dsdash_parameters} dsdash parameter(s) left to the enrollment function"
        )
    )
    for problem in plan.problems:
        typer.echo(f"dsdash: {problem.parameter_name}: {problem.message}", err=True)
