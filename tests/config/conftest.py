"""Make the metric catalog available to the config tests.

The config loader checks metric names and arguments against `metrics.registry`. When the real
metric library is installed, these tests use it. While it is not (it is written alongside the
loader), this conftest stands in stub modules for the missing built-in modules and registers
test doubles carrying the catalog's names and argument schemas (DESIGN brief, "Metric catalog").
The doubles cannot compute anything; the config tests never ask them to.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from metrics import registry
from metrics.base import ACCOUNT_ID, PARTITION, REGION, Datapoint, IamStatement, Metric

_TRAINING_LIST = IamStatement(actions=("sagemaker:ListTrainingJobs", "sagemaker:Search"))
_ENDPOINT_LIST = IamStatement(actions=("sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint"))


def _window(default_hours: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": 8760, "default": default_hours}


def _arguments(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": list(required),
    }


# name -> (permissions, unit, argument schema), as the catalog in the helper brief describes.
_CATALOG: dict[str, tuple[tuple[IamStatement, ...], str, dict[str, Any]]] = {
    "TotalCompletedTrainingJobs": ((_TRAINING_LIST,), "Count", _arguments({})),
    "CompletedTrainingJobs24h": (
        (_TRAINING_LIST,),
        "Count",
        _arguments({"window_hours": _window(24)}),
    ),
    "NumberEndPointsInService": (
        (IamStatement(actions=("sagemaker:ListEndpoints",)),),
        "Count",
        _arguments({}),
    ),
    "FailedTrainingJobs": ((_TRAINING_LIST,), "Count", _arguments({"window_hours": _window(24)})),
    "TrainingJobsInProgress": ((_TRAINING_LIST,), "Count", _arguments({})),
    "BillableTrainingSeconds": (
        (_TRAINING_LIST,),
        "Seconds",
        _arguments({"window_hours": _window(24)}),
    ),
    "ManagedSpotSavingsPercent": (
        (_TRAINING_LIST,),
        "Percent",
        _arguments({"window_hours": _window(168)}),
    ),
    "EndpointInstanceHours": (
        (_ENDPOINT_LIST,),
        "Hours",
        _arguments({"window_hours": _window(24)}),
    ),
    "BestTrainingObjective": (
        (_TRAINING_LIST,),
        "None",
        _arguments(
            {
                "objective_metric": {"type": "string", "minLength": 1},
                "job_name_prefix": {"type": "string"},
                "direction": {"enum": ["maximize", "minimize"], "default": "maximize"},
                "window_hours": _window(168),
            },
            required=["objective_metric"],
        ),
    ),
    "NotebookInstancesInService": (
        (IamStatement(actions=("sagemaker:ListNotebookInstances",)),),
        "Count",
        _arguments({}),
    ),
    "ModelPackagesPendingApproval": (
        (IamStatement(actions=("sagemaker:ListModelPackages",)),),
        "Count",
        _arguments({}),
    ),
    "FailedPipelineExecutions": (
        (IamStatement(actions=("sagemaker:ListPipelines", "sagemaker:ListPipelineExecutions")),),
        "Count",
        _arguments({"window_hours": _window(24)}),
    ),
    "CompletedTrainingJobsByInstanceType": ((_TRAINING_LIST,), "Count", _arguments({})),
    "SsmParameterValue": (
        (
            IamStatement(
                actions=("ssm:GetParameter",),
                resources=(
                    f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT_ID}:parameter/{{parameter_name}}",
                ),
            ),
        ),
        "None",
        _arguments(
            {"parameter_name": {"type": "string", "pattern": "^/?[A-Za-z0-9_.\\-/]{1,2048}$"}},
            required=["parameter_name"],
        ),
    ),
}


def _compute_unavailable(self: Metric, context: Any) -> Sequence[Datapoint]:
    raise NotImplementedError(f"{type(self).__name__} is a config-test double")


def _missing_builtin_modules() -> list[str]:
    missing = []
    for module_name in registry.BUILTIN_METRIC_MODULES:
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # Only the module itself being absent is expected; a broken import inside it is a bug.
            if error.name != module_name:
                raise
            missing.append(module_name)
    return missing


@pytest.fixture(scope="session", autouse=True)
def metric_catalog() -> Iterator[dict[str, type[Metric]]]:
    missing_modules = _missing_builtin_modules()
    if not missing_modules:
        yield registry.all_metric_classes()
        return
    for module_name in missing_modules:
        sys.modules[module_name] = types.ModuleType(module_name, "config-test stand-in")
    doubles = []
    for name, (permissions, unit, schema) in _CATALOG.items():
        if name in registry.all_metric_classes():
            continue
        double = type(
            name,
            (Metric,),
            {
                "__doc__": f"{name} (config-test double).\n\nExample:\n    - {name}\n",
                "unit": unit,
                "permissions": permissions,
                "argument_schema": schema,
                "compute": _compute_unavailable,
                "__module__": __name__,
            },
        )
        registry.register_metric(double)
        doubles.append(name)
    try:
        yield registry.all_metric_classes()
    finally:
        # Leave no doubles behind for other test folders in the same session.
        for name in doubles:
            registry._REGISTRY.pop(name, None)
        for module_name in missing_modules:
            sys.modules.pop(module_name, None)
