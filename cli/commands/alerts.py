"""`dsdash alerts list` and `dsdash alerts history`: the alerts in force, their state per spoke,
and the notifications the hub sent (docs/architecture.md §7, "Alerts").

The alerts in force are the config's (`alerts:` under defaults and projects); their states and
history are what the hub's ingest function recorded in the hub table
(`hub_stack.runtime.alert_state`), read with one Query per project, and one per day of history.
Options, output and exit codes follow the other operator commands (`cli.operator_console`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
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
    fail,
    json_number,
    make_console,
    open_hub,
    parse_moment,
    print_json,
    runtime_of,
)
from config.alert_model import AlertRule
from config.model import DsdashConfig
from hub_stack.runtime.alert_state import (
    MAX_HISTORY_DAYS,
    AlertNotificationRecord,
    AlertState,
    AlertStateRecord,
    AlertStateStore,
)
from runtime_common.timestamps import format_timestamp

DEFAULT_HISTORY_SINCE: Final = "7d"


def register(app: typer.Typer) -> None:
    alerts_app = typer.Typer(
        help="KPI alerts: what is in force, in which state, and what fired.",
        no_args_is_help=True,
        add_completion=False,
    )
    alerts_app.command("list")(alerts_list)
    alerts_app.command("history")(alerts_history)
    app.add_typer(alerts_app, name="alerts")


def _condition(rule: AlertRule) -> str:
    text = f"{rule.metric} {rule.comparison} {rule.threshold:g}"
    if rule.dimensions:
        text += " [" + ", ".join(f"{k}={v}" for k, v in sorted(rule.dimensions.items())) + "]"
    return text + f" for {rule.consecutive}"


def alerts_list(
    context: typer.Context,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Every alert of the config, with its state per spoke, region and series."""
    with open_hub(config, profile, region, endpoint_url) as connection:
        states = AlertStateStore(connection.table_name, connection.session.client("dynamodb"))
        in_force = _alerts_in_force(connection.config)
        by_project = {
            project: states.states_of_project(project)
            for project in sorted({project for project, _ in in_force})
        }
    document = [
        _alert_document(project, rule, _states_of(by_project.get(project, []), rule))
        for project, rule in in_force
    ]
    if as_json:
        print_json(
            {
                "alerts": document,
                "in_alarm": sum(
                    state["state"] == AlertState.ALARM.value
                    for alert in document
                    for state in alert["states"]
                ),
            }
        )
        return
    _print_alerts(in_force, by_project)


def _alerts_in_force(config: DsdashConfig) -> list[tuple[str, AlertRule]]:
    return [
        (project.name, rule)
        for project in sorted(config.projects.values(), key=lambda p: p.name)
        for rule in project.alerts
        if rule.applies_to_any(project.environments)
    ]


def _states_of(states: Sequence[AlertStateRecord], rule: AlertRule) -> list[AlertStateRecord]:
    return sorted(
        (state for state in states if state.alert_name == rule.name),
        key=lambda s: (s.environment, s.account_id, s.region, sorted(s.dimensions.items())),
    )


def _state_document(state: AlertStateRecord) -> dict[str, Any]:
    return {
        "environment": state.environment,
        "account_id": state.account_id,
        "region": state.region,
        "dimensions": dict(state.dimensions),
        "state": state.state.value,
        "breach_streak": state.breach_streak,
        "since": state.since,
        "last_value": json_number(state.last_value),
        "last_extraction": state.last_extraction,
    }


def _alert_document(
    project: str, rule: AlertRule, states: Sequence[AlertStateRecord]
) -> dict[str, Any]:
    return {
        "project": project,
        "name": rule.name,
        "metric": rule.metric,
        "dimensions": dict(rule.dimensions),
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "for": rule.consecutive,
        "severity": rule.severity,
        "environments": list(rule.environments),
        "states": [_state_document(state) for state in states],
    }


def _state_text(state: AlertStateRecord, rule: AlertRule) -> Text:
    if state.state is AlertState.ALARM:
        return Text("ALARM", style="bold red")
    if state.breach_streak:
        return Text(f"breaching {state.breach_streak}/{rule.consecutive}", style="yellow")
    return Text("ok", style="green")


