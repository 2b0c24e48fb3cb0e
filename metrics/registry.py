"""The metric registry: name -> class, filled by the `@register_metric` decorator.

Built-in metric modules are imported by name from `BUILTIN_METRIC_MODULES` (importlib, no eval),
so listing the registry never depends on import side effects elsewhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from metrics.base import IamStatement, Metric

BUILTIN_METRIC_MODULES: tuple[str, ...] = (
    "metrics.sagemaker_training",
    "metrics.sagemaker_endpoints",
    "metrics.sagemaker_other",
    "metrics.ssm",
)

_REGISTRY: dict[str, type[Metric]] = {}
MetricClass = TypeVar("MetricClass", bound=type[Metric])


class UnknownMetricError(KeyError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown metric {self.name!r}; registered metrics: {', '.join(self.known)}"


def register_metric(metric_class: MetricClass) -> MetricClass:
    name = metric_class.metric_name()
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not metric_class:
        raise ValueError(
            f"metric name {name!r} is registered twice ({existing!r}, {metric_class!r})"
        )
    _REGISTRY[name] = metric_class
    return metric_class


def load_builtin_metrics() -> None:
    for module_name in BUILTIN_METRIC_MODULES:
        importlib.import_module(module_name)


def all_metric_classes() -> dict[str, type[Metric]]:
    load_builtin_metrics()
    return dict(sorted(_REGISTRY.items()))


def metric_class(name: str) -> type[Metric]:
    classes = all_metric_classes()
    try:
        return classes[name]
    except KeyError:
        raise UnknownMetricError(name, classes) from None


def build_metric(name: str, args: Mapping[str, Any] | None = None) -> Metric:
    """Instantiate a registered metric with validated arguments."""
    return metric_class(name)(args)


def iam_statements_for(metrics: Iterable[Metric]) -> tuple[IamStatement, ...]:
    """The least-privilege policy of a metric selection: the union of the metrics' resolved
    statements, merged by resource set and deduplicated, in a stable order."""
    actions_by_resources: dict[tuple[str, ...], set[str]] = {}
    for metric in metrics:
        for statement in metric.resolved_permissions():
            resources = tuple(sorted(set(statement.resources)))
            actions_by_resources.setdefault(resources, set()).update(statement.actions)
    return tuple(
        IamStatement(actions=tuple(sorted(actions)), resources=resources)
        for resources, actions in sorted(actions_by_resources.items())
    )
