"""The alert rules the hub evaluates, as its ingest function receives them.

The hub stack writes every project's alerts (`config.alert_model.AlertRule`) into the ingest
function's `ALERT_RULES` environment variable as compact JSON (`encode_alert_rules`); the
function reads them back here (`decode_alert_rules`). Lambda allows 4 KB of environment in all,
so past `PLAIN_RULES_MAX_BYTES` the JSON is gzipped and base64-encoded behind a `gzip:` prefix:
rules repeat their keys and names, so this holds several times more of them. The runtime cannot import `config` (its
loader pulls in the metric registry and the schema), hence this small mirror of the model,
keyed by the project the rule belongs to.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

ALERT_RULES_VARIABLE: Final = "ALERT_RULES"
PLAIN_RULES_MAX_BYTES: Final = 2048
_GZIP_PREFIX: Final = "gzip:"
COMPARISONS: Final = (">", ">=", "<", "<=")


class AlertRulesError(ValueError):
    """`ALERT_RULES` is not what the hub stack writes."""


@dataclass(frozen=True)
class ProjectAlertRule:
    """One alert of one project (docs/architecture.md §7, "Alerts")."""

    project: str
    name: str
    metric: str
    comparison: str
    threshold: Decimal
    consecutive: int
    severity: str
    dimensions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    environments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise AlertRulesError(
                f"alert {self.project}/{self.name}: comparison {self.comparison!r} is not one of"
                f" {', '.join(COMPARISONS)}"
            )
        if self.consecutive < 1:
            raise AlertRulesError(
                f"alert {self.project}/{self.name}: `for` must be at least 1, got"
                f" {self.consecutive}"
            )
        object.__setattr__(self, "dimensions", MappingProxyType(dict(self.dimensions)))

    def watches(
        self,
        *,
        project: str,
        environment: str,
        metric: str,
        dimensions: Mapping[str, str],
    ) -> bool:
        """Whether a datapoint of this series is judged by this rule. The rule's dimensions are
        a filter: every one must be on the series; a series may carry more."""
        return (
            project == self.project
            and metric == self.metric
            and (not self.environments or environment in self.environments)
            and all(dimensions.get(name) == value for name, value in self.dimensions.items())
        )

    def breached_by(self, value: Decimal) -> bool:
        match self.comparison:
            case ">":
                return value > self.threshold
            case ">=":
                return value >= self.threshold
            case "<":
                return value < self.threshold
            case _:
                return value <= self.threshold

    def describe(self) -> str:
        return f"{self.metric} {self.comparison} {_number_text(self.threshold)}"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "project": self.project,
            "name": self.name,
            "metric": self.metric,
            "comparison": self.comparison,
            "threshold": _number_text(self.threshold),
            "for": self.consecutive,
            "severity": self.severity,
        }
        if self.dimensions:
            document["dimensions"] = dict(self.dimensions)
        if self.environments:
            document["environments"] = list(self.environments)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ProjectAlertRule:
        try:
            return cls(
                project=str(document["project"]),
                name=str(document["name"]),
                metric=str(document["metric"]),
                comparison=str(document["comparison"]),
                threshold=Decimal(str(document["threshold"])),
                consecutive=int(document["for"]),
                severity=str(document["severity"]),
                dimensions={str(k): str(v) for k, v in (document.get("dimensions") or {}).items()},
                environments=tuple(str(e) for e in document.get("environments") or ()),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise AlertRulesError(f"invalid alert rule {document!r}: {error}") from None


def _number_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


def encode_alert_rules(rules: Iterable[ProjectAlertRule]) -> str:
    """The `ALERT_RULES` value: compact JSON, compressed when it is long (module docstring)."""
    plain = json.dumps([rule.to_json() for rule in rules], separators=(",", ":"))
    if len(plain.encode()) <= PLAIN_RULES_MAX_BYTES:
        return plain
    # mtime=0: the same rules give the same bytes, so the template does not change per synth.
    packed = gzip.compress(plain.encode(), compresslevel=9, mtime=0)
    return _GZIP_PREFIX + base64.b64encode(packed).decode("ascii")


def decode_alert_rules(text: str) -> tuple[ProjectAlertRule, ...]:
    if not text.strip():
        return ()
    if text.startswith(_GZIP_PREFIX):
        try:
            text = gzip.decompress(base64.b64decode(text.removeprefix(_GZIP_PREFIX))).decode()
        except (ValueError, OSError, EOFError) as error:
            raise AlertRulesError(
                f"{ALERT_RULES_VARIABLE} is not valid gzip+base64: {error}"
            ) from None
    try:
        documents = json.loads(text)
    except json.JSONDecodeError as error:
        raise AlertRulesError(f"{ALERT_RULES_VARIABLE} is not JSON: {error}") from None
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise AlertRulesError(f"{ALERT_RULES_VARIABLE} must be a JSON list of alert rules")
    return tuple(ProjectAlertRule.from_json(document) for document in documents)


def rules_by_project(rules: Sequence[ProjectAlertRule]) -> dict[str, tuple[ProjectAlertRule, ...]]:
    grouped: dict[str, list[ProjectAlertRule]] = {}
    for rule in rules:
        grouped.setdefault(rule.project, []).append(rule)
    return {project: tuple(items) for project, items in grouped.items()}
