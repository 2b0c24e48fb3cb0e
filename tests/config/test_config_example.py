"""The example config/projects.yaml is valid and loads into the model other units use."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from config import loader
from config.loader import load_config
from config.model import DsdashConfig
from config.schema_checks import config_schema

REPOSITORY = Path(__file__).resolve().parents[2]


def test_checked_in_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(config_schema())


def test_example_config_loads_with_defaults_merged() -> None:
    config = load_config(REPOSITORY / "config" / "projects.yaml")

    assert isinstance(config, DsdashConfig)
    assert config.hub.name == "CentralHub"
    assert config.hub.account_id == "111111111111"
    assert config.hub.bus_policy == "organization"
    assert config.organization.regions == ("eu-west-1",)
    assert config.organization.project_tag_key == "dsdash:project"
    assert config.refresh_schedule == "rate(1 hour)"
    assert config.retention_days == 400
    assert config.event_version == 2

    fraud = config.project("fraud-detection")
    assert fraud.environments == ("dev", "int", "prod")
    # Defaults come first, then the project's own metrics in file order.
    assert fraud.metric_names[:4] == (
        "TotalCompletedTrainingJobs",
        "CompletedTrainingJobs24h",
        "NumberEndPointsInService",
        "FailedTrainingJobs",
    )
    best = next(m for m in fraud.metrics if m.name == "BestTrainingObjective")
    assert best.args["objective_metric"] == "validation:auc"
    assert best.args["job_name_prefix"] == "fraud-"

    churn = config.project("churn-prediction")
    assert churn.environments == ("dev", "prod")
    assert churn.accounts == {"prod": ("333333333333",)}
    assert config.explicit_account_assignments() == {"333333333333": ("churn-prediction", "prod")}
    ssm = next(m for m in churn.metrics if m.name == "SsmParameterValue")
    assert ssm.args["parameter_name"] == "/churn/model/quality-threshold"


def test_window_defaults_are_filled_into_the_selection() -> None:
    config = load_config(REPOSITORY / "config" / "projects.yaml")

    completed = next(
        m
        for m in config.project("churn-prediction").metrics
        if m.name == "CompletedTrainingJobs24h"
    )
    # CompletedTrainingJobs24h keeps its meaning: a 24-hour window unless told otherwise.
    assert completed.args["window_hours"] == 24


def test_default_path_is_the_repository_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(loader.CONFIG_PATH_ENVIRONMENT_VARIABLE, raising=False)

    assert loader.default_config_path() == REPOSITORY / "config" / "projects.yaml"
    assert load_config().project("fraud-detection").name == "fraud-detection"


def test_dsdash_config_environment_variable_overrides_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = (REPOSITORY / "config" / "projects.yaml").read_text(encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text(example.replace("rate(1 hour)", "rate(15 minutes)"), encoding="utf-8")
    monkeypatch.setenv(loader.CONFIG_PATH_ENVIRONMENT_VARIABLE, str(other))

    config = load_config()

    assert config.refresh_schedule == "rate(15 minutes)"
    assert config.source_path == other


def test_model_is_immutable() -> None:
    config = load_config(REPOSITORY / "config" / "projects.yaml")

    with pytest.raises(TypeError):
        config.projects["new"] = config.project("fraud-detection")  # type: ignore[index]
    with pytest.raises(TypeError):
        config.project("fraud-detection").metrics[0].args["window_hours"] = 1  # type: ignore[index]
