"""The `dsdash` command line.

Each command group lives in its own module with a `register(app)` function, so this file only
assembles them. Modules are imported by name here (no plugin magic) to keep start-up cheap and the
command list obvious.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES: tuple[str, ...] = (
    "dashboard.validate_command",
    "dashboard.metrics_command",
    "dashboard.operator_commands",
)

app = typer.Typer(
    name="dsdash",
    help="Organization-wide data-science KPIs: validate the config, inspect metrics, run the hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module_name in COMMAND_MODULES:
    importlib.import_module(module_name).register(app)


def main() -> None:
    app()
