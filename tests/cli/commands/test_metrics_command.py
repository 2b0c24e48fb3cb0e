"""`dsdash metrics list|show` and the README catalog block."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli.commands.metrics import (
    CATALOG_END_MARKER,
    CATALOG_START_MARKER,
    register,
    render_metric_catalog_markdown,
)
from metrics.registry import all_metric_classes

METRICS = all_metric_classes()


@pytest.fixture
def dsdash() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """Keeps `metrics` a sub-command even when it is the only group."""

    return app


def test_list_shows_every_metric_with_its_unit(dsdash):
    result = CliRunner().invoke(dsdash, ["metrics", "list"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    for name, metric in METRICS.items():
        assert name in result.output
        assert metric.unit in result.output
    assert "window_hours (integer, default 24)" in result.output


def test_list_json_carries_schema_unit_and_permissions(dsdash):
    result = CliRunner().invoke(dsdash, ["metrics", "list", "--json"])

    catalog = {entry["name"]: entry for entry in json.loads(result.output)}
    assert set(catalog) == set(METRICS)
    ssm = catalog["SsmParameterValue"]
    assert ssm["unit"] == "None"
    assert ssm["arguments"]["required"] == ["parameter_name"]
    assert ssm["permissions"][0]["actions"] == ["ssm:GetParameter"]
    assert ssm["permissions"][0]["resources"][0].endswith(":parameter/{parameter_name}")


def test_list_markdown_is_a_github_table_with_one_row_per_metric(dsdash):
    result = CliRunner().invoke(dsdash, ["metrics", "list", "--markdown"])

    lines = result.output.splitlines()
    assert lines[0].startswith("| Metric | Unit |")
    assert lines[1].startswith("|---|")
    assert len(lines) == 2 + len(METRICS)
    assert result.output == render_metric_catalog_markdown()
    best = next(line for line in lines if line.startswith("| `BestTrainingObjective`"))
    assert "`objective_metric (string, required)`" in best
    assert '`direction (maximize \\| minimize, default "maximize")`' in best


def test_update_readme_rewrites_only_the_catalog_block(dsdash, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# dsdash\n\nIntro.\n\n{CATALOG_START_MARKER}\nstale table\n{CATALOG_END_MARKER}\n\nEnd.\n",
        encoding="utf-8",
    )

    first = CliRunner().invoke(dsdash, ["metrics", "list", "--update-readme", str(readme)])
    second = CliRunner().invoke(dsdash, ["metrics", "list", "--update-readme", str(readme)])

    text = readme.read_text(encoding="utf-8")
    assert first.exit_code == 0 and "updated" in first.output
    assert "up to date" in second.output
    assert text.startswith("# dsdash\n\nIntro.\n\n") and text.endswith(
        f"{CATALOG_END_MARKER}\n\nEnd.\n"
    )
    block = text.split(CATALOG_START_MARKER + "\n")[1].split(CATALOG_END_MARKER)[0]
    assert block == render_metric_catalog_markdown()
    assert "stale table" not in text


def test_update_readme_without_markers_fails_and_leaves_the_file(dsdash, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n", encoding="utf-8")

    result = CliRunner().invoke(dsdash, ["metrics", "list", "--update-readme", str(readme)])

    assert result.exit_code == 2
    assert CATALOG_START_MARKER in result.output
    assert readme.read_text(encoding="utf-8") == "# no markers here\n"


def test_show_prints_docstring_schema_unit_and_iam(dsdash):
    result = CliRunner().invoke(dsdash, ["metrics", "show", "EndpointInstanceHours"])

    assert result.exit_code == 0
    assert "EndpointInstanceHours (Hours)" in result.output
    assert "An estimate" in result.output
    assert '"window_hours"' in result.output
    assert "Allow sagemaker:Search on *" in result.output


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("NumberEndpointsInService", "NumberEndPointsInService"),
        ("FailedTrainingJob", "FailedTrainingJobs"),
        ("completedtrainingjobs24h", "CompletedTrainingJobs24h"),
    ],
)
def test_show_unknown_metric_exits_2_with_a_suggestion(dsdash, typed, suggestion):
    result = CliRunner().invoke(dsdash, ["metrics", "show", typed])

    assert result.exit_code == 2
    assert f"unknown metric '{typed}'" in result.output
    assert f"Did you mean {suggestion}?" in result.output


def test_show_without_any_close_name_gives_no_wrong_suggestion(dsdash):
    result = CliRunner().invoke(dsdash, ["metrics", "show", "Xyz"])

    assert result.exit_code == 2
    assert "Did you mean" not in result.output
