"""What a new user runs into first: unknown names, the config file chosen, `--version`, help and
usage errors, enrolling an account that can never be a spoke, and forgetting a failed spoke."""

from __future__ import annotations

from pathlib import Path

import pytest
from operator_cli_support import CHURN_DEV_OFFBOARDED, CHURN_DEV_PENDING, FRAUD_DEV_FRESH
from typer.testing import CliRunner

from cli.cli_conventions import installed_version
from cli.main import app
from config import loader
from hub_stack.spoke_registry.records import SpokeState

REPOSITORY = Path(__file__).resolve().parents[2]
HUB_ACCOUNT = "111111111111"  # hub.account_id of config/projects.yaml
MANAGEMENT_ACCOUNT = "999999999999"  # organization.management_account_id
# The summary's headline holds a long temporary path: keep rich from wrapping it.
WIDE_TERMINAL = {"COLUMNS": "400"}


def _one_line_usage_error(result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    for text in expected:
        assert text in result.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["refresh", "--project", "nosuch"], "unknown project 'nosuch'"),
        (["refresh", "--project", "fraud-detecton"], "did you mean 'fraud-detection'?"),
        (["refresh", "--environment", "prdo"], "did you mean 'prod'?"),
        # churn-prediction has dev and prod only.
        (["refresh", "--project", "churn-prediction", "--environment", "int"], "of project"),
        (["query", "--project", "nosuch", "--latest"], "unknown project 'nosuch'"),
        (["query", "--environment", "staging", "--metric", "FailedTrainingJobs"], "staging"),
    ],
)
def test_names_the_config_does_not_know_are_refused_before_any_call(hub, arguments, expected):
    result = hub.run(*arguments)

    _one_line_usage_error(result, expected, "the config has:")
    assert hub.operations == []


@pytest.mark.parametrize("account", [HUB_ACCOUNT, MANAGEMENT_ACCOUNT])
def test_enrolling_the_hub_or_management_account_is_refused_up_front(empty_hub, account):
    # No enrollment function exists here: the refusal must come before asking for it.
    result = empty_hub.run(
        "enroll", "--account", account, "--project", "fraud-detection", "--environment", "dev"
    )

    _one_line_usage_error(result, f"account {account} is the")
    assert "cannot be" in result.stderr


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"dsdash {installed_version()}\n"


def test_flags_are_shown_without_a_value_placeholder() -> None:
    result = CliRunner().invoke(app, ["status", "--help"])

    assert result.exit_code == 0
    json_line = next(line for line in result.stdout.splitlines() if "--json" in line)
    assert "<bool>" not in result.stdout and "--json  " in json_line
    assert "╭" not in result.stdout


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["status", "--bogus"], "dsdash status: No such option: --bogus"),
        (["quarantine", "list", "--days", "x"], "Invalid value for '--days'"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
)
def test_usage_errors_are_one_plain_line(arguments, expected) -> None:
    result = CliRunner().invoke(app, arguments, prog_name="dsdash")

    _one_line_usage_error(result, expected, "--help")
    assert "╭" not in result.stderr


def test_config_in_the_working_directory_comes_before_the_installed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = (REPOSITORY / "config" / "projects.yaml").read_text(encoding="utf-8")
    (tmp_path / "config").mkdir()
    local = tmp_path / "config" / "projects.yaml"
    local.write_text(example.replace("rate(1 hour)", "rate(15 minutes)"), encoding="utf-8")
    monkeypatch.delenv(loader.CONFIG_PATH_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["validate"], env=WIDE_TERMINAL)

    assert result.exit_code == 0, result.output
    assert f"{local} is valid (found in the working directory)" in result.stdout
    assert "rate(15 minutes)" in result.stdout


def test_without_a_local_config_the_installed_example_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(loader.CONFIG_PATH_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["validate"], env=WIDE_TERMINAL)

    assert result.exit_code == 0, result.output
    assert f"{loader.DEFAULT_CONFIG_PATH} is valid (the example installed with dsdash" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("account", "was"), [(CHURN_DEV_PENDING, "pending"), (CHURN_DEV_OFFBOARDED, "offboarded")]
)
def test_registry_remove_forgets_a_spoke_that_is_not_enrolled(hub, account, was):
    result = hub.run("registry", "remove", "--account", account)

    assert result.exit_code == 0, result.output
    assert f"Removed account {account} (churn-prediction/dev)" in result.stdout
    assert f"it was {was}" in result.stdout
    assert hub.store.registry.get_spoke(account) is None
    assert account not in hub.run("status", "--json").stdout


def test_registry_remove_forgets_a_failed_enrollment(hub):
    hub.store.registry.set_spoke_state(
        "222222222222", SpokeState.FAILED, reason="EBPut spoke failed: AccessDenied"
    )

    result = hub.run("registry", "remove", "--account", "222222222222")

    assert result.exit_code == 0, result.output
    assert "it was failed: EBPut spoke failed: AccessDenied" in result.stdout
    assert hub.store.registry.get_spoke("222222222222") is None


def test_registry_remove_refuses_an_enrolled_spoke_and_keeps_it(hub):
    result = hub.run("registry", "remove", "--account", FRAUD_DEV_FRESH)

    _one_line_usage_error(result, "is enrolled", "dsdash offboard")
    record = hub.store.registry.get_spoke(FRAUD_DEV_FRESH)
    assert record is not None and record.state is SpokeState.ENROLLED


def test_registry_remove_of_an_unknown_account_says_so(hub):
    result = hub.run("registry", "remove", "--account", "123123123123")

    _one_line_usage_error(result, "not in the spoke registry")
