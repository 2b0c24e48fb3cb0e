"""The metric registry: name -> class, filled by the `@register_metric` decorator.

Adding a metric means adding one module to this package (README, "Adding a metric"): every module
here except the plugin contract, the collection layer and this registry is a metric module, found
by listing the package (`pkgutil`, no eval) and imported by name. Listing the registry therefore
never depends on import side effects elsewhere, and no list of modules needs an entry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Final, TypeVar

import metrics
from metrics.base import IamStatement, Metric

# The modules of this package that define no metric.
NOT_METRIC_MODULES: Final = frozenset({"base", "collect", "registry"})
# Read by `cdk_support.import_graph`: this module imports every module of the package at run time,
# so a Lambda asset that holds the registry holds every metric module too.
IMPORTS_EVERY_MODULE_OF: Final = "metrics"

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


@cache
def metric_module_names() -> tuple[str, ...]:
    """`metrics.<module>` for every metric module of the package, sorted."""
    return tuple(
        f"{metrics.__name__}.{module.name}"
        for module in sorted(pkgutil.iter_modules(metrics.__path__), key=lambda m: m.name)
        if module.name not in NOT_METRIC_MODULES and not module.ispkg
    )


def load_builtin_metrics() -> None:
    for module_name in metric_module_names():
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
