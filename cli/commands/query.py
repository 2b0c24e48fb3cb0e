"""`dsdash query`: datapoints from the hub as a table, CSV or JSON.

Which Queries read them is `cli.query_planner`'s job; this module parses the options and prints.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, Final

import typer
from rich.table import Table
from rich.text import Text

from cli.operator_console import (
    EXIT_USAGE,
    ConfigOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    check_names,
    fail,
    json_number,
    make_console,
    open_hub,
    parse_moment,
    print_json,
    runtime_of,
)
from cli.query_planner import QueryFilters, UnaddressableQueryError, select_datapoints
from hub_stack import table_design
from hub_stack.runtime.store import DatapointRecord


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def query(
    context: typer.Context,
    *,
    project: Annotated[str | None, typer.Option("--project", help="Project name.")] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="Environment name.")
    ] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Metric name.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Spoke account id.")] = None,
    dimension: Annotated[
        list[str] | None,
        typer.Option("--dimension", help="Dimension filter NAME=VALUE (repeatable)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="From this time: ISO 8601 (2025-06-01, 2025-06-01T12:00Z) or 7d/12h/30m.",
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to this time (same forms as --since).")
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Latest value of each series and account only.")
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
    ] = OutputFormat.TABLE,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Datapoints from the hub: history of series, or their latest values."""
    runtime = runtime_of(context)
    now = runtime.clock()
    filters = QueryFilters(
        project=project,
        environment=environment,
        metric=metric,
        account=account,
        dimensions=_parse_dimensions(dimension or []),
        since=parse_moment("--since", since, now),
        until=parse_moment("--until", until, now),
        latest=latest,
    )
    if filters.since and filters.until and filters.since > filters.until:
        fail(f"--since ({since}) is after --until ({until})", EXIT_USAGE)
    with open_hub(config, profile, region, endpoint_url) as connection:
        check_names(connection, project=project, environment=environment)
        try:
            records = select_datapoints(
                connection.store(clock=runtime.clock),
                filters,
                configured_projects=tuple(connection.config.projects),
            )
        except UnaddressableQueryError as error:
            fail(str(error), EXIT_USAGE)
    if output_format is OutputFormat.JSON:
        print_json([_datapoint_document(record) for record in records])
    elif output_format is OutputFormat.CSV:
        typer.echo(_datapoints_csv(records), nl=False)
    else:
        _print_datapoints_table(records, latest=latest)


def _parse_dimensions(entries: Sequence[str]) -> dict[str, str]:
    dimensions: dict[str, str] = {}
    for entry in entries:
        name, separator, value = entry.partition("=")
        if not separator or not name:
            fail(
                f"--dimension {entry!r}: expected NAME=VALUE, like InstanceType=ml.m5.xlarge",
                EXIT_USAGE,
            )
        dimensions[name] = value
    return dimensions


DATAPOINT_COLUMNS: Final = (
    "project",
    "environment",
    "metric",
    "dimensions",
    "account_id",
    "region",
    "extraction_date",
    "value",
    "unit",
)


def _datapoint_document(record: DatapointRecord) -> dict[str, Any]:
    return {
        "project": record.project_name,
        "environment": record.environment,
        "metric": record.metric_name,
        "dimensions": dict(record.dimensions),
        "account_id": record.account_id,
        "region": record.region,
        "extraction_date": record.extraction_date,
        "value": json_number(record.value),
        "unit": record.unit,
    }


def _datapoints_csv(records: Sequence[DatapointRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DATAPOINT_COLUMNS)
    for record in records:
        writer.writerow(
            (
                record.project_name,
                record.environment,
                record.metric_name,
                ";".join(f"{k}={v}" for k, v in sorted(record.dimensions.items())),
                record.account_id,
                record.region,
                record.extraction_date,
                str(record.value),  # the stored Decimal, digit for digit
                record.unit,
            )
        )
    return buffer.getvalue()


def _print_datapoints_table(records: Sequence[DatapointRecord], *, latest: bool) -> None:
    if not records:
        typer.echo("dsdash: no datapoint matches these filters", err=True)
        return
    table = Table(title="Latest values" if latest else "History", title_justify="left")
    for column in ("Project", "Environment", "Metric", "Dimensions", "Account", "Extracted"):
        table.add_column(column, no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column("Unit", no_wrap=True)
    for record in records:
        table.add_row(
            Text(record.project_name),
            Text(record.environment),
            Text(record.metric_name),
            Text(table_design.dimension_key(record.dimensions)),
            Text(record.account_id),
            Text(record.extraction_date),
            Text(str(record.value)),
            Text(record.unit),
        )
    console = make_console()
    console.print(table)
    console.print(Text(f"{len(records)} datapoint(s)"))


def register(app: typer.Typer) -> None:
    app.command("query")(query)
