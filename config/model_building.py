"""The typed, immutable model (`config.model`) built from a validated `config/projects.yaml`,
with the defaults of the sections a file may leave out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.alert_validation import build_alert_rules, build_notification_settings
from config.model import (
    DEFAULT_ENVIRONMENT_TAG_KEY,
    DEFAULT_PROJECT_TAG_KEY,
    DsdashConfig,
    HubSettings,
    MetricSelection,
    OrganizationSettings,
    ProjectSettings,
)
from config.yaml_positions import DocumentPath
from contracts import DEFAULT_RULES_PER_BUS_QUOTA

DEFAULT_BUS_POLICY = "organization"
DEFAULT_EVENT_VERSION = 2
DEFAULT_STACKSET_ADMIN = "management"


def _metric_selections(
    list_path: DocumentPath, data: Any, validated: Mapping[DocumentPath, dict[str, Any]]
) -> list[MetricSelection]:
    entries = data if isinstance(data, list) else []
    selections = []
    for index, entry in enumerate(entries):
        name = entry["name"] if isinstance(entry, dict) else entry
        selections.append(MetricSelection(name, validated[(*list_path, index)]))
    return selections


def build_model(
    data: dict[str, Any],
    validated_metrics: Mapping[DocumentPath, dict[str, Any]],
    source: Path | str,
) -> DsdashConfig:
    hub = data["hub"]
    organization = data["organization"]
    tag_keys = organization.get("tag_keys") or {}
    defaults = data.get("defaults") or {}
    default_metrics = _metric_selections(
        ("defaults", "metrics"), defaults.get("metrics"), validated_metrics
    )
    projects: dict[str, ProjectSettings] = {}
    for name, written in data["projects"].items():
        project = written or {}
        # Defaults first, in their order; a project entry with a default's name replaces it.
        merged = {selection.name: selection for selection in default_metrics}
        for selection in _metric_selections(
            ("projects", name, "metrics"), project.get("metrics"), validated_metrics
        ):
            merged[selection.name] = selection
        projects[name] = ProjectSettings(
            name=name,
            environments=tuple(project.get("environments") or defaults.get("environments") or ()),
            metrics=tuple(merged.values()),
            accounts={
                environment: tuple(account_ids)
                for environment, account_ids in (project.get("accounts") or {}).items()
            },
            aliases=tuple(project.get("aliases") or ()),
            alerts=build_alert_rules(defaults.get("alerts"), project.get("alerts")),
        )
    return DsdashConfig(
        hub=HubSettings(
            name=hub["name"],
            account_id=hub["account_id"],
            region=hub["region"],
            bus_policy=hub.get("bus_policy", DEFAULT_BUS_POLICY),
            accept_sample_spokes=bool(hub.get("accept_sample_spokes", False)),
            rules_per_bus_quota=int(hub.get("rules_per_bus_quota", DEFAULT_RULES_PER_BUS_QUOTA)),
        ),
        organization=OrganizationSettings(
            id=organization["id"],
            management_account_id=organization["management_account_id"],
            regions=tuple(organization["regions"]),
            project_tag_key=tag_keys.get("project", DEFAULT_PROJECT_TAG_KEY),
            environment_tag_key=tag_keys.get("environment", DEFAULT_ENVIRONMENT_TAG_KEY),
            stackset_admin=organization.get("stackset_admin", DEFAULT_STACKSET_ADMIN),
            delegated_admin_account_id=organization.get("delegated_admin_account_id"),
        ),
        refresh_schedule=data["refresh"]["schedule"],
        retention_days=int(data["retention_days"]),
        event_version=data.get("event_version", DEFAULT_EVENT_VERSION),
        projects=projects,
        source_path=Path(source) if isinstance(source, Path) else None,
        notifications=build_notification_settings(data.get("notifications")),
    )
