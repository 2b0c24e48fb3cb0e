"""The hub operators' console: `dsdash status|refresh|query|dashboard|enroll|offboard` and
`dsdash quarantine list`.

Every command finds the hub through `dashboard.hub_connection` (config file, `--profile`,
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

import csv
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import boto3
import typer
from botocore.config import Config
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import contracts
from config.errors import ConfigError
from config.loader import locate_config
from config.schedule import ScheduleError, refresh_period_seconds
from dashboard.config_names import UnknownNameError, check_configured_names
from dashboard.dashboard_data import (
    DEFAULT_HISTORY_DAYS,
    SpokeFreshness,
    build_dashboard_data,
    spoke_freshness,
)
from dashboard.history_access import DEFAULT_HISTORY_ENGINE, EngineOption, history_engine
from dashboard.html import render_dashboard
from dashboard.hub_connection import (
    HubConnection,
    HubOptions,
    HubUnavailableError,
    connect,
    reporting_hub_errors,
)
from dashboard.model import STALE_AFTER_REFRESH_PERIODS
from hub_stack import table_design
from hub_stack.history_query.athena_engine import AthenaQueryError
from hub_stack.runtime.refresh import RefreshScopeError, emit_refresh, normalized_scope
from hub_stack.runtime.store import (
    DEFAULT_QUARANTINE_DAYS,
    DatapointRecord,
    HubStore,
    QuarantineRecord,
    SpokeRecord,
    SpokeState,
    format_timestamp,
    parse_timestamp,
)
from runtime_common.events import PutEventsError

EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
DEFAULT_DASHBOARD_PATH: Final = Path("dsdash-dashboard.html")
DEFAULT_REFRESH_TIMEOUT_SECONDS: Final = 300.0
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


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


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


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("refresh")(refresh)
    app.command("query")(query)
    app.command("dashboard")(dashboard)
    app.command("enroll")(enroll)
    app.command("offboard")(offboard)
    quarantine_app = typer.Typer(
        help="Events the hub refused, and why.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,  # plain help, see dashboard/cli_conventions.py
    )
    quarantine_app.command("list")(quarantine_list)
    app.add_typer(quarantine_app, name="quarantine")


# --------------------------------------------------------------------------- plumbing


def _runtime(context: typer.Context) -> ConsoleRuntime:
    injected = context.find_root().obj
    return injected if isinstance(injected, ConsoleRuntime) else ConsoleRuntime()


def _console(*, stderr: bool = False) -> Console:
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


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"dsdash: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _hub(
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
        _fail(
            f"the config file is invalid ({len(error.problems)} problem(s)); see `dsdash validate`",
            EXIT_USAGE,
        )
    except HubUnavailableError as error:
        _fail(str(error))
    try:
        with reporting_hub_errors(connection):
            yield connection
    except HubUnavailableError as error:
        _fail(str(error))


def _check_names(
    connection: HubConnection, *, project: str | None, environment: str | None
) -> None:
    try:
        check_configured_names(connection.config, project=project, environment=environment)
    except UnknownNameError as error:
        _fail(str(error), EXIT_USAGE)


def _refresh_period(connection: HubConnection) -> int:
    try:
        return refresh_period_seconds(connection.config.refresh_schedule)
    except ScheduleError as error:
        _fail(str(error), EXIT_USAGE)


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, sort_keys=False))


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return format_timestamp(moment)
    for unit_seconds, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= unit_seconds:
            return f"{format_timestamp(moment)} ({seconds // unit_seconds}{unit} ago)"
    return f"{format_timestamp(moment)} ({seconds}s ago)"


def _duration_text(seconds: float) -> str:
    whole = int(seconds)
    for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if whole % unit_seconds == 0 and whole >= unit_seconds:
            count = whole // unit_seconds
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{whole} seconds"


# --------------------------------------------------------------------------- status


def status(
    context: typer.Context,
    *,
    fail_on_stale: Annotated[
        bool,
        typer.Option(
            "--fail-on-stale", help="Exit 1 when any enrolled spoke is stale or any spoke failed."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Every spoke by project and environment: state, last seen, stale flag, failed metrics."""
    runtime = _runtime(context)
    with _hub(config, profile, region, endpoint_url) as connection:
        period = _refresh_period(connection)
        now = runtime.clock()
        store = connection.store(clock=runtime.clock)
        rows = spoke_freshness(store.list_spokes(), now=now, refresh_period=period)
        quarantined = store.count_quarantine(days=DEFAULT_QUARANTINE_DAYS)
    stale = [row for row in rows if row.stale]
    if as_json:
        _print_json(_status_document(rows, now=now, period=period, quarantined=quarantined))
    else:
        _print_status(rows, now=now, period=period, quarantined=quarantined)
    failed = [row for row in rows if row.record.state is SpokeState.FAILED]
    if fail_on_stale and (stale or failed):
        problems = [
            f"{len(found)} {kind} spoke(s): "
            + ", ".join(
                f"{row.record.account_id} ({row.project}/{row.environment})" for row in found
            )
            for kind, found in (("stale", stale), ("failed", failed))
            if found
        ]
        _fail("; ".join(problems))


