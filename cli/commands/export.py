"""`dsdash export`: the deduplicated history rows of a range, as Parquet or CSV files.

For people who take the data elsewhere. The rows are raw (one per datapoint, replays removed),
unlike `dsdash query`, which aggregates; see `hub_stack.history_query.export` for the layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.history_access import (
    DEFAULT_HISTORY_ENGINE,
    CacheDirOption,
    EngineOption,
    HistoryDirOption,
    HistoryOptionError,
    history_engine,
)
from cli.operator_console import (
    EXIT_USAGE,
    ConfigOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    check_names,
    fail,
    open_hub,
    parse_moment,
    runtime_of,
)
from hub_stack.history_query.athena_engine import AthenaQueryError
from hub_stack.history_query.export import ExportFormat, export_history
from hub_stack.history_query.queries import HistoryFilters, HistoryQueryError
from hub_stack.history_query.results import NoHistoryDataError


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    context: typer.Context,
    *,
    since: Annotated[
        str,
        typer.Option(
            "--since", help="From this time: ISO 8601 (2025-06-01, 2025-06-01T12:00Z) or 7d/12h."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write into (created).", file_okay=False)
    ],
    until: Annotated[
        str | None,
        typer.Option("--until", help="Up to this time (same forms as --since; default now)."),
    ] = None,
    export_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format", help="parquet (the bucket's layout) or csv.", case_sensitive=False
        ),
    ] = ExportFormat.PARQUET,
    project: Annotated[str | None, typer.Option("--project", help="Project name.")] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="Environment name.")
    ] = None,
    engine: EngineOption = DEFAULT_HISTORY_ENGINE,
    history_dir: HistoryDirOption = None,
    cache_dir: CacheDirOption = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Write the history of a range (deduplicated raw rows) as Parquet or CSV files."""
    runtime = runtime_of(context)
    now = runtime.clock()
    start = parse_moment("--since", since, now)
    end = parse_moment("--until", until, now) or now
    assert start is not None  # --since is required
    try:
        filters = HistoryFilters(since=start, until=end, project=project, environment=environment)
    except HistoryQueryError as error:
        fail(str(error), EXIT_USAGE)
    with open_hub(config, profile, region, endpoint_url) as connection:
        check_names(connection, project=project, environment=environment)
        try:
            reader = history_engine(
                connection, engine, history_dir=history_dir, cache_dir=cache_dir
            )
            summary = export_history(reader, filters, out, export_format)
        except HistoryOptionError as error:
            fail(str(error), EXIT_USAGE)
        except AthenaQueryError as error:
            fail(str(error))
        except NoHistoryDataError as error:
            fail(f"{error}; nothing exported")
        except OSError as error:
            fail(f"cannot write the export to {out}: {error.strerror or error}")
    typer.echo(f"exported {summary.rows:,} row(s) to {out} ({len(summary.files)} file(s))")
