"""The `metrics:` lists of `config/projects.yaml` against the metric registry: each name known
(with the closest one for a typo), listed once per list, and its arguments valid for its
argument schema, with their defaults filled in for the model (`validation.validated_metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.suggestions import closest
from config.validation_state import ConfigValidation
from config.yaml_positions import DocumentPath
from metrics.base import MetricArgumentError

_METRICS_DOC = "`dsdash metrics list`"


@dataclass(frozen=True)
class _MetricEntry:
    """One item of a `metrics:` list, as written: a name, or a mapping with name and args."""

    path: DocumentPath
    name: Any
    args: Any
    has_args: bool
    is_mapping: bool

    @property
    def name_path(self) -> DocumentPath:
        return (*self.path, "name") if self.is_mapping else self.path

    @property
    def args_path(self) -> DocumentPath:
        return (*self.path, "args")


def check_metric_list(validation: ConfigValidation, list_path: DocumentPath) -> None:
    """Check one `metrics:` list: names, duplicates and each metric's arguments."""
    first_by_name: dict[str, _MetricEntry] = {}
    for entry in _metric_entries(validation, list_path):
        if not isinstance(entry.name, str) or validation.is_blocked(entry.name_path):
            continue
        if entry.name in first_by_name:
            first_line = validation.line_of(first_by_name[entry.name].path)
            validation.report(
                entry.name_path,
                f"metric {entry.name!r} is listed twice (first on line {first_line})",
                "expected each metric once per list; a project entry with a default metric's"
                " name replaces the default's arguments",
            )
            continue
        first_by_name[entry.name] = entry
        _check_metric(validation, entry)


def _metric_entries(validation: ConfigValidation, list_path: DocumentPath) -> list[_MetricEntry]:
    entries = validation.value_at(list_path)
    if validation.is_blocked(list_path) or not isinstance(entries, list):
        return []
    result = []
    for index, entry in enumerate(entries):
        path = (*list_path, index)
        if validation.is_blocked(path):
            continue
        if isinstance(entry, dict):
            result.append(
                _MetricEntry(path, entry.get("name"), entry.get("args"), "args" in entry, True)
            )
        else:
            result.append(_MetricEntry(path, entry, None, False, False))
    return result


def _check_metric(validation: ConfigValidation, entry: _MetricEntry) -> bool:
    classes = validation.metric_classes()
    metric = classes.get(entry.name)
    if metric is None:
        validation.report(
            entry.name_path,
            f"unknown metric {entry.name!r}",
            f"expected a metric from {_METRICS_DOC}",
            closest(entry.name, classes),
        )
        return False
    if entry.has_args and (
        validation.is_blocked(entry.args_path) or not isinstance(entry.args, dict)
    ):
        return False
    args: dict[str, Any] = dict(entry.args or {})
    schema = metric.argument_schema
    known = list(schema.get("properties", {}))
    ok = True
    if schema.get("additionalProperties") is False:
        for key in [key for key in args if key not in known]:
            expected = (
                f"expected one of: {', '.join(known)}"
                if known
                else f"expected no arguments: {metric.metric_name()} takes none"
            )
            suggestion = closest(str(key), known)
            validation.report(
                (*entry.args_path, str(key)),
                f"unknown argument {str(key)!r} for metric {metric.metric_name()}",
                expected,
                suggestion,
                at_key=True,
            )
            # Check the rest as if the suggestion were taken, so a misspelt required
            # argument is not also reported as missing.
            value = args.pop(key)
            if suggestion is not None and suggestion not in args:
                args[suggestion] = value
            ok = False
    try:
        filled = metric.validate_arguments(args)
    except MetricArgumentError as error:
        for problem in error.problems:
            path = _argument_problem_path(entry, args, problem)
            validation.report(
                path,
                f"invalid arguments for metric {metric.metric_name()}: {problem}",
                f"expected arguments matching its argument schema (see `dsdash metrics show"
                f" {metric.metric_name()}`)",
                at_key=path == entry.args_path,
            )
        return False
    if ok:
        validation.validated_metrics[entry.path] = filled
    return ok


def _argument_problem_path(
    entry: _MetricEntry, args: Mapping[str, Any], problem: str
) -> DocumentPath:
    # MetricArgumentError problems start with "<argument>: " when an argument's value is
    # wrong; point at that argument. Otherwise point at `args:`, or at the entry itself when
    # no arguments were written (a required argument is missing).
    argument = problem.split(":", 1)[0]
    if argument in args:
        return (*entry.args_path, argument)
    return entry.args_path if entry.has_args else entry.path
