"""`dsdash adopt --from-ssm [--dry-run]`: the original sample's registrations become registry
entries, shown before they are written, and nothing else in the hub changes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from config.loader import DEFAULT_CONFIG_PATH
from hub_stack.spoke_registry.records import SpokeState

if TYPE_CHECKING:
    # The fixture's type; imported by name only for annotations (several folders have a conftest).
    from operator_cli_support import Hub

# The sample's registrations in the hub: /monitored_projects/<Project>/<env> -> account ids.
# Eleven parameters (twelve accounts), so that GetParametersByPath needs a second page (10 per page).
SAMPLE_PARAMETERS = {
    "/monitored_projects/Project1/dev": "222222222201, 222222222202",
    "/monitored_projects/churn-prediction/prod": "222222222203",
    **{f"/monitored_projects/Team{index}/dev": f"2222222223{index:02d}" for index in range(9)},
}
# dsdash's own form, written by the enrollment function: left alone.
DSDASH_PARAMETER = "/monitored_projects/fraud-detection/prod/666666666666"


@pytest.fixture
def config_with_aliases(tmp_path: Path) -> Path:
    """The example config, with the sample's project names as aliases of fraud-detection."""
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    aliases = ", ".join(["Project1", *(f"Team{index}" for index in range(9))])
    text = text.replace("  fraud-detection:\n", f"  fraud-detection:\n    aliases: [{aliases}]\n")
    path = tmp_path / "projects.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def put_parameters(hub: Hub, parameters: dict[str, str]) -> None:
    ssm = hub.session.client("ssm")
    for name, value in parameters.items():
        ssm.put_parameter(Name=name, Value=value, Type="String")


def all_parameters(hub: Hub) -> dict[str, str]:
    ssm = hub.session.client("ssm")
    found: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/monitored_projects/", Recursive=True
    ):
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def registry(hub: Hub) -> dict[str, tuple[str, str | None, str | None]]:
    return {
        spoke.account_id: (spoke.state.value, spoke.project_name, spoke.environment)
        for spoke in hub.store.registry.list_spokes()
    }


EXPECTED_REGISTRY = {
    "222222222201": ("enrolled", "fraud-detection", "dev"),
    "222222222202": ("enrolled", "fraud-detection", "dev"),
    "222222222203": ("enrolled", "churn-prediction", "prod"),
    **{f"2222222223{index:02d}": ("enrolled", "fraud-detection", "dev") for index in range(9)},
}


def test_a_dry_run_prints_the_plan_and_writes_nothing(
    empty_hub: Hub, config_with_aliases: Path
) -> None:
    put_parameters(empty_hub, {**SAMPLE_PARAMETERS, DSDASH_PARAMETER: "666666666666"})

    result = empty_hub.run("adopt", "--from-ssm", "--dry-run", "-c", str(config_with_aliases))

    assert result.exit_code == 0, result.output
    for account_id, (_, project, environment) in EXPECTED_REGISTRY.items():
        assert any(
            line.replace("│", " ").split()[:4] == ["register", account_id, project, environment]
            for line in result.stdout.splitlines()
            if line.strip()
        ), f"{account_id} missing from the plan:\n{result.stdout}"
    assert "/monitored_projects/Project1/dev" in result.stdout
    assert (
        "12 to register, 0 already registered, 0 not adoptable; 1 dsdash parameter(s) left to "
        "the enrollment function" in result.stdout
    )
    assert "dry run: nothing was written" in result.stdout
    assert registry(empty_hub) == {}
    assert "UpdateItem" not in empty_hub.operations


def test_adopt_registers_every_spoke_once_and_changes_nothing_else(
    empty_hub: Hub, config_with_aliases: Path
) -> None:
    put_parameters(empty_hub, {**SAMPLE_PARAMETERS, DSDASH_PARAMETER: "666666666666"})
    parameters_before = all_parameters(empty_hub)

    first = empty_hub.run("adopt", "--from-ssm", "-c", str(config_with_aliases))

    assert first.exit_code == 0, first.output
    assert "registered 12 spoke(s) in the hub registry" in first.stdout
    assert registry(empty_hub) == EXPECTED_REGISTRY
    spoke = empty_hub.store.registry.get_spoke("222222222201")
    assert spoke is not None and "/monitored_projects/Project1/dev" in spoke.reason
    # The sample's wiring is untouched: its spokes keep sending as before.
    assert all_parameters(empty_hub) == parameters_before

    again = empty_hub.run("adopt", "--from-ssm", "-c", str(config_with_aliases))

    assert again.exit_code == 0, again.output
    assert "0 to register, 12 already registered" in again.stdout
    assert "registered 0 spoke(s)" in again.stdout
    assert registry(empty_hub) == EXPECTED_REGISTRY


def test_what_cannot_be_adopted_is_named_and_the_rest_is_adopted(
    empty_hub: Hub, config_with_aliases: Path
) -> None:
    empty_hub.store.registry.set_spoke_state(
        "222222222202", SpokeState.ENROLLED, project_name="churn-prediction", environment="dev"
    )
    put_parameters(
        empty_hub,
        {
            "/monitored_projects/Project1/dev": "222222222201,222222222202,12345",
            "/monitored_projects/Projet2/dev": "222222222204",
            "/monitored_projects/Project1/staging": "222222222205",
        },
    )

    result = empty_hub.run("adopt", "--from-ssm", "-c", str(config_with_aliases))

    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    assert len(problems) == 4, result.stderr
    assert any(
        "/monitored_projects/Project1/dev: '12345' in its value" in line
        and "not a 12-digit account id" in line
        for line in problems
    )
    assert any(
        "/monitored_projects/Projet2/dev: project 'Projet2' is no configured project" in line
        and "the closest is 'fraud-detection'" in line
        for line in problems
    )
    assert any(
        "/monitored_projects/Project1/staging: environment 'staging' is not one of project "
        "fraud-detection's environments (dev, int, prod)" in line
        for line in problems
    )
    assert any(
        "account 222222222202 is already in the registry as enrolled for churn-prediction/dev"
        in line
        for line in problems
    )
    # The one adoptable spoke is registered; the conflicting one keeps its entry.
    assert registry(empty_hub) == {
        "222222222201": ("enrolled", "fraud-detection", "dev"),
        "222222222202": ("enrolled", "churn-prediction", "dev"),
    }


def test_an_account_in_two_sample_parameters_is_not_adopted(
    empty_hub: Hub, config_with_aliases: Path
) -> None:
    put_parameters(
        empty_hub,
        {
            "/monitored_projects/Project1/dev": "222222222201",
            "/monitored_projects/churn-prediction/prod": "222222222201",
        },
    )

    result = empty_hub.run("adopt", "--from-ssm", "-c", str(config_with_aliases))

    assert result.exit_code == 1
    assert "account 222222222201 is also registered for" in result.stderr
    assert registry(empty_hub) == {}


def test_adopt_needs_a_source(empty_hub: Hub) -> None:
    result = empty_hub.run("adopt")

    assert result.exit_code == 2
    assert "--from-ssm" in result.stderr
