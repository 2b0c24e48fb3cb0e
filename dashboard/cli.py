"""The `dsdash` command line.

Each command group lives in its own module with a `register(app)` function, so this file only
assembles them. Modules are imported by name here (no plugin magic) to keep start-up cheap and the
command list obvious.
"""

from __future__ import annotations

import importlib
import os

import typer

# The runtime modules' Powertools loggers write structured INFO lines for CloudWatch; at a terminal
# they would bury the command's output. Powertools reads the level when a module creates its
# logger, so it is set before any command module (and what it imports) loads.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
# jsii (the CDK, used by `dsdash demo`) prints deprecation notices for the CDK's own internals.
os.environ.setdefault("JSII_DEPRECATED", "quiet")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

COMMAND_MODULES: tuple[str, ...] = (
    "dashboard.validate_command",
    "dashboard.metrics_command",
    "dashboard.operator_commands",
    "dashboard.demo_command",
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


if __name__ == "__main__":
    main()
