"""The ingest function's settings, read from its environment with `runtime_common.settings` and
written by the CDK with `environment_of`: the ingest unit's construct writes the table, retention
and project aliases (`hub_stack.ingest.infrastructure`), the hub's alerting the alerts
(`IngestAlertSettings`, `hub_stack.alerting`), which needs the function before its topic exists."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.history_table import HISTORY_DELIVERY_STREAM_NAME
from hub_stack.ingest.runtime.alert_evaluation import ALERT_TOPIC_VARIABLE, DASHBOARD_URL_VARIABLE
from hub_stack.ingest.runtime.alert_rules import (
    ALERT_RULES_VARIABLE,
    ProjectAlertRule,
    decode_alert_rules,
    encode_alert_rules,
)
from hub_stack.ingest.runtime.sample_compatibility import (
    PROJECT_ALIASES_ENVIRONMENT_VARIABLE,
    ProjectDirectory,
)
from runtime_common.settings import (
    SettingsError,
    from_variable,
    json_document,
    nested,
    whole_number,
)


class IngestConfigurationError(SettingsError):
    """The function's environment is missing or malformed."""


def _retention_days(text: str) -> int:
    days = whole_number(text)
    if days < 1:
        raise ValueError(f"{text!r} must be at least 1 day")
    return days


@dataclass(frozen=True)
class IngestAlertSettings:
    """The alerts the function judges, where it notifies, and the page its messages link to."""

    # JSON, gzip+base64-packed when long (`alert_rules`): its own reader, since the packed form
    # is not JSON text.
    rules: tuple[ProjectAlertRule, ...] = from_variable(
        ALERT_RULES_VARIABLE, parse=decode_alert_rules, render=encode_alert_rules, default=()
    )
    topic_arn: str | None = from_variable(ALERT_TOPIC_VARIABLE, default=None)
    dashboard_url: str | None = from_variable(DASHBOARD_URL_VARIABLE, default=None)


@dataclass(frozen=True)
class IngestSettings:
    table_name: str = from_variable("TABLE_NAME")
    retention_days: int = from_variable("RETENTION_DAYS", parse=_retention_days)
    alerts: IngestAlertSettings = nested(IngestAlertSettings)
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