def _print_alerts(
    in_force: Sequence[tuple[str, AlertRule]], by_project: dict[str, list[AlertStateRecord]]
) -> None:
    console = make_console()
    if not in_force:
        console.print(
            Text("No alert is configured: add `alerts:` under defaults or a project (README).")
        )
        return
    table = Table(title="Alerts", title_justify="left")
    for column in ("Project", "Alert", "Condition", "Severity", "Environment", "Account"):
        table.add_column(column, no_wrap=column in ("Account", "Severity"))
    for column in ("Region", "Series", "State", "Since", "Last value", "Last extraction"):
        table.add_column(column, no_wrap=column in ("Region", "State"))
    in_alarm = 0
    for project, rule in in_force:
        states = _states_of(by_project.get(project, []), rule)
        head = (Text(project), Text(rule.name), Text(_condition(rule)), Text(rule.severity))
        if not states:
            scope = ", ".join(rule.environments) or "all"
            table.add_row(*head, Text(scope), Text("-"), Text("-"), Text("-"), Text("no data yet"))
            continue
        for index, state in enumerate(states):
            in_alarm += state.state is AlertState.ALARM
            series = ", ".join(f"{k}={v}" for k, v in sorted(state.dimensions.items())) or "-"
            table.add_row(
                *(head if index == 0 else (Text(""),) * 4),
                Text(state.environment),
                Text(state.account_id),
                Text(state.region),
                Text(series),
                _state_text(state, rule),
                Text(state.since),
                Text(f"{state.last_value.normalize():f}"),
                Text(state.last_extraction),
            )
    console.print(table)
    console.print(Text(f"{len(in_force)} alert(s) in force, {in_alarm} spoke series in ALARM."))


def alerts_history(
    context: typer.Context,
    *,
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="From this time: ISO 8601 (2025-06-01, 2025-06-01T12:00:00Z) or a duration"
            " before now (7d, 12h, 30m).",
        ),
    ] = DEFAULT_HISTORY_SINCE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """The notifications the hub sent since a time, oldest first: alerts that fired and recovered."""
    runtime = runtime_of(context)
    now = runtime.clock()
    start = parse_moment("--since", since, now)
    assert start is not None
    if start > now:
        fail(f"--since {since!r} is in the future", EXIT_USAGE)
    if now - start > timedelta(days=MAX_HISTORY_DAYS - 1):
        fail(f"--since {since!r}: ask for at most {MAX_HISTORY_DAYS - 1} days", EXIT_USAGE)
    with open_hub(config, profile, region, endpoint_url) as connection:
        states = AlertStateStore(connection.table_name, connection.session.client("dynamodb"))
        records = states.notifications_between(start, now)
    if as_json:
        print_json([_notification_document(record) for record in records])
        return
    console = make_console()
    if not records:
        console.print(Text(f"No alert fired or recovered since {format_timestamp(start)}."))
        return
    table = Table(
        title=f"Alert notifications since {format_timestamp(start)}", title_justify="left"
    )
    for column in ("At", "State", "Severity", "Project", "Environment", "Alert", "Account"):
        table.add_column(column, no_wrap=column in ("At", "State", "Account"))
    for column in ("Region", "Value", "Condition", "Since"):
        table.add_column(column, no_wrap=True)
    for record in records:
        table.add_row(
            Text(record.at),
            Text(
                record.transition.value,
                style="bold red" if record.transition == "ALARM" else "green",
            ),
            Text(record.severity),
            Text(record.project),
            Text(record.environment),
            Text(record.alert_name),
            Text(record.account_id),
            Text(record.region),
            Text(f"{record.value.normalize():f}"),
            Text(f"{record.metric} {record.comparison} {record.threshold.normalize():f}"),
            Text(record.since),
        )
    console.print(table)
    fired = sum(record.transition == "ALARM" for record in records)
    console.print(Text(f"{fired} alert(s) fired, {len(records) - fired} recovered."))


def _notification_document(record: AlertNotificationRecord) -> dict[str, Any]:
    return {
        "at": record.at,
        "state": record.transition.value,
        "severity": record.severity,
        "project": record.project,
        "environment": record.environment,
        "alert": record.alert_name,
        "account_id": record.account_id,
        "region": record.region,
        "metric": record.metric,
        "dimensions": dict(record.dimensions),
        "value": json_number(record.value),
        "comparison": record.comparison,
        "threshold": json_number(record.threshold),
        "since": record.since,
        "message_id": record.message_id,
    }
