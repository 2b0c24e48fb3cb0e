"""The `dsdash` command line.

Each command group lives in its own module with a `register(app)` function, so this file only
assembles them. Modules are imported by name here (no plugin magic) to keep start-up cheap and the
command list obvious.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Annotated

import typer

from cli.cli_conventions import OneLineUsageErrors, show_version

COMMAND_MODULES: tuple[str, ...] = (
    "cli.commands.validate",
    "cli.commands.metrics",
    "cli.commands.status",
    "cli.commands.refresh",
    "cli.commands.query",
    "cli.commands.export",
    "cli.commands.plan",
    "cli.commands.dashboard",
    "cli.commands.enrollment",
    "cli.commands.quarantine",
    "cli.commands.registry",
    "cli.commands.adopt",
    "cli.commands.dlq",
    "cli.commands.alerts",
    "cli.commands.demo",
)

app = typer.Typer(
    name="dsdash",
    help="Organization-wide data-science KPIs: validate the config, inspect metrics, run the hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OneLineUsageErrors,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the dsdash version and exit.",
            is_eager=True,
            callback=show_version,
        ),
    ] = False,
) -> None:
    """Organization-wide data-science KPIs: validate the config, inspect metrics, run the hub."""


for module_name in COMMAND_MODULES:
    importlib.import_module(module_name).register(app)


def _quiet_runtime_logs() -> None:
    """The runtime modules' Powertools loggers write structured INFO lines for CloudWatch; at a
    terminal they would bury the command's output. Powertools reads the level when a module
    creates its logger: loggers created already are lowered here, later ones by the variable."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("dsdash-"):
            logging.getLogger(name).setLevel(logging.WARNING)
    # jsii (the CDK, used by `dsdash demo`) prints deprecation notices for the CDK's internals.
    os.environ.setdefault("JSII_DEPRECATED", "quiet")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def main() -> None:
    _quiet_runtime_logs()
    app()


if __name__ == "__main__":
    main()
