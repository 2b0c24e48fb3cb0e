"""`dsdash validate`: exit 0 with a summary for a good config, exit 2 with every problem on
stderr for a bad one, and never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from config.loader import load_config
from metrics.registry import build_metric, iam_statements_for

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE = REPOSITORY / "config" / "projects.yaml"
BAD = Path(__file__).parent / "bad"

runner = CliRunner()


def test_valid_example_exits_0_with_a_summary() -> None:
    result = runner.invoke(app, ["validate", "--config", str(EXAMPLE)], env={"COLUMNS": "100"})

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = result.stdout
    assert f"{EXAMPLE} is valid" in out
    assert "CentralHub in account 111111111111, eu-west-1" in out
    assert "o-a1b2c3d4e5" in out
    assert "rate(1 hour)" in out
    for project in ("fraud-detection", "churn-prediction"):
        assert f"Project {project}" in out
    assert "dev, prod (+ accounts 333333333333)" in out
    assert "BestTrainingObjective(objective_metric=validation:auc" in out
    # churn-prediction reads an SSM parameter, lists notebooks and model packages.
    assert "ssm:GetParameter" in out
    assert "sagemaker:ListNotebookInstances" in out
    assert "sagemaker:ListModelPackages" in out


def test_summary_lists_every_action_each_project_is_granted() -> None:
    result = runner.invoke(app, ["validate", "-c", str(EXAMPLE)], env={"COLUMNS": "100"})
    config = load_config(EXAMPLE)

    # The output ends with one section per project, each starting "Project <name>".
    sections = {
        section.split("\n", 1)[0]: section for section in result.stdout.split("\nProject ")[1:]
    }
    assert set(sections) == set(config.projects)
    for name, project in config.projects.items():
        statements = iam_statements_for(
            build_metric(selection.name, selection.args) for selection in project.metrics
        )
        for statement in statements:
            for action in statement.actions:
                assert action in sections[name], f"{action} missing from the summary of {name}"


def test_config_path_comes_from_dsdash_config_without_option() -> None:
    result = runner.invoke(app, ["validate"], env={"DSDASH_CONFIG": str(BAD / "empty_file.yaml")})

    assert result.exit_code == 2
    assert result.stderr.startswith(f"{BAD / 'empty_file.yaml'}:1:1: $: the file is empty")


def test_bad_config_exits_2_with_every_problem_on_stderr() -> None:
    path = BAD / "several_problems.yaml"

    result = runner.invoke(app, ["validate", "-c", str(path)])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:5:3: $.hub.regoin: unknown key 'regoin', expected one of: name, account_id,"
        " region, bus_policy, accept_sample_spokes, rules_per_bus_quota (did you mean 'region'?)",
        f"{path}:12:17: $.retention_days: 0 is below the minimum 1, expected a whole number of"
        " days from 1 to 3650",
        f"{path}:20:9: $.projects.fraud-detection.metrics[0]: unknown metric 'FailedTraningJobs',"
        " expected a metric from `dsdash metrics list` (did you mean 'FailedTrainingJobs'?)",
        f"{path}: 3 problems",
    ]


@pytest.mark.parametrize(
    ("file_name", "first_line"),
    [
        ("yaml_syntax_error", ":10:8: $: invalid YAML: expected ',' or ']', but got ':'"),
        ("empty_file", ":1:1: $: the file is empty"),
        ("top_level_list", ":2:1: $: the top level is a list"),
        ("duplicate_top_level_key", ":23:1: $.hub: duplicate key 'hub' on lines 2 and 23"),
        (
            "unquoted_account_id",
            ":4:15: $.hub.account_id: YAML read the unquoted value 111111111111 as the number",
        ),
    ],
)
def test_common_mistakes_exit_2_with_line_and_column(file_name: str, first_line: str) -> None:
    path = BAD / f"{file_name}.yaml"

    result = runner.invoke(app, ["validate", "-c", str(path)])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}{first_line}")
    assert result.stderr.endswith(f"{path}: 1 problem\n")


def test_unquoted_account_id_message_says_quote_it() -> None:
    path = BAD / "unquoted_account_id.yaml"

    result = runner.invoke(app, ["validate", "-c", str(path)])

    assert 'quote it: "111111111111"' in result.stderr


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda path: path.stem)
def test_no_bad_file_produces_a_traceback(path: Path) -> None:
    result = runner.invoke(app, ["validate", "-c", str(path)])

    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"

    result = runner.invoke(app, ["validate", "-c", str(path)])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:1:1: $: cannot read the file (No such file")
