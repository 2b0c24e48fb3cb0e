"""Registry meta-tests: every metric carries a complete, honest contract."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any, get_args

import botocore.session
import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from contracts import load_schema
from metrics.base import IamStatement, Metric, Unit
from metrics.registry import all_metric_classes, build_metric, register_metric

METRICS = all_metric_classes()
CATALOG = {
    "TotalCompletedTrainingJobs",
    "CompletedTrainingJobs24h",
    "NumberEndPointsInService",
    "FailedTrainingJobs",
    "TrainingJobsInProgress",
    "BillableTrainingSeconds",
    "ManagedSpotSavingsPercent",
    "EndpointInstanceHours",
    "BestTrainingObjective",
    "NotebookInstancesInService",
    "ModelPackagesPendingApproval",
    "FailedPipelineExecutions",
    "CompletedTrainingJobsByInstanceType",
    "SsmParameterValue",
}
# IAM service prefix -> botocore service name, for the services metrics may use. A metric that
# needs a new service must add it here, which makes its actions checkable.
IAM_PREFIX_TO_BOTOCORE_SERVICE = {"sagemaker": "sagemaker", "ssm": "ssm"}
ACTION_SHAPE = re.compile(r"^(?P<service>[a-z0-9-]+):(?P<action>[A-Z][A-Za-z0-9]+)$")
ARGUMENT_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _example_entries(metric: type[Metric]) -> list[Any]:
    document = YAML(typ="safe").load(StringIO(metric.example()))
    assert isinstance(document, dict) and isinstance(document.get("metrics"), list), (
        f"{metric.metric_name()}: the docstring example must be a `metrics:` list as in "
        "config/projects.yaml"
    )
    return [
        entry
        for entry in document["metrics"]
        if entry == metric.metric_name()
        or (isinstance(entry, dict) and entry.get("name") == metric.metric_name())
    ]


def test_the_catalog_promised_in_the_docs_is_registered():
    assert CATALOG <= set(METRICS)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_name_is_its_class_name_and_a_valid_event_metric_name(name):
    event_name_pattern = load_schema("metric-event-v2")["$defs"]["datapoint"]["properties"][
        "MetricName"
    ]["pattern"]

    assert METRICS[name].__name__ == name
    assert re.fullmatch(event_name_pattern, name)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_declares_unit_and_a_valid_argument_schema(name):
    metric = METRICS[name]

    assert metric.unit in get_args(Unit)
    Draft202012Validator.check_schema(metric.argument_schema)
    assert metric.argument_schema.get("type") == "object"
    # Misspelt argument names must fail validation, not be ignored.
    assert metric.argument_schema.get("additionalProperties") is False


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_docstring_has_a_summary_and_a_valid_yaml_example(name):
    metric = METRICS[name]

    assert 10 < len(metric.summary()) <= 110, f"{name}: the summary is one short line"
    entries = _example_entries(metric)
    assert len(entries) == 1, f"{name}: the example must configure {name} exactly once"
    args = entries[0].get("args", {}) if isinstance(entries[0], dict) else {}
    built = build_metric(name, args)  # raises MetricArgumentError if the example is wrong
    assert set(built.args) >= set(args)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_declares_permissions_with_real_actions(name):
    permissions = METRICS[name].permissions
    botocore_session = botocore.session.get_session()

    assert permissions, f"{name} declares no IAM permissions"
    for statement in permissions:
        assert isinstance(statement, IamStatement)
        assert statement.actions and statement.resources
        for action in statement.actions:
            shape = ACTION_SHAPE.match(action)
            assert shape, f"{name}: {action!r} is not service:Action"
            service = IAM_PREFIX_TO_BOTOCORE_SERVICE.get(shape["service"])
            assert service, f"{name}: unknown IAM service prefix in {action!r}"
            operations = botocore_session.get_service_model(service).operation_names
            assert shape["action"] in operations, f"{name}: {action!r} is no {service} API action"


@pytest.mark.parametrize("name", sorted(METRICS))
def test_resource_placeholders_name_required_arguments(name):
    metric = METRICS[name]
    required = set(metric.argument_schema.get("required", []))

    for statement in metric.permissions:
        for resource in statement.resources:
            assert set(ARGUMENT_PLACEHOLDER.findall(resource)) <= required


def test_ssm_parameter_permission_is_scoped_to_the_named_parameter():
    metric = build_metric("SsmParameterValue", {"parameter_name": "/churn/model/threshold"})

    (statement,) = metric.resolved_permissions()

    assert statement.actions == ("ssm:GetParameter",)
    assert statement.resources == (
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/churn/model/threshold",
    )


def test_window_defaults_keep_the_sample_meanings():
    defaults = {
        name: build_metric(
            name, {"objective_metric": "m"} if name == "BestTrainingObjective" else {}
        ).args.get("window_hours")
        for name in METRICS
        if name != "SsmParameterValue"
    }

    assert defaults["CompletedTrainingJobs24h"] == 24
    assert defaults["FailedTrainingJobs"] == 24
    assert defaults["BillableTrainingSeconds"] == 24
    assert defaults["EndpointInstanceHours"] == 24
    assert defaults["FailedPipelineExecutions"] == 24
    assert defaults["ManagedSpotSavingsPercent"] == 168
    assert defaults["BestTrainingObjective"] == 168


def test_a_second_metric_with_a_taken_name_is_refused():
    taken = METRICS["TotalCompletedTrainingJobs"]
    impostor = type(taken.__name__, (taken,), {"__doc__": taken.__doc__})

    with pytest.raises(ValueError, match="registered twice"):
        register_metric(impostor)
    assert all_metric_classes()["TotalCompletedTrainingJobs"] is taken


def test_the_example_config_selects_only_registered_metrics_with_valid_arguments():
    config_path = Path(__file__).resolve().parents[2] / "config" / "projects.yaml"
    config = YAML(typ="safe").load(config_path.read_text(encoding="utf-8"))
    selections = list(config["defaults"]["metrics"]) + [
        entry for project in config["projects"].values() for entry in project.get("metrics", [])
    ]

    assert len(selections) >= 14, "the example config shows every metric"
    built = set()
    for entry in selections:
        name, args = (entry, {}) if isinstance(entry, str) else (entry["name"], entry.get("args"))
        built.add(build_metric(name, args).metric_name())
    assert built == set(METRICS), "every registered metric appears in the example config"
