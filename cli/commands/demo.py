"""`dsdash demo`: run the whole product on the embedded sandbox organization (no AWS account).

The sandbox (and moto under it) is the optional `sandbox` extra: this module imports it only when
the command runs, so the rest of the CLI starts without it, and a missing extra is one line on
stderr and exit 2 rather than a traceback. Imports run one way: this command imports the sandbox,
and hands `sandbox.serve` the printer it needs.
"""

from __future__ import annotations

import logging
import time
import warnings
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from sandbox.demo import DemoResult


class StackSetAdminChoice(StrEnum):
    """`--stackset-admin`: the values of `organization.stackset_admin`."""

    MANAGEMENT = "management"
    DELEGATED = "delegated"


EXIT_FAILURE = 1
EXIT_USAGE = 2
# A missing module under one of these means the `sandbox` extra is not installed (moto), or the
# sandbox package itself is not.
SANDBOX_EXTRA_MODULES = frozenset({"sandbox", "moto"})
SANDBOX_EXTRA_MISSING = "install the sandbox extra: pip install 'dsdash[sandbox]'"


def _sandbox_extra_missing(error: ModuleNotFoundError) -> NoReturn:
    """Exit 2 with one line when the sandbox extra is missing; any other missing module is a bug
    and keeps its traceback."""
    missing = (error.name or "").partition(".")[0]
    if missing not in SANDBOX_EXTRA_MODULES:
        raise error
    typer.echo(f"dsdash: {SANDBOX_EXTRA_MISSING} ({error.name} is not installed)", err=True)
    raise typer.Exit(EXIT_USAGE) from None


def demo(
    *,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default: config/projects.yaml)."),
    ] = None,
    spokes: Annotated[
        int, typer.Option("--spokes", min=1, max=60, help="Spoke accounts to create.")
    ] = 4,
    out: Annotated[
        Path, typer.Option("--out", help="Where summary.json and dashboard.html go.")
    ] = Path("demo-output"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sandbox's data and ids.")] = 7,
    stackset_admin: Annotated[
        StackSetAdminChoice | None,
        typer.Option(
            "--stackset-admin",
            help="Where the org stack runs: management, or delegated (a registered StackSets "
            "delegated administrator; the management account keeps only forwarding rules). "
            "Default: the config's organization.stackset_admin.",
        ),
    ] = None,
    history_days: Annotated[
        int | None,
        typer.Option(
            "--history-days",
            min=0,
            max=30,
            help="Days of past extractions to backfill through the real extractor and ingest, so "
            "the charts have history on first run (0: none; default: 14).",
        ),
    ] = None,
    history_hourly_days: Annotated[
        int | None,
        typer.Option(
            "--history-hourly-days",
            min=0,
            max=30,
            help="Of the backfilled days, the last ones extracted every hour; the days before "
            "every 4 hours (default: all of them, hourly throughout).",
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Keep the sandbox running on 127.0.0.1 for `dsdash ... --endpoint-url` and the "
            "AWS CLI, until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Build an organization on moto, deploy dsdash into it, enroll spokes, refresh, and compare
    what the hub stored with the seeded truth."""
    from config.errors import ConfigError
    from config.loader import load_config

    console = Console(stderr=True)
    try:
        loaded = load_config(config)
    except ConfigError as error:
        console.print(Text(str(error)), markup=False)
        raise typer.Exit(EXIT_USAGE) from None

    logging.getLogger().setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    try:
        from sandbox.demo import DemoOptions, run_demo
        from sandbox.serve import serve_until_interrupted
    except ModuleNotFoundError as error:
        _sandbox_extra_missing(error)

    started = time.monotonic()

    def progress(message: str) -> None:
        console.print(Text(f"[{time.monotonic() - started:5.1f}s] {message}"))

    # The backfill's default lives with the sandbox, which this module may not import at load time.
    history: dict[str, int] = {}
    if history_days is not None:
        history["history_days"] = history_days
    if history_hourly_days is not None:
        history["history_hourly_days"] = history_hourly_days
    options = DemoOptions(
        config=loaded,
        spokes=spokes,
        out_dir=out,
        seed=seed,
        stackset_admin=stackset_admin.value if stackset_admin else None,
        **history,
    )
    if serve:
        serve_until_interrupted(
            options, progress, console, lambda result: print_summary(result, console)
        )
        return
    result = run_demo(options, progress)
    print_summary(result, Console())
    if not result.ok:
        raise typer.Exit(EXIT_FAILURE)


def print_summary(result: DemoResult, console: Console) -> None:
    title = f"dsdash demo: organization {result.organization_id}"
    if result.stackset_admin == "delegated":
        title += f", org stack in delegated administrator {result.org_account_id}"
    table = Table(title=title)
    for column in ("Account", "Project", "Env", "State", "Metrics vs truth"):
        table.add_column(column, no_wrap=True)
    for spoke in result.spokes:
        verdict = f"{spoke.matching}/{spoke.expected} match"
        table.add_row(
            spoke.account_id + (" (new)" if spoke.joined_late else ""),
            spoke.project,
            spoke.environment,
            Text(spoke.state, style="green" if spoke.state == "enrolled" else "red"),
            Text(verdict, style="green" if spoke.ok else "red"),
        )
    console.print(table)
    for spoke in result.spokes:
        for mismatch in spoke.mismatches:
            console.print(Text(f"  {spoke.account_id}: {mismatch}", style="red"))
    alerts = result.alerts
    if alerts.skipped is None:
        heard = [n.state for n in (*alerts.on_breach, *alerts.on_recovery)]
        console.print(
            Text(
                f"Alert {alerts.alert} in {alerts.account_id}: the subscriber heard"
                f" {', '.join(heard) or 'nothing'}"
                + (" (one start, one recovery)." if alerts.ok else ", expected ALARM then OK."),
                style="green" if alerts.ok else "red",
            )
        )
    console.print(
        f"Quarantined events: {result.quarantined}. Took {result.seconds:.0f}s. "
        f"Wrote {result.out_dir / 'summary.json'} and {result.out_dir / 'dashboard.html'}."
    )
    console.print(
        "All spokes enrolled and every metric equals the seeded truth."
        if result.ok
        else Text(
            "Some spokes, metrics or alert notifications differ from the truth (see above).",
            style="red",
        )
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
