"""The ingest function's settings, read from its environment with `runtime_common.settings`
(the hub stack sets the table, retention and project aliases; `hub_stack.alerting` the alerts)."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.history_table import HISTORY_DELIVERY_STREAM_NAME
from hub_stack.runtime.alert_evaluation import ALERT_TOPIC_VARIABLE, DASHBOARD_URL_VARIABLE
from hub_stack.runtime.alert_rules import (
    ALERT_RULES_VARIABLE,
    ProjectAlertRule,
    decode_alert_rules,
    encode_alert_rules,
)
from hub_stack.runtime.sample_compatibility import (
    PROJECT_ALIASES_ENVIRONMENT_VARIABLE,
    ProjectDirectory,
)
from runtime_common.settings import SettingsError, from_variable, json_document, whole_number


class IngestConfigurationError(SettingsError):
    """The function's environment is missing or malformed."""


def _retention_days(text: str) -> int:
    days = whole_number(text)
    if days < 1:
        raise ValueError(f"{text!r} must be at least 1 day")
    return days


@dataclass(frozen=True)
class IngestSettings:
    table_name: str = from_variable("TABLE_NAME")
    retention_days: int = from_variable("RETENTION_DAYS", parse=_retention_days)
    history_stream_name: str = from_variable(
        "HISTORY_STREAM_NAME", default=HISTORY_DELIVERY_STREAM_NAME
    )
    # Configured project names and their aliases, for v1 events of the original sample's
    # spokes; None: the stack set none, and v1 project names are taken as written.
    project_directory: ProjectDirectory | None = from_variable(
        PROJECT_ALIASES_ENVIRONMENT_VARIABLE,
        parse=json_document(ProjectDirectory.from_document),
        render=ProjectDirectory.environment_value,
        default=None,
    )
    # JSON, gzip+base64-packed when long (`alert_rules`): its own reader, since the packed form
    # is not JSON text.
    alert_rules: tuple[ProjectAlertRule, ...] = from_variable(
        ALERT_RULES_VARIABLE, parse=decode_alert_rules, render=encode_alert_rules, default=()
    )
    alert_topic_arn: str | None = from_variable(ALERT_TOPIC_VARIABLE, default=None)
    dashboard_url: str | None = from_variable(DASHBOARD_URL_VARIABLE, default=None)
