"""`dsdash query`: history aggregated by the engine, or the latest values.

History is read through the query layer (`hub_stack.history_query`): one aggregate query grouped
by project, environment, metric, dimensions and time bucket, the spokes of an environment
combined in SQL (`--by-account` keeps one row per account and region instead). The answer is
O(series x buckets) rows whatever the number of spokes or datapoints. `--latest` reads the hub
table's latest values through `cli.query_planner`, as before.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

import typer
from rich.table import Table
from rich.text import Text

from cli.history_access import (
    DEFAULT_HISTORY_ENGINE,
    CacheDirOption,
    EngineOption,
    HistoryDirOption,
    HistoryOptionError,
    bucket_seconds,
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
    json_number,
    make_console,
    open_hub,
    parse_moment,
    print_json,
    runtime_of,
)
from cli.query_planner import QueryFilters, select_latest_values
from dashboard.downsample import TimeGrid
from dashboard.model import is_additive
from hub_stack import table_design
from hub_stack.history_query.athena_engine import AthenaQueryError
from hub_stack.history_query.queries import HistoryFilters, HistoryQueryError
from hub_stack.history_query.reads import AggregateRow, aggregate, aggregate_rows
from hub_stack.history_query.results import NoHistoryDataError
from hub_stack.runtime.datapoints import DatapointRecord


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


DEFAULT_SINCE: Final = timedelta(days=7)
# Without --bucket: the finest "nice" width giving at most this many buckets per series.
DEFAULT_BUCKETS: Final = 100
HISTORY_COLUMNS: Final = (
    "project",
    "environment",
    "metric",
    "dimensions",
    "unit",
    "account_id",
    "region",
    "bucket_start",
    "value",
    "spokes",
    "datapoints",
    "minimum",
    "maximum",
    "mean",
)


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def combined_value(row: AggregateRow) -> float:
    """The value a chart shows: spokes' means summed for additive units, averaged otherwise."""
    return row.spoke_mean_total if is_additive(row.unit) else row.spoke_mean_average


def history_document(row: AggregateRow) -> dict[str, Any]:
    return {
        "project": row.project,
        "environment": row.environment,
        "metric": row.metric_name,
        "dimensions": json.loads(row.dimensions),
        "unit": row.unit,
        "account_id": row.account_id,
        "region": row.region,
        "bucket_start": _utc_text(row.bucket_time),
        "value": combined_value(row),
        "spokes": row.spokes,
        "datapoints": row.datapoints,
        "minimum": row.minimum,
        "maximum": row.maximum,
        "mean": row.mean,
    }


