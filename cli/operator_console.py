"""What every hub command of `dsdash` shares: the hub options, the hub connection with its
one-line failures, consoles that know whether they print to a terminal, and small formatters.

Every command finds the hub through `cli.hub_connection` (config file, `--profile`,
`--region`, `--endpoint-url`) and reads it through `HubStore`, whose reads are all Queries.

Output conventions:
- tables for people; `--json` (or `--format csv|json` for `query`) for scripts, on stdout;
- colour only when the stream is a terminal: rich's console is told so explicitly, so piping to a
  file never carries escape codes whatever FORCE_COLOR says;
- errors on stderr, one line each, prefixed `dsdash:`. Exit codes: 0 success, 1 the hub could not
  answer (unreachable, no credentials, missing table, refused call) or the check failed
  (`status --fail-on-stale`, `refresh --wait` timing out, enrollment failing), 2 a usage error
  (bad option value, invalid config file).

Tests and the sandbox inject a clock and a sleep through typer's context object
(`CliRunner().invoke(app, args, obj=ConsoleRuntime(...))`).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from rich.console import Console

from cli.config_names import UnknownNameError, check_configured_names
from cli.hub_connection import (
    HubConnection,
    HubOptions,
    HubUnavailableError,
    connect,
    reporting_hub_errors,
)
from config.errors import ConfigError
from config.loader import locate_config
from config.schedule import ScheduleError, refresh_period_seconds
from runtime_common.timestamps import format_timestamp

EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
DEFAULT_POLL_INTERVAL_SECONDS: Final = 5.0
# Tables printed to a pipe or file get this width: wide enough that no account id, timestamp or
# value is wrapped or cut.
PIPE_WIDTH: Final = 220

_RELATIVE_MOMENT: Final = re.compile(r"^(\d+)([dhm])$")
_RELATIVE_UNITS: Final = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class ConsoleRuntime:
    """What the commands take from the outside world, replaceable in tests."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    poll_interval_seconds: float = DEFAULT_POLL_INTERVAL_SECONDS


# --------------------------------------------------------------------------- shared options

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file naming the hub (default: $DSDASH_CONFIG, else ./config/projects.yaml,"
        " else the installed example).",
        dir_okay=False,
    ),
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS profile (default: the usual AWS settings).")
]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="Hub region (default: hub.region in the config).")
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Send every AWS call here instead (a sandbox)."),
]


# --------------------------------------------------------------------------- plumbing


def runtime_of(context: typer.Context) -> ConsoleRuntime:
    injected = context.find_root().obj
    return injected if isinstance(injected, ConsoleRuntime) else ConsoleRuntime()


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    interactive = stream.isatty()
    return Console(
        file=stream,
        color_system="auto" if interactive else None,
        force_terminal=interactive,
        width=None if interactive else PIPE_WIDTH,
        highlight=False,
        soft_wrap=False,
    )


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"dsdash: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def open_hub(
    config: Path | None, profile: str | None, region: str | None, endpoint_url: str | None
) -> Iterator[HubConnection]:
    """The hub connection; every failure an operator can fix leaves as one line on stderr."""
    location = locate_config(config)
    if location.is_installed_example:
        # Most likely run from the wrong directory: say which hub the command is about to use.
        typer.echo(f"dsdash: using {location.path} ({location.origin})", err=True)
    options = HubOptions(
        config_path=location.path, profile=profile, region=region, endpoint_url=endpoint_url
    )
    try:
        connection = connect(options)
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        fail(
            f"the config file is invalid ({len(error.problems)} problem(s)); see `dsdash validate`",
            EXIT_USAGE,
        )
    except HubUnavailableError as error:
        fail(str(error))
    try:
        with reporting_hub_errors(connection):
            yield connection
    except HubUnavailableError as error:
        fail(str(error))


def check_names(connection: HubConnection, *, project: str | None, environment: str | None) -> None:
    try:
        check_configured_names(connection.config, project=project, environment=environment)
    except UnknownNameError as error:
        fail(str(error), EXIT_USAGE)


def refresh_period_of(connection: HubConnection) -> int:
    try:
        return refresh_period_seconds(connection.config.refresh_schedule)
    except ScheduleError as error:
        fail(str(error), EXIT_USAGE)


def json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, sort_keys=False))


def ago_text(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return format_timestamp(moment)
    for unit_seconds, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= unit_seconds:
            return f"{format_timestamp(moment)} ({seconds // unit_seconds}{unit} ago)"
    return f"{format_timestamp(moment)} ({seconds}s ago)"


def duration_text(seconds: float) -> str:
    whole = int(seconds)
    for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if whole % unit_seconds == 0 and whole >= unit_seconds:
            count = whole // unit_seconds
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{whole} seconds"


def parse_moment(option: str, text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    relative = _RELATIVE_MOMENT.match(text.strip())
    if relative is not None:
        amount, unit = int(relative.group(1)), _RELATIVE_UNITS[relative.group(2)]
        return now - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(
            f"{option} {text!r}: expected ISO 8601 (2025-06-01 or 2025-06-01T12:00:00Z) or a "
            "duration before now like 7d, 12h or 30m",
            EXIT_USAGE,
        )
    # A time without an offset is UTC, as every time the hub stores.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
