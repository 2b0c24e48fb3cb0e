"""The typed model of alerts: KPI thresholds per project, and where notifications go.

`config.alert_validation` checks the `alerts:` lists and the `notifications:` section of
`config/projects.yaml`; `config.loader` builds these objects from them. The hub stack turns the
rules into its ingest function's `ALERT_RULES` (see `hub_stack.ingest.runtime.alert_rules`), and the
subscriptions into SNS subscriptions of the alert topic (docs/architecture.md §7, "Alerts").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

Comparison = Literal[">", ">=", "<", "<="]
Severity = Literal["info", "warning", "critical"]
SubscriptionProtocol = Literal["email", "email-json", "https", "sqs", "lambda", "sms"]

COMPARISONS: Final[tuple[Comparison, ...]] = (">", ">=", "<", "<=")
DEFAULT_SEVERITY: Final[Severity] = "warning"
DEFAULT_CONSECUTIVE_EXTRACTIONS: Final = 1
# Above this many quarantined events in one hour, the platform-health alarm fires.
DEFAULT_QUARANTINED_EVENTS_PER_HOUR: Final = 10

_COMPARISON_WORDS: Final[Mapping[str, str]] = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}


def default_alert_name(metric: str, comparison: str, threshold: float) -> str:
    """The name of an alert written without one: `<metric>-<gt|ge|lt|le>-<threshold>`,
    lowercased, so that it fits the alert-name pattern and reads in a subject line."""
    number = f"{threshold:g}".replace(".", "_").replace("-", "minus").replace("+", "")
    return f"{metric.lower()}-{_COMPARISON_WORDS[comparison]}-{number}"


@dataclass(frozen=True)
class AlertRule:
    """One threshold on one metric of a project.

    The alert fires when `consecutive` extractions in a row of one spoke and region compare
    true against the threshold, and recovers on the first extraction that does not.
    `dimensions` narrows it to the series carrying those dimension values (empty: every series
    of the metric, each judged on its own); `environments` narrows it to those environments
    (empty: every environment of the project).
    """

    name: str
    metric: str
    comparison: Comparison
    threshold: float
    consecutive: int = DEFAULT_CONSECUTIVE_EXTRACTIONS
    severity: Severity = DEFAULT_SEVERITY
    dimensions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    environments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", MappingProxyType(dict(self.dimensions)))

    def applies_to(self, environment: str) -> bool:
        return not self.environments or environment in self.environments

    def applies_to_any(self, environments: tuple[str, ...]) -> bool:
        return any(self.applies_to(environment) for environment in environments)


@dataclass(frozen=True)
class AlertSubscription:
    """A subscriber of the alert topics, declared in the config (others attach their own)."""

    protocol: SubscriptionProtocol
    endpoint: str


@dataclass(frozen=True)
class NotificationSettings:
    """The `notifications:` section: who hears alerts and platform-health alarms."""

    subscriptions: tuple[AlertSubscription, ...] = ()
    # The dashboard's published address; each notification links to it.
    dashboard_url: str | None = None
    quarantined_events_per_hour: int = DEFAULT_QUARANTINED_EVENTS_PER_HOUR