def _history_csv(rows: Sequence[AggregateRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        document = history_document(row)
        document["dimensions"] = ";".join(
            f"{key}={value}" for key, value in sorted(document["dimensions"].items())
        )
        writer.writerow(
            ["" if document[name] is None else document[name] for name in HISTORY_COLUMNS]
        )
    return buffer.getvalue()


def _print_history_table(rows: Sequence[AggregateRow], *, by_account: bool, step: int) -> None:
    table = Table(
        title=f"History, {step // 60} min buckets"
        if step < 3600
        else f"History, {step / 3600:g} h buckets",
        title_justify="left",
    )
    columns = ["Project", "Environment", "Metric", "Dimensions"]
    columns += ["Account", "Region"] if by_account else []
    columns += ["Bucket start"]
    for column in columns:
        table.add_column(column, no_wrap=True)
    for column in ("Value", "Spokes", "Datapoints", "Min", "Max"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("Unit", no_wrap=True)
    for row in rows:
        dimensions = ";".join(f"{k}={v}" for k, v in sorted(json.loads(row.dimensions).items()))
        cells = [row.project, row.environment, row.metric_name, dimensions]
        cells += [row.account_id or "", row.region or ""] if by_account else []
        cells += [_utc_text(row.bucket_time)]
        cells += [
            f"{combined_value(row):g}",
            str(row.spokes),
            str(row.datapoints),
            f"{row.minimum:g}",
            f"{row.maximum:g}",
            row.unit,
        ]
        table.add_row(*(Text(cell) for cell in cells))
    console = make_console()
    console.print(table)
    console.print(Text(f"{len(rows)} row(s), {sum(row.datapoints for row in rows)} datapoint(s)"))


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
            help="From this time: ISO 8601 (2025-06-01, 2025-06-01T12:00Z) or 7d/12h/30m "
            "(default 7d).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Up to this time (same forms as --since; default now)."),
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option("--bucket", help="Time bucket: 30m, 1h, 6h, 1d (default: at most 100)."),
    ] = None,
    by_account: Annotated[
        bool,
        typer.Option("--by-account", help="One row per account and region (drill-down)."),
    ] = False,
    latest: Annotated[
        bool, typer.Option("--latest", help="Latest value of each series and account only.")
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
    ] = OutputFormat.TABLE,
    engine: EngineOption = DEFAULT_HISTORY_ENGINE,
    history_dir: HistoryDirOption = None,
    cache_dir: CacheDirOption = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """History aggregated per series and time bucket, or the latest values (--latest)."""
    runtime = runtime_of(context)
    now = runtime.clock()
    dimensions = _parse_dimensions(dimension or [])
    start = parse_moment("--since", since, now) or now - DEFAULT_SINCE
    end = parse_moment("--until", until, now) or now
    if latest:
        latest_filters = QueryFilters(
            project=project,
            environment=environment,
            metric=metric,
            account=account,
            dimensions=dimensions,
        )
        _latest(
            context,
            latest_filters,
            output_format,
            hub_options=(config, profile, region, endpoint_url),
        )
        return
    try:
        filters = HistoryFilters(
            since=start,
            until=end,
            project=project,
            environment=environment,
            account_id=account,
            metric_name=metric,
            dimensions=dimensions,
        )
        step = (
            bucket_seconds(bucket)
            if bucket is not None
            else TimeGrid.spanning(start.timestamp(), end.timestamp(), DEFAULT_BUCKETS).step
        )
    except (HistoryQueryError, HistoryOptionError) as error:
        fail(str(error), EXIT_USAGE)
    with open_hub(config, profile, region, endpoint_url) as connection:
        check_names(connection, project=project, environment=environment)
        try:
            reader = history_engine(
                connection, engine, history_dir=history_dir, cache_dir=cache_dir
            )
            rows = aggregate_rows(
                aggregate(reader, filters, bucket_seconds=step, per_spoke=by_account)
            )
        except HistoryOptionError as error:
            fail(str(error), EXIT_USAGE)
        except AthenaQueryError as error:
            fail(str(error))
    if not rows:
        typer.echo(f"dsdash: {NoHistoryDataError(filters)}", err=True)
    if output_format is OutputFormat.JSON:
        print_json([history_document(row) for row in rows])
    elif output_format is OutputFormat.CSV:
        typer.echo(_history_csv(rows), nl=False)
    elif rows:
        _print_history_table(rows, by_account=by_account, step=step)


def _latest(
    context: typer.Context,
    filters: QueryFilters,
    output_format: OutputFormat,
    *,
    hub_options: tuple[Any, str | None, str | None, str | None],
) -> None:
    runtime = runtime_of(context)
    with open_hub(*hub_options) as connection:
        check_names(connection, project=filters.project, environment=filters.environment)
        records = select_latest_values(
            connection.store(clock=runtime.clock),
            filters,
            configured_projects=tuple(connection.config.projects),
        )
    if output_format is OutputFormat.JSON:
        print_json([_datapoint_document(record) for record in records])
    elif output_format is OutputFormat.CSV:
        typer.echo(_datapoints_csv(records), nl=False)
    else:
        _print_datapoints_table(records, latest=True)


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
