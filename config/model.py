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

BusPolicyMode = Literal["organization", "per-account"]
EventVersion = Literal[1, 2]

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


@dataclass(frozen=True)
class ProjectSettings:
    name: str
    environments: tuple[str, ...]
    metrics: tuple[MetricSelection, ...]
    # Accounts not targeted by OU tags, by environment (enrolled explicitly).
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

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
