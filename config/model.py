"""The typed, immutable configuration model every unit uses.

`config.loader.load_config` builds it from `config/projects.yaml` after validation; nothing else
should parse the YAML. All collections are tuples or read-only mappings, so a model can be shared
freely between the CDK app, the CLI and tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from config.alert_model import AlertRule, NotificationSettings

BusPolicyMode = Literal["organization", "per-account"]
EventVersion = Literal[1, 2]
# Where the org stack runs: the management account, or a member account registered as the
# CloudFormation StackSets delegated administrator (docs/architecture.md §7, delegated admin).
StackSetAdmin = Literal["management", "delegated"]
StackSetCallAs = Literal["SELF", "DELEGATED_ADMIN"]

DEFAULT_PROJECT_TAG_KEY = "dsdash:project"
DEFAULT_ENVIRONMENT_TAG_KEY = "dsdash:environment"


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class MetricSelection:
    """One metric a project extracts: a registered metric name and its validated arguments."""

    name: str
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", _frozen_mapping(self.args))


@dataclass(frozen=True)
class HubSettings:
    name: str
    account_id: str
    region: str
    # "organization": one bus-policy statement with aws:PrincipalOrgID (constant size).
    # "per-account": one statement per spoke, for spokes outside the organization.
    bus_policy: BusPolicyMode = "organization"
    # True: a rule on the hub account's default bus also feeds ingest with the original sample's
    # spokes' events (docs/architecture.md §7, "Spokes of the original sample").
    accept_sample_spokes: bool = False
    # EventBridge's adjustable "Rules per event bus" quota in the hub account; raised by the
    # operator in Service Quotas, then here (hub stack -> connection function environment).
    # (contracts.DEFAULT_RULES_PER_BUS_QUOTA: not imported, the reconciler's Lambda asset carries
    # this module without contracts; a config test keeps the two equal.)
    rules_per_bus_quota: int = 300


@dataclass(frozen=True)
class OrganizationSettings:
    id: str
    management_account_id: str
    regions: tuple[str, ...]
    project_tag_key: str = DEFAULT_PROJECT_TAG_KEY
    environment_tag_key: str = DEFAULT_ENVIRONMENT_TAG_KEY
    stackset_admin: StackSetAdmin = "management"
    # Set exactly when stackset_admin is "delegated" (the loader enforces it).
    delegated_admin_account_id: str | None = None

    @property
    def is_delegated(self) -> bool:
        return self.stackset_admin == "delegated"

    @property
    def administrator_account_id(self) -> str:
        """The account that runs the org stack: StackSets, reconciler, enrollment, artifacts."""
        if self.is_delegated:
            if self.delegated_admin_account_id is None:
                raise ValueError("stackset_admin is delegated but no delegated_admin_account_id")
            return self.delegated_admin_account_id
        return self.management_account_id

    @property
    def call_as(self) -> StackSetCallAs:
        """The `CallAs` of every StackSet call the org stack and its functions make."""
        return "DELEGATED_ADMIN" if self.is_delegated else "SELF"


@dataclass(frozen=True)
class ProjectSettings:
    name: str
    environments: tuple[str, ...]
    metrics: tuple[MetricSelection, ...]
    # Accounts not targeted by OU tags, by environment (enrolled explicitly).
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # Other names its v1 events may carry (the original sample's free-text project names),
    # matched ignoring case, like the project's own name.
    aliases: tuple[str, ...] = ()
    # KPI thresholds evaluated by the hub on ingest (defaults first, then the project's own).
    alerts: tuple[AlertRule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "accounts", _frozen_mapping(self.accounts))

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(selection.name for selection in self.metrics)


@dataclass(frozen=True)
class DsdashConfig:
    hub: HubSettings
    organization: OrganizationSettings
    refresh_schedule: str
    retention_days: int
    event_version: EventVersion
    projects: Mapping[str, ProjectSettings]
    source_path: Path | None = None
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "projects", _frozen_mapping(self.projects))

    def project(self, name: str) -> ProjectSettings:
        try:
            return self.projects[name]
        except KeyError:
            known = ", ".join(sorted(self.projects)) or "none"
            raise KeyError(f"unknown project {name!r}; configured projects: {known}") from None

    def explicit_account_assignments(self) -> dict[str, tuple[str, str]]:
        """Map account id -> (project, environment) for accounts declared in the config."""
        assignments: dict[str, tuple[str, str]] = {}
        for project in self.projects.values():
            for environment, account_ids in project.accounts.items():
                for account_id in account_ids:
                    assignments[account_id] = (project.name, environment)
        return assignments
