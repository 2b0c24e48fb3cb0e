"""How `dsdash` presents itself: `--version`, plain help and one-line usage errors.

- Help is click's plain layout (`rich_markup_mode=None` on every Typer app): typer's rich layout
  prints a `<bool>` placeholder after flags such as `--json`, which take no value.
- A usage error (unknown option, missing or bad value) is one line on stderr,
  `dsdash status: No such option: --bogus (see 'dsdash status --help')`, with exit code 2, where
  typer would draw a five-line box; scripts and people grep one line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any, NoReturn

import typer

# typer 0.2x vendors click as typer._click; its exceptions are what the parser raises.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

EXIT_USAGE = 2
PACKAGE_NAME = "dsdash"


def installed_version() -> str:
    """The version of the installed dsdash distribution (pyproject's `version`)."""
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        # Run from a checkout that was never installed (`python -m cli.main`).
        return "unknown (not installed)"


def show_version(value: bool) -> None:
    """Eager `--version` callback: print `dsdash <version>` and stop."""
    if value:
        typer.echo(f"{PACKAGE_NAME} {installed_version()}")
        raise typer.Exit()


def usage_error_line(error: UsageError) -> str:
    command = error.ctx.command_path if error.ctx is not None else PACKAGE_NAME
    return f"{command}: {error.format_message()} (see '{command} --help')"


class OneLineUsageErrors(TyperGroup):
    """The root command group: runs the command as typer does, but reports usage errors on one
    line. Typer's own handler runs only in standalone mode, so the group runs the command
    non-standalone and does the standalone part (exit codes, messages) itself."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as error:
            # `dsdash` or `dsdash quarantine` alone: the help is the answer.
            error.show()
            _exit(error.exit_code)
        except UsageError as error:
            typer.echo(usage_error_line(error), err=True)
            _exit(EXIT_USAGE)
        except ClickException as error:
            error.show()
            _exit(error.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            _exit(1)
        # Non-standalone, typer returns the code of a `typer.Exit` and the command's own return
        # value otherwise (None for every dsdash command).
        _exit(result if isinstance(result, int) else 0)


def _exit(code: int) -> NoReturn:
    sys.exit(code)