def _status_document(
    rows: Sequence[SpokeFreshness], *, now: datetime, period: int, quarantined: int
) -> dict[str, Any]:
    return {
        "generated_at": format_timestamp(now),
        "refresh_period_seconds": period,
        "stale_after_seconds": STALE_AFTER_REFRESH_PERIODS * period,
        "stale_count": sum(row.stale for row in rows),
        "quarantine_days": DEFAULT_QUARANTINE_DAYS,
        "quarantine_count": quarantined,
        "spokes": [
            {
                "account_id": row.record.account_id,
                "project": row.record.project_name,
                "environment": row.record.environment,
                "state": row.record.state.value,
                "reason": row.record.reason,
                "updated_at": row.record.updated_at,
                "last_seen_at": row.record.last_seen_at,
                "last_extraction_date": row.record.last_extraction_date,
                "stale": row.stale,
                "failed_metrics": [
                    {
                        "metric_name": error.metric_name,
                        "error_code": error.error_code,
                        "message": error.message,
                    }
                    for error in row.record.last_errors
                ],
            }
            for row in rows
        ],
    }


def _print_status(
    rows: Sequence[SpokeFreshness], *, now: datetime, period: int, quarantined: int
) -> None:
    console = _console()
    if not rows:
        console.print(
            Text(
                "No spoke is registered in the hub yet: enroll accounts by tagging their OU, "
                "or with `dsdash enroll`."
            )
        )
    else:
        table = Table(title="Spokes", title_justify="left")
        for column in ("Project", "Environment", "Account", "State", "Reason", "Last seen"):
            table.add_column(column, no_wrap=column in ("Account", "State"))
        table.add_column("Stale", no_wrap=True)
        table.add_column("Failed metrics (last extraction)")
        previous_scope: tuple[str, str] | None = None
        for row in rows:
            scope = (row.project, row.environment)
            shown_scope = ("", "") if scope == previous_scope else scope
            previous_scope = scope
            failures = "\n".join(
                f"{error.metric_name}: {error.error_code}" for error in row.record.last_errors
            )
            table.add_row(
                Text(shown_scope[0]),
                Text(shown_scope[1]),
                Text(row.record.account_id),
                Text(row.record.state.value, style=_STATE_STYLES[row.record.state]),
                Text(row.record.reason),
                Text(_ago(row.last_seen_at, now)),
                Text("STALE", style="bold red") if row.stale else Text("no"),
                Text(failures, style="yellow") if failures else Text("-"),
            )
        console.print(table)
        enrolled = sum(row.record.state is SpokeState.ENROLLED for row in rows)
        stale = sum(row.stale for row in rows)
        console.print(
            Text(
                f"{len(rows)} spoke(s), {enrolled} enrolled, {stale} stale. Spokes refresh every "
                f"{_duration_text(period)}; an enrolled spoke is stale after "
                f"{_duration_text(STALE_AFTER_REFRESH_PERIODS * period)} without data."
            )
        )
    console.print(
        Text(
            f"Quarantined events (last {DEFAULT_QUARANTINE_DAYS} days): {quarantined}"
            + (" (see `dsdash quarantine list`)" if quarantined else "")
        )
    )


