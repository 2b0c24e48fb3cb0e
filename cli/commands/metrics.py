"""`dsdash metrics list|show`: the metric catalog, read from the registry.

The README's catalog is `render_metric_catalog_markdown()`, written between two markers by
`dsdash metrics list --update-readme README.md`; a test fails when the README is out of date.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from metrics.base import Metric
from metrics.registry import all_metric_classes

CATALOG_START_MARKER = "<!-- metric-catalog:start -->"
CATALOG_END_MARKER = "<!-- metric-catalog:end -->"

EXIT_USAGE_ERROR = 2


class CatalogMarkersError(ValueError):
    """The README lacks the markers that delimit the generated catalog."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path}: expected one line {CATALOG_START_MARKER} followed later by one line "
            f"{CATALOG_END_MARKER}; the generated metric catalog goes between them"
        )


def describe_arguments(metric: type[Metric]) -> list[str]:
    """One human line per argument: name, type, and whether required or its default."""
    schema = metric.argument_schema
    required = set(schema.get("required", []))
    lines = []
    for name, property_schema in schema.get("properties", {}).items():
        kind = property_schema.get("type") or (
            " | ".join(map(str, property_schema["enum"])) if "enum" in property_schema else "any"
        )
        if name in required:
            qualifier = "required"
        elif "default" in property_schema:
            qualifier = f"default {json.dumps(property_schema['default'])}"
        else:
            qualifier = "optional"
        lines.append(f"{name} ({kind}, {qualifier})")
    return lines


def iam_actions(metric: type[Metric]) -> list[str]:
    return sorted({action for statement in metric.permissions for action in statement.actions})


def metric_catalog() -> list[dict[str, Any]]:
    """Every registered metric as plain data (the `--json` output)."""
    return [
        {
            "name": name,
            "unit": metric.unit,
            "summary": metric.summary(),
            "arguments": metric.argument_schema,
            "example": metric.example(),
            "permissions": [
                {"actions": list(statement.actions), "resources": list(statement.resources)}
                for statement in metric.permissions
            ],
        }
        for name, metric in all_metric_classes().items()
    ]


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_metric_catalog_markdown() -> str:
    """The metric catalog as a GitHub table, as it stands between the README's markers."""
    rows = [
        "| Metric | Unit | Summary | Arguments | IAM actions |",
        "|---|---|---|---|---|",
    ]
    for name, metric in all_metric_classes().items():
        arguments = "<br>".join(f"`{line}`" for line in describe_arguments(metric)) or "none"
        actions = "<br>".join(f"`{action}`" for action in iam_actions(metric))
        cells = [f"`{name}`", metric.unit, metric.summary(), arguments, actions]
        rows.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def replace_catalog_block(readme_text: str, catalog: str, path: Path) -> str:
    """The README text with the region between the markers replaced by `catalog`."""
    start = readme_text.find(CATALOG_START_MARKER)
    end = readme_text.find(CATALOG_END_MARKER)
    if start < 0 or end < start or readme_text.count(CATALOG_START_MARKER) != 1:
        raise CatalogMarkersError(path)
    head = readme_text[: start + len(CATALOG_START_MARKER)]
    return f"{head}\n{catalog}{readme_text[end:]}"


def _catalog_table() -> Table:
    table = Table(title="dsdash metrics", show_lines=True)
    for column in ("Name", "Unit", "Summary", "Arguments"):
        table.add_column(column, overflow="fold")
    for name, metric in all_metric_classes().items():
        table.add_row(
            name, metric.unit, metric.summary(), "\n".join(describe_arguments(metric)) or "-"
        )
    return table


def _metric_details(metric: type[Metric]) -> str:
    statements = "\n".join(
        f"  Allow {', '.join(statement.actions)} on {', '.join(statement.resources)}"
        for statement in metric.permissions
    )
    return "\n".join(
        [
            f"{metric.metric_name()} ({metric.unit})",
            "",
            (metric.__doc__ or "").strip(),
            "",
            "Argument schema:",
            json.dumps(metric.argument_schema, indent=2),
            "",
            "IAM statements (placeholders resolved at deploy time):",
            statements,
        ]
    )


def register(app: typer.Typer) -> None:
    metrics_app = typer.Typer(
        name="metrics",
        help="List and describe the metrics a project can extract.",
        no_args_is_help=True,
        rich_markup_mode=None,  # plain help, see cli/cli_conventions.py
    )

    @metrics_app.command("list")
    def list_metrics(
        as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
        as_markdown: Annotated[
            bool, typer.Option("--markdown", help="Print the catalog as a GitHub table.")
        ] = False,
        update_readme: Annotated[
            Path | None,
            typer.Option(
                "--update-readme",
                help="Rewrite the catalog between the metric-catalog markers of this README.",
                dir_okay=False,
            ),
        ] = None,
    ) -> None:
        """List every registered metric: name, unit, summary and arguments."""
        console = Console()
        if update_readme is not None:
            try:
                text = update_readme.read_text(encoding="utf-8")
                updated = replace_catalog_block(
                    text, render_metric_catalog_markdown(), update_readme
                )
            except (OSError, CatalogMarkersError) as error:
                Console(stderr=True).print(f"[red]error:[/red] {error}", highlight=False)
                raise typer.Exit(EXIT_USAGE_ERROR) from None
            if updated != text:
                update_readme.write_text(updated, encoding="utf-8")
            console.print(
                f"{update_readme}: metric catalog {'updated' if updated != text else 'up to date'}",
                highlight=False,
            )
        elif as_json:
            typer.echo(json.dumps(metric_catalog(), indent=2))
        elif as_markdown:
            typer.echo(render_metric_catalog_markdown(), nl=False)
        else:
            console.print(_catalog_table())

    @metrics_app.command("show")
    def show_metric(name: Annotated[str, typer.Argument(help="A metric name.")]) -> None:
        """Show one metric: docstring, argument schema, unit and IAM statements."""
        classes = all_metric_classes()
        metric = classes.get(name)
        if metric is None:
            # Case-insensitive, so "numberendpointsinservice" still finds its metric.
            by_lower = {known.lower(): known for known in classes}
            matches = difflib.get_close_matches(name.lower(), by_lower, n=1)
            hint = f" Did you mean {by_lower[matches[0]]}?" if matches else ""
            typer.echo(
                f"error: unknown metric {name!r}.{hint} Run `dsdash metrics list` for all metrics.",
                err=True,
            )
            raise typer.Exit(EXIT_USAGE_ERROR)
        typer.echo(_metric_details(metric))

    app.add_typer(metrics_app)
