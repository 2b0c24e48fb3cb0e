"""The checks of `alerts:` lists and the `notifications:` section a JSON Schema cannot express,
and the model built from them.

`config.loader` runs `check_alerts` after its schema pass, on the same `ConfigValidation` (so problems
carry file:line, the JSON path and a suggestion like every other), and `build_alert_rules` /
`build_notification_settings` when the file is valid:

- an alert's metric must be a registered metric ("did you mean" when it is not), and one the
  project selects: a `defaults` alert's metric must be in `defaults.metrics` (every project
  selects those), a project alert's in `defaults.metrics` or the project's own `metrics`;
- an alert's `environments` must be environments of its project;
- alert names (written or derived) are unique within a list; a project alert named like a
  `defaults` alert replaces it for that project, as metrics do;
- a subscription's endpoint must suit its protocol (an address, an https URL, an ARN).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, Protocol

from config.alert_model import (
    DEFAULT_CONSECUTIVE_EXTRACTIONS,
    DEFAULT_QUARANTINED_EVENTS_PER_HOUR,
    DEFAULT_SEVERITY,
    AlertRule,
    AlertSubscription,
    NotificationSettings,
    default_alert_name,
)
from config.suggestions import closest
from config.yaml_positions import DocumentPath, format_json_path

# What each subscription protocol's endpoint looks like (SNS Subscribe's Endpoint parameter):
# https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html
_ENDPOINT_PATTERNS: Final[Mapping[str, tuple[re.Pattern[str], str]]] = {
    "email": (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an email address"),
    "email-json": (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an email address"),
    "https": (re.compile(r"^https://[^\s]+$"), "an https:// URL"),
    "sqs": (
        re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$"),
        "an SQS queue ARN, like arn:aws:sqs:eu-west-1:111111111111:alerts",
    ),
    "lambda": (
        re.compile(
            r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[\w$-]+)?$"
        ),
        "a Lambda function ARN, like arn:aws:lambda:eu-west-1:111111111111:function:on-alert",
    ),
    "sms": (re.compile(r"^\+[1-9][0-9]{6,14}$"), "a phone number in E.164 form, like +14155550100"),
}


class _ValidationPass(Protocol):
    """What `config.validation_state.ConfigValidation` offers the alert checks."""

    def report(
        self,
        path: DocumentPath,
        message: str,
        expected: str,
        suggestion: str | None = None,
        *,
        at_key: bool = False,
    ) -> None: ...

    def is_blocked(self, path: DocumentPath) -> bool: ...

    def has_problem_within(self, path: DocumentPath) -> bool: ...

    def line_of(self, path: DocumentPath, *, at_key: bool = False) -> int: ...

    def value_at(self, path: DocumentPath) -> Any: ...

    def metric_classes(self) -> Mapping[str, Any]: ...


def check_alerts(validation: _ValidationPass) -> None:
    """Every semantic check of alerts and notifications; problems go to `validation.report`."""
    default_metrics = _metric_names(validation, ("defaults", "metrics"))
    default_environments = _environments(validation, ("defaults", "environments"))
    _check_alert_list(
        validation,
        ("defaults", "alerts"),
        selected=default_metrics,
        selected_where="defaults.metrics",
        environments=default_environments,
        environments_where="defaults.environments",
    )
    projects = validation.value_at(("projects",))
    if isinstance(projects, dict) and not validation.is_blocked(("projects",)):
        for name, project in projects.items():
            path: DocumentPath = ("projects", str(name))
            if not isinstance(project, dict) or validation.is_blocked(path):
                continue
            own_metrics = _metric_names(validation, (*path, "metrics"))
            selected = (
                None
                if default_metrics is None or own_metrics is None
                else default_metrics | own_metrics
            )
            own_environments = project.get("environments")
            environments_path = (
                (*path, "environments")
                if own_environments is not None
                else ("defaults", "environments")
            )
            _check_alert_list(
                validation,
                (*path, "alerts"),
                selected=selected,
                selected_where=f"defaults.metrics or projects.{name}.metrics",
                environments=_environments(validation, environments_path),
                environments_where=format_json_path(environments_path).removeprefix("$."),
                project=str(name),
            )
    _check_subscriptions(validation)


def _metric_names(validation: _ValidationPass, list_path: DocumentPath) -> set[str] | None:
    """The metric names a `metrics:` list selects; None when the list is broken (no judging)."""
    if validation.has_problem_within(list_path):
        return None
    entries = validation.value_at(list_path)
    if entries is None:
        return set()
    if not isinstance(entries, list):
        return None
    names = {entry.get("name") if isinstance(entry, dict) else entry for entry in entries}
    return {name for name in names if isinstance(name, str)}


def _environments(validation: _ValidationPass, path: DocumentPath) -> list[str] | None:
    value = validation.value_at(path)
    if validation.has_problem_within(path) or not isinstance(value, list):
        return None
    return [str(item) for item in value]


def _check_alert_list(
    validation: _ValidationPass,
    list_path: DocumentPath,
    *,
    selected: set[str] | None,
    selected_where: str,
    environments: list[str] | None,
    environments_where: str,
    project: str | None = None,
) -> None:
    alerts = validation.value_at(list_path)
    if validation.is_blocked(list_path) or not isinstance(alerts, list):
        return
    first_by_name: dict[str, DocumentPath] = {}
    for index, alert in enumerate(alerts):
        path = (*list_path, index)
        if validation.is_blocked(path) or not isinstance(alert, dict):
            continue
        _check_alert_metric(
            validation, path, alert, selected=selected, where=selected_where, project=project
        )
        _check_alert_environments(
            validation, path, alert, environments=environments, where=environments_where
        )
        _check_alert_threshold(validation, path, alert)
        name = _alert_name(alert)
        if name is None or validation.has_problem_within(path):
            continue
        if name in first_by_name:
            written = "name" in alert
            validation.report(
                (*path, "name") if written else path,
                f"alert {name!r} is listed twice (first on line"
                f" {validation.line_of(first_by_name[name])})",
                "expected each alert name once per list; give one of them another `name`",
            )
            continue
        first_by_name[name] = path


def _check_alert_threshold(
    validation: _ValidationPass, path: DocumentPath, alert: Mapping[str, Any]
) -> None:
    # YAML's `.inf` and `.nan` are numbers to the schema, but a NaN threshold never compares true
    # and an infinite one always or never does: the alert would be silently dead.
    threshold_path = (*path, "threshold")
    threshold = alert.get("threshold")
    if validation.is_blocked(threshold_path) or isinstance(threshold, bool):
        return
    if isinstance(threshold, float) and not math.isfinite(threshold):
        validation.report(
            threshold_path,
            f"threshold {threshold!r} is not a finite number",
            "expected a finite number such as 5 or 0.85",
        )


def _check_alert_metric(
    validation: _ValidationPass,
    path: DocumentPath,
    alert: Mapping[str, Any],
    *,
    selected: set[str] | None,
    where: str,
    project: str | None,
) -> None:
    metric_path = (*path, "metric")
    metric = alert.get("metric")
    if not isinstance(metric, str) or validation.is_blocked(metric_path):
        return
    classes = validation.metric_classes()
    if metric not in classes:
        validation.report(
            metric_path,
            f"unknown metric {metric!r}",
            "expected a metric from `dsdash metrics list`",
            closest(metric, list(classes)),
        )
        return
    if selected is not None and metric not in selected:
        whose = f"project {project!r}" if project else "every project (defaults.metrics)"
        validation.report(
            metric_path,
            f"metric {metric!r} is not selected for {whose}, so it would never be evaluated",
            f"expected a metric listed in {where} (add it there to alert on it)",
        )


def _check_alert_environments(
    validation: _ValidationPass,
    path: DocumentPath,
    alert: Mapping[str, Any],
    *,
    environments: list[str] | None,
    where: str,
) -> None:
    scope = alert.get("environments")
    scope_path = (*path, "environments")
    if environments is None or not isinstance(scope, list) or validation.is_blocked(scope_path):
        return
    for index, environment in enumerate(scope):
        if isinstance(environment, str) and environment not in environments:
            validation.report(
                (*scope_path, index),
                f"environment {environment!r} is not one of the environments"
                f" ({', '.join(environments)})",
                f"expected an environment listed in {where}",
                closest(environment, environments),
            )


def _check_subscriptions(validation: _ValidationPass) -> None:
    list_path: DocumentPath = ("notifications", "subscriptions")
    subscriptions = validation.value_at(list_path)
    if validation.is_blocked(list_path) or not isinstance(subscriptions, list):
        return
    for index, subscription in enumerate(subscriptions):
        path = (*list_path, index)
        if validation.has_problem_within(path) or not isinstance(subscription, dict):
            continue
        protocol, endpoint = subscription.get("protocol"), subscription.get("endpoint")
        if not isinstance(protocol, str) or not isinstance(endpoint, str):
            continue
        pattern, described = _ENDPOINT_PATTERNS[protocol]
        if not pattern.match(endpoint):
            validation.report(
                (*path, "endpoint"),
                f"{endpoint!r} is not a valid {protocol} endpoint",
                f"expected {described}",
            )


def _alert_name(alert: Mapping[str, Any]) -> str | None:
    written = alert.get("name")
    if isinstance(written, str):
        return written
    metric, comparison, threshold = (
        alert.get(key) for key in ("metric", "comparison", "threshold")
    )
    if (
        not isinstance(metric, str)
        or comparison not in (">", ">=", "<", "<=")
        or not isinstance(threshold, int | float)
        or isinstance(threshold, bool)
    ):
        return None
    return default_alert_name(metric, str(comparison), float(threshold))


# -- model --------------------------------------------------------------------------------


def build_alert_rules(default_alerts: Any, project_alerts: Any) -> tuple[AlertRule, ...]:
    """A project's alerts: the defaults, in order, then its own; one with a default's name
    replaces that default."""
    merged: dict[str, AlertRule] = {}
    for written in (default_alerts or [], project_alerts or []):
        for alert in written:
            rule = _alert_rule(alert)
            merged[rule.name] = rule
    return tuple(merged.values())


def _alert_rule(alert: Mapping[str, Any]) -> AlertRule:
    name = _alert_name(alert)
    if name is None:  # the loader only builds a model from a valid file
        raise ValueError(f"alert {alert!r} has no name and cannot be given one")
    return AlertRule(
        name=name,
        metric=str(alert["metric"]),
        comparison=alert["comparison"],
        threshold=float(alert["threshold"]),
        consecutive=int(alert.get("for", DEFAULT_CONSECUTIVE_EXTRACTIONS)),
        severity=alert.get("severity", DEFAULT_SEVERITY),
        dimensions={str(key): str(value) for key, value in (alert.get("dimensions") or {}).items()},
        environments=tuple(alert.get("environments") or ()),
    )


def build_notification_settings(section: Any) -> NotificationSettings:
    written = section or {}
    return NotificationSettings(
        subscriptions=tuple(
            AlertSubscription(protocol=item["protocol"], endpoint=item["endpoint"])
            for item in written.get("subscriptions") or ()
        ),
        dashboard_url=written.get("dashboard_url"),
        quarantined_events_per_hour=int(
            written.get("quarantined_events_per_hour", DEFAULT_QUARANTINED_EVENTS_PER_HOUR)
        ),
    )