_STATE_STYLES: Final = {
    SpokeState.ENROLLED: "green",
    SpokeState.PENDING: "yellow",
    SpokeState.FAILED: "bold red",
    SpokeState.OFFBOARDED: "dim",
}


# --------------------------------------------------------------------------- refresh


def refresh(
    context: typer.Context,
    *,
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="Only this environment.")
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until every enrolled spoke in scope reports.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1, help="With --wait: give up after this many seconds."),
    ] = DEFAULT_REFRESH_TIMEOUT_SECONDS,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Ask the spokes for fresh values (all, or one project, environment or account)."""
    runtime = _runtime(context)
    scope = normalized_scope(
        {"ProjectName": project, "Environment": environment, "AccountId": account}
    )
    with _hub(config, profile, region, endpoint_url) as connection:
        _check_names(connection, project=project, environment=environment)
        requested_at = runtime.clock()
        try:
            refresh_id = emit_refresh(
                connection.session,
                connection.bus_name,
                scope,
                topic_arn=connection.refresh_topic_arn,
                clock=lambda: requested_at,
            )
        except RefreshScopeError as error:
            _fail(str(error), EXIT_USAGE)
        except PutEventsError as error:
            _fail(f"the hub bus {connection.bus_name} did not take the refresh event: {error}")
        scope_text = _scope_text(scope)
        typer.echo(
            f"Refresh {refresh_id} requested at {format_timestamp(requested_at)} for {scope_text}."
        )
        if not wait:
            return
        store = connection.store(clock=runtime.clock)
        expected = [spoke for spoke in store.list_spokes() if _in_scope(spoke, scope)]
        if not expected:
            typer.echo(
                f"dsdash: no enrolled spoke matches {scope_text}; nothing to wait for", err=True
            )
            return
        # What the event carried: the stored RequestedAt has millisecond precision.
        requested = parse_timestamp(format_timestamp(requested_at))
        silent = _wait_for_reports(store, expected, requested, timeout=timeout, runtime=runtime)
    if silent:
        named = ", ".join(
            f"{spoke.account_id} ({spoke.project_name}/{spoke.environment})" for spoke in silent
        )
        _fail(
            f"refresh {refresh_id} timed out after {timeout:g} s: {len(silent)} of "
            f"{len(expected)} spoke(s) did not report: {named}"
        )
    typer.echo(f"All {len(expected)} spoke(s) in scope reported.")


def _scope_text(scope: Mapping[str, str]) -> str:
    if not scope:
        return "every spoke"
    labels = {"ProjectName": "project", "Environment": "environment", "AccountId": "account"}
    return ", ".join(f"{labels[name]} {value}" for name, value in scope.items())


def _in_scope(spoke: SpokeRecord, scope: Mapping[str, str]) -> bool:
    """Enrolled spokes the refresh reaches: the ones EventBridge's scope patterns select."""
    return (
        spoke.state is SpokeState.ENROLLED
        and scope.get("ProjectName", spoke.project_name) == spoke.project_name
        and scope.get("Environment", spoke.environment) == spoke.environment
        and scope.get("AccountId", spoke.account_id) == spoke.account_id
    )


