"""`dsdash refresh [--wait]`: ask the spokes for fresh values, and optionally wait for them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Final

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.operator_console import (
    EXIT_USAGE,
    ConfigOption,
    ConsoleRuntime,
    EndpointOption,
    ProfileOption,
    RegionOption,
    check_names,
    fail,
    make_console,
    open_hub,
    runtime_of,
)
from hub_stack.refresh.runtime.refresh import (
    PagePublish,
    RefreshScopeError,
    emit_refresh,
    normalized_scope,
)
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState
from runtime_common.events import PutEventsError
from runtime_common.timestamps import format_timestamp, parse_timestamp

DEFAULT_REFRESH_TIMEOUT_SECONDS: Final = 300.0


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
    runtime = runtime_of(context)
    scope = normalized_scope(
        {"ProjectName": project, "Environment": environment, "AccountId": account}
    )
    with open_hub(config, profile, region, endpoint_url) as connection:
        check_names(connection, project=project, environment=environment)
        requested_at = runtime.clock()
        try:
            refresh_id = emit_refresh(
                connection.session,
                connection.bus_name,
                scope,
                topic_arn=connection.refresh_topic_arn,
                # The page render after the refresh, as the hub's refresh function schedules it.
                publish=PagePublish.of_hub(
                    connection.session.get_partition_for_region(connection.config.hub.region),
                    connection.config.hub.region,
                    connection.config.hub.account_id,
                ),
                clock=lambda: requested_at,
            )
        except RefreshScopeError as error:
            fail(str(error), EXIT_USAGE)
        except PutEventsError as error:
            fail(f"the hub bus {connection.bus_name} did not take the refresh event: {error}")
        scope_text = _scope_text(scope)
        typer.echo(
            f"Refresh {refresh_id} requested at {format_timestamp(requested_at)} for {scope_text}."
        )
        if not wait:
            return
        store = connection.store(clock=runtime.clock)
        expected = [spoke for spoke in store.registry.list_spokes() if _in_scope(spoke, scope)]
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
        fail(
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
    with Progress(*columns, console=make_console(stderr=True)) as progress:
        task = progress.add_task("refresh", total=len(expected))
        while True:
            for spoke in store.spokes_with_freshness():
                seen = spoke.last_seen_at
                if spoke.account_id in pending and seen and parse_timestamp(seen) > requested_at:
                    del pending[spoke.account_id]
            progress.update(task, completed=len(expected) - len(pending))
            remaining = (deadline - runtime.clock()).total_seconds()
            if not pending or remaining <= 0:
                return list(pending.values())
            runtime.sleep(min(runtime.poll_interval_seconds, remaining))


def register(app: typer.Typer) -> None:
    app.command("refresh")(refresh)
