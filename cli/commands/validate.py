"""`dsdash validate`: check config/projects.yaml and summarize what it would deploy.

Exit codes: 0 valid, 2 invalid config (every problem on stderr, one per line, in file order),
1 when the metric library itself cannot be loaded (an installation problem, not a config one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from config.loader import ConfigError, load_config, locate_config
from config.model import DsdashConfig, MetricSelection, ProjectSettings
from metrics.registry import build_metric, iam_statements_for

EXIT_INVALID_CONFIG = 2
EXIT_BROKEN_INSTALLATION = 1


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def validate(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file to check (default: $DSDASH_CONFIG, else ./config/projects.yaml,"
            " else the installed example).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Check the config file; print a summary, or every problem with its line."""
    location = locate_config(config)
    config_path = location.path
    try:
        loaded = load_config(config_path)
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        count = len(error.problems)
        # The file's origin is news only when no --config named it.
        origin = f" ({location.origin})" if config is None else ""
        typer.echo(f"{config_path}: {count} problem{'s' if count != 1 else ''}{origin}", err=True)
        raise typer.Exit(EXIT_INVALID_CONFIG) from None
    except ImportError as error:
        # Metric names and arguments are checked against the metric library; without it we
        # cannot say whether the config is valid.
        typer.echo(f"dsdash: cannot load the metric library: {error}", err=True)
        raise typer.Exit(EXIT_BROKEN_INSTALLATION) from None
    Console(soft_wrap=False).print(render_summary(loaded, config_path, origin=location.origin))


def render_summary(
    config: DsdashConfig, config_path: Path, *, origin: str | None = None
) -> RenderableType:
    """One screen: where the hub lives, what the organization targets, and per project its
    environments, metrics and the IAM actions its spokes will be granted."""
    settings = Table.grid(padding=(0, 2))
    settings.add_column(style="bold")
    settings.add_column()
    hub = config.hub
    organization = config.organization
    rows = [
        (
            "Hub",
            f"{hub.name} in account {hub.account_id}, {hub.region} (bus policy: {hub.bus_policy})",
        ),
        (
            "Organization",
            f"{organization.id}, management account {organization.management_account_id}",
        ),
        (
            "Org stack",
            "in the management account (stackset_admin: management)"
            if not organization.is_delegated
            else f"in the StackSets delegated administrator {organization.administrator_account_id}"
            " (stackset_admin: delegated; the management account keeps forwarding rules)",
        ),
        ("Regions", ", ".join(organization.regions)),
        (
            "OU tag keys",
            f"project {organization.project_tag_key}, environment {organization.environment_tag_key}",
        ),
        ("Refresh", config.refresh_schedule),
        ("Retention", f"{config.retention_days} days"),
        ("Events", f"v{config.event_version}"),
    ]
    for label, value in rows:
        settings.add_row(label, Text(value))

    headline = f"{config_path} is valid" + (f" ({origin})" if origin else "")
    sections: list[RenderableType] = [Text(headline, style="green"), settings]
    for project in config.projects.values():
        details = Table.grid(padding=(0, 2))
        details.add_column(style="dim", no_wrap=True)
        # Fold rather than truncate: an ARN is longer than a narrow terminal, and every
        # character of a granted permission matters.
        details.add_column(overflow="fold")
        details.add_row("Environments", Text(_environments(project)))
        details.add_row(
            "Metrics", Text(", ".join(_metric_label(selection) for selection in project.metrics))
        )
        details.add_row("IAM actions", Text(_iam_actions(project)))
        sections.extend([Text(""), Text(f"Project {project.name}", style="bold"), details])
    return Group(*sections)


def _environments(project: ProjectSettings) -> str:
    labels = []
    for environment in project.environments:
        accounts = project.accounts.get(environment)
        labels.append(
            f"{environment} (+ accounts {', '.join(accounts)})" if accounts else environment
        )
    return ", ".join(labels)


def _metric_label(selection: MetricSelection) -> str:
    if not selection.args:
        return selection.name
    args = ", ".join(f"{name}={value}" for name, value in selection.args.items())
    return f"{selection.name}({args})"


def _iam_actions(project: ProjectSettings) -> str:
    statements = iam_statements_for(
        build_metric(selection.name, selection.args) for selection in project.metrics
    )
    lines = []
    for statement in statements:
        actions = ", ".join(statement.actions)
        if statement.resources == ("*",):
            lines.append(actions)
        else:
            lines.append(f"{actions} on {', '.join(statement.resources)}")
    return "\n".join(lines)