def _wait_for_reports(
    store: HubStore,
    expected: Sequence[SpokeRecord],
    requested_at: datetime,
    *,
    timeout: float,
    runtime: ConsoleRuntime,
) -> list[SpokeRecord]:
    """Poll the registry until every expected spoke's LastSeenAt passes `requested_at`; return
    the spokes still silent at the deadline.

    LastSeenAt is the hub's clock at ingest and `requested_at` the operator's, so a skew between
    the two shifts what counts as "after the refresh" by that much.
    """
    pending = {spoke.account_id: spoke for spoke in expected}
    deadline = runtime.clock() + timedelta(seconds=timeout)
    columns = (
        TextColumn("Spokes reporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_console(stderr=True)) as progress:
        task = progress.add_task("refresh", total=len(expected))
        while True:
            for spoke in store.list_spokes():
                seen = spoke.last_seen_at
                if spoke.account_id in pending and seen and parse_timestamp(seen) > requested_at:
                    del pending[spoke.account_id]
            progress.update(task, completed=len(expected) - len(pending))
            remaining = (deadline - runtime.clock()).total_seconds()
            if not pending or remaining <= 0:
                return list(pending.values())
            runtime.sleep(min(runtime.poll_interval_seconds, remaining))


# --------------------------------------------------------------------------- query


@dataclass(frozen=True)
class QueryFilters:
    project: str | None
    environment: str | None
    metric: str | None
    account: str | None
    dimensions: Mapping[str, str]
    since: datetime | None
    until: datetime | None
    latest: bool

    def matches(self, record: DatapointRecord) -> bool:
        return (
            (self.project is None or record.project_name == self.project)
            and (self.environment is None or record.environment == self.environment)
            and (self.metric is None or record.metric_name == self.metric)
            and (self.account is None or record.account_id == self.account)
            and all(record.dimensions.get(name) == value for name, value in self.dimensions.items())
            and (self.since is None or record.extraction_date >= format_timestamp(self.since))
            and (self.until is None or record.extraction_date <= format_timestamp(self.until))
        )


class UnaddressableQueryError(ValueError):
    """The filters name no key the table can Query; the message says which option is needed."""


def select_datapoints(
    store: HubStore, filters: QueryFilters, *, configured_projects: Sequence[str] = ()
) -> list[DatapointRecord]:
    """The datapoints the filters select, read with Queries only (never a Scan).

    - `latest`: the LATEST partition of the project, or of every known project;
    - history with a project: the project's LATEST partition names its series (with their
      dimensions), then one Query per matching series, bounded by since/until;
    - history with only a metric: the ByMetricName index, bounded by since/until;
    - anything else would need a Scan, and is refused with the option to add.
    Filters the key cannot express (account, dimension subsets) are applied to what the Queries
    return.
    """
    if filters.latest:
        projects = (
            [filters.project]
            if filters.project
            else store.known_projects(extra_projects=configured_projects)
        )
        records = [record for project in projects for record in store.latest_values(project)]
    elif filters.project is not None:
        records = []
        for environment, metric, dimensions in _series_of_project(store, filters.project, filters):
            records.extend(
                store.series_history(
                    filters.project,
                    environment,
                    metric,
                    dimensions,
                    since=filters.since,
                    until=filters.until,
                )
            )
    elif filters.metric is not None:
        records = store.datapoints_by_metric(
            filters.metric, since=filters.since, until=filters.until
        )
    else:
        raise UnaddressableQueryError(
            "a history query needs --project (add --environment and --metric to address one "
            "series) or --metric (read through the ByMetricName index); the hub never scans its "
            "table. Use --latest for the latest values of every project."
        )
    selected = [record for record in records if filters.matches(record)]
    return sorted(
        selected,
        key=lambda record: (
            record.project_name,
            record.environment,
            record.metric_name,
            table_design.dimension_key(record.dimensions),
            record.extraction_date,
            record.account_id,
        ),
    )


def _series_of_project(
    store: HubStore, project: str, filters: QueryFilters
) -> list[tuple[str, str, dict[str, str]]]:
    """The series of the project the filters select, named by its latest values (one per series
    and account, so proportional to the number of series)."""
    series: dict[tuple[str, str, str], tuple[str, str, dict[str, str]]] = {}
    for record in store.latest_values(project):
        if (
            (filters.environment is None or record.environment == filters.environment)
            and (filters.metric is None or record.metric_name == filters.metric)
            and all(record.dimensions.get(k) == v for k, v in filters.dimensions.items())
        ):
            key = (
                record.environment,
                record.metric_name,
                table_design.dimension_key(record.dimensions),
            )
            series.setdefault(
                key, (record.environment, record.metric_name, dict(record.dimensions))
            )
    if filters.environment and filters.metric:
        # The exact series the options name, even if no latest value names it.
        key = (filters.environment, filters.metric, table_design.dimension_key(filters.dimensions))
        series.setdefault(key, (filters.environment, filters.metric, dict(filters.dimensions)))
    return [series[key] for key in sorted(series)]


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
    runtime = _runtime(context)
    now = runtime.clock()
    filters = QueryFilters(
        project=project,
        environment=environment,
        metric=metric,
        account=account,
        dimensions=_parse_dimensions(dimension or []),
        since=_parse_moment("--since", since, now),
        until=_parse_moment("--until", until, now),
        latest=latest,
    )
    if filters.since and filters.until and filters.since > filters.until:
        _fail(f"--since ({since}) is after --until ({until})", EXIT_USAGE)
    with _hub(config, profile, region, endpoint_url) as connection:
        _check_names(connection, project=project, environment=environment)
        try:
            records = select_datapoints(
                connection.store(clock=runtime.clock),
                filters,
                configured_projects=tuple(connection.config.projects),
            )
        except UnaddressableQueryError as error:
            _fail(str(error), EXIT_USAGE)
    if output_format is OutputFormat.JSON:
        _print_json([_datapoint_document(record) for record in records])
    elif output_format is OutputFormat.CSV:
        typer.echo(_datapoints_csv(records), nl=False)
    else:
        _print_datapoints_table(records, latest=latest)


def _parse_dimensions(entries: Sequence[str]) -> dict[str, str]:
    dimensions: dict[str, str] = {}
    for entry in entries:
        name, separator, value = entry.partition("=")
        if not separator or not name:
            _fail(
                f"--dimension {entry!r}: expected NAME=VALUE, like InstanceType=ml.m5.xlarge",
                EXIT_USAGE,
            )
        dimensions[name] = value
    return dimensions


def _parse_moment(option: str, text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    relative = _RELATIVE_MOMENT.match(text.strip())
    if relative is not None:
        amount, unit = int(relative.group(1)), _RELATIVE_UNITS[relative.group(2)]
        return now - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        _fail(
            f"{option} {text!r}: expected ISO 8601 (2025-06-01 or 2025-06-01T12:00:00Z) or a "
            "duration before now like 7d, 12h or 30m",
            EXIT_USAGE,
        )
    # A time without an offset is UTC, as every time the hub stores.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
        "value": _json_number(record.value),
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
    console = _console()
    console.print(table)
    console.print(Text(f"{len(records)} datapoint(s)"))


# --------------------------------------------------------------------------- dashboard


def dashboard(
    context: typer.Context,
    *,
    out: Annotated[
        Path, typer.Option("--out", help="HTML file to write.", dir_okay=False)
    ] = DEFAULT_DASHBOARD_PATH,
    since: Annotated[
        int, typer.Option("--since", min=1, help="Days of history in the charts.")
    ] = DEFAULT_HISTORY_DAYS,
    engine: EngineOption = DEFAULT_HISTORY_ENGINE,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Write the self-contained HTML dashboard and print its path."""
    runtime = _runtime(context)
    with _hub(config, profile, region, endpoint_url) as connection:
        try:
            data = build_dashboard_data(
                connection.store(clock=runtime.clock),
                connection.config,
                history_engine=history_engine(connection, engine),
                history_days=since,
                clock=runtime.clock,
            )
        except ScheduleError as error:
            _fail(str(error), EXIT_USAGE)
        except AthenaQueryError as error:
            _fail(str(error))
    page = render_dashboard(data)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write the dashboard to {out}: {error.strerror or error}")
    typer.echo(str(out))


# --------------------------------------------------------------------------- enrollment

SpokeRegionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--spoke-region",
        help="Spoke region to (dis)connect (repeatable; default: every organization.regions).",
    ),
]


# `dsdash enroll|offboard` ask the org stack's enrollment function (in the management account, or
# the StackSets delegated administrator: organization.stackset_admin) to act, rather than
# running its steps with the operator's credentials: the hub and spoke enrollment roles trust only
# that function's role (never an operator or an admin role), and manual enrollment then takes the
# same code path, retries and records as automatic enrollment.
ENROLLMENT_INVOKE_CONFIG: Final = Config(
    # Enrollment retries a new account's steps with backoff for minutes (Lambda's limit is 15).
    read_timeout=900,
    connect_timeout=10,
    retries={"max_attempts": 1},
)
# Errors that mean the request itself was wrong (exit 2) rather than a step failing (exit 1).
ENROLLMENT_USAGE_ERRORS: Final = frozenset(
    {"InvalidEnrollmentRequest", "MalformedLifecycleEvent", "AssignmentUnresolved"}
)


# The enrollment function runs one enrollment at a time (reserved concurrency 1), so a request
# made while an event-driven enrollment runs is throttled: wait for it, then say so.
ENROLLMENT_BUSY_WAITS_SECONDS: Final = (5.0, 10.0, 20.0, 40.0, 60.0)


def _invoke_when_free(client: Any, payload: dict[str, Any], sleep: Callable[[float], None]) -> Any:
    def invoke() -> Any:
        return client.invoke(
            FunctionName=contracts.ORG_ENROLLMENT_FUNCTION_NAME,
            Payload=json.dumps(payload).encode("utf-8"),
        )

    for wait in ENROLLMENT_BUSY_WAITS_SECONDS:
        try:
            return invoke()
        except client.exceptions.TooManyRequestsException:
            sleep(wait)
    try:
        return invoke()
    except client.exceptions.TooManyRequestsException:
        _fail(
            f"{contracts.ORG_ENROLLMENT_FUNCTION_NAME} stayed busy with other enrollments for "
            f"{sum(ENROLLMENT_BUSY_WAITS_SECONDS):.0f}s (it runs one at a time); try again later"
        )


def _invoke_enrollment(
    connection: HubConnection,
    *,
    profile: str | None,
    org_region: str | None,
    payload: dict[str, Any],
    action: str,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    region = org_region or connection.config.organization.regions[0]
    session = boto3.Session(profile_name=profile, region_name=region)
    client = session.client(
        "lambda", endpoint_url=connection.endpoint_url, config=ENROLLMENT_INVOKE_CONFIG
    )
    try:
        response = _invoke_when_free(client, payload, sleep)
    except client.exceptions.ResourceNotFoundException:
        _fail(
            f"no function {contracts.ORG_ENROLLMENT_FUNCTION_NAME} in {region}: use the "
            "credentials of the org stack's account (--profile: the management account, or the "
            "StackSets delegated administrator) and the org stack's region "
            "(--org-region; default organization.regions[0])"
        )
    document: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    if "FunctionError" in response:
        code = EXIT_USAGE if document.get("errorType") in ENROLLMENT_USAGE_ERRORS else EXIT_FAILURE
        _fail(
            f"{action} of account {payload['account_id']} failed: "
            f"{document.get('errorType')}: {document.get('errorMessage')}",
            code,
        )
    return document


OrgRegionOption = Annotated[
    str | None,
    typer.Option(
        "--org-region",
        help="Region of the org stack's enrollment function (default: organization.regions[0]).",
    ),
]


def enroll(
    context: typer.Context,
    *,
    account: Annotated[str, typer.Option("--account", help="Account id to enroll.")],
    project: Annotated[str, typer.Option("--project", help="Project it belongs to.")],
    environment: Annotated[str, typer.Option("--environment", help="Its environment.")],
    spoke_region: SpokeRegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    org_region: OrgRegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Enroll one account by hand (outside tagged OUs, or outside the organization with the spoke
    template deployed): asks the enrollment function in the org stack's account (--profile: the
    management account or the StackSets delegated administrator) to run the steps it runs for
    tagged OUs."""
    with _hub(config, profile, None, endpoint_url) as connection:
        _check_names(connection, project=project, environment=environment)
        _refuse_non_spoke_account(connection, account)
        report = _invoke_enrollment(
            connection,
            profile=profile,
            org_region=org_region,
            payload={
                "dsdash": "enroll",
                "account_id": account,
                "project": project,
                "environment": environment,
                "regions": list(spoke_region or []),
            },
            action="enrollment",
            sleep=_runtime(context).sleep,
        )
    _print_report(report, as_json=as_json)


def _refuse_non_spoke_account(connection: HubConnection, account: str) -> None:
    """The hub and the management account can never be spokes: refused before any call."""
    config = connection.config
    if account == config.hub.account_id:
        _fail(
            f"account {account} is the hub (hub.account_id): the hub cannot be its own spoke",
            EXIT_USAGE,
        )
    if account == config.organization.management_account_id:
        _fail(
            f"account {account} is the organization's management account: service-managed "
            "StackSets never deploy there, so it cannot be a spoke",
            EXIT_USAGE,
        )


def offboard(
    context: typer.Context,
    *,
    account: Annotated[str, typer.Option("--account", help="Account id to offboard.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, as the registry will show it.")
    ] = "offboarded by an operator (dsdash offboard)",
    spoke_region: SpokeRegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    org_region: OrgRegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Disconnect one account (its metric history stays), through the enrollment function."""
    with _hub(config, profile, None, endpoint_url) as connection:
        report = _invoke_enrollment(
            connection,
            profile=profile,
            org_region=org_region,
            payload={
                "dsdash": "offboard",
                "account_id": account,
                "reason": reason,
                "regions": list(spoke_region or []),
            },
            action="offboarding",
            sleep=_runtime(context).sleep,
        )
    _print_report(report, as_json=as_json)


def _print_report(document: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        _print_json(document)
        return
    console = _console()
    scope = (
        f" as {document['project']}/{document['environment']}" if document.get("project") else ""
    )
    console.print(
        Text(
            f"{document['action']} account {document['account_id']}{scope} in "
            f"{', '.join(document.get('regions') or [])}: {document['state']} "
            f"({document['reason']})"
        )
    )
    details = Table.grid(padding=(0, 2))
    details.add_column(style="dim", no_wrap=True)
    details.add_column()
    details.add_row(
        "Steps",
        Text(
            "\n".join(
                f"{step['step']}"
                + (f" ({step['attempts']} attempts)" if step["attempts"] != 1 else "")
                for step in document.get("steps") or []
            )
        ),
    )
    for label, key in (
        ("Parameters written", "parameters_written"),
        ("Parameters deleted", "parameters_deleted"),
        ("Notes", "notes"),
    ):
        if document.get(key):
            details.add_row(label, Text("\n".join(document[key])))
    console.print(details)


# --------------------------------------------------------------------------- quarantine


def quarantine_list(
    context: typer.Context,
    *,
    days: Annotated[
        int, typer.Option("--days", min=1, help="Look back this many days (UTC).")
    ] = DEFAULT_QUARANTINE_DAYS,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N events at most.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """The newest events the hub refused, with the reason."""
    runtime = _runtime(context)
    with _hub(config, profile, region, endpoint_url) as connection:
        records = connection.store(clock=runtime.clock).recent_quarantine(limit, days=days)
    if as_json:
        _print_json([_quarantine_document(record) for record in records])
        return
    if not records:
        _console().print(Text(f"No event was quarantined in the last {days} day(s)."))
        return
    table = Table(
        title=f"Quarantined events (last {days} days, newest first)", title_justify="left"
    )
    for column in ("Received", "Reason code", "Claimed account", "Claimed scope", "Event id"):
        table.add_column(column, no_wrap=True)
    table.add_column("Reason")
    for record in records:
        claimed_scope = "/".join(
            part or "?" for part in (record.claimed_project_name, record.claimed_environment)
        )
        table.add_row(
            Text(record.received_at),
            Text(record.reason_code),
            Text(record.claimed_account_id or "?"),
            Text(claimed_scope),
            Text(record.event_id),
            Text(record.reason),
        )
    console = _console()
    console.print(table)
    console.print(Text(f"{len(records)} event(s); `--json` includes each raw event."))


def _quarantine_document(record: QuarantineRecord) -> dict[str, Any]:
    return {
        "received_at": record.received_at,
        "reason_code": record.reason_code,
        "reason": record.reason,
        "event_id": record.event_id,
        "message_id": record.message_id,
        "claimed_account_id": record.claimed_account_id,
        "claimed_project": record.claimed_project_name,
        "claimed_environment": record.claimed_environment,
        "raw_event": record.raw_event,
        "raw_event_truncated": record.raw_event_truncated,
        "raw_event_bytes": record.raw_event_bytes,
    }
