"""What the placement policy and the reconciler read from the config: the projects, their
environments and listed accounts, the OU tag keys, and how the reconciler calls CloudFormation.

`TargetingSettings` is a `runtime_common.settings` class: the org stack writes it into the
reconciler's and the enrollment function's environments with `environment_of`, and both read it
back with `read_settings` (nested in their own settings class). The flat values are plain
variables; the projects table is JSON in one variable, PROJECTS (`json_document`). CALL_AS is
SELF in the management account, DELEGATED_ADMIN in a StackSets delegated administrator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from config.model import DEFAULT_ENVIRONMENT_TAG_KEY, DEFAULT_PROJECT_TAG_KEY, DsdashConfig
from runtime_common.identifiers import account_id, is_account_id, region_list
from runtime_common.settings import (
    from_variable,
    json_document,
    json_text,
    number,
    one_of,
    whole_number,
)

CallAs = Literal["SELF", "DELEGATED_ADMIN"]
CALL_AS_VALUES: Final[tuple[CallAs, ...]] = ("SELF", "DELEGATED_ADMIN")


@dataclass(frozen=True)
class ProjectTargeting:
    name: str
    environments: tuple[str, ...]
    # Accounts enrolled explicitly, by environment (config `projects.<p>.accounts`).
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


def _names(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(value)


def projects_from_document(document: object) -> Mapping[str, ProjectTargeting]:
    """The projects table of PROJECTS: `{"<project>": {"environments": [...], "accounts":
    {"<env>": ["<12 digits>", ...]}}}` (accounts optional)."""
    if not isinstance(document, dict):
        raise ValueError("must map each project name to its environments and accounts")
    projects: dict[str, ProjectTargeting] = {}
    for name, body in document.items():
        if not isinstance(body, dict) or "environments" not in body:
            raise ValueError(f"project {name!r} lacks its environments list")
        accounts = body.get("accounts", {})
        if not isinstance(accounts, dict):
            raise ValueError(f"project {name!r}: accounts must map environments to account ids")
        listed = {env: _names(ids, f"{name}.accounts.{env}") for env, ids in accounts.items()}
        bad = [item for ids in listed.values() for item in ids if not is_account_id(item)]
        if bad:
            raise ValueError(f"project {name!r}: {bad[0]!r} is not a 12-digit AWS account id")
        projects[name] = ProjectTargeting(
            name=name,
            environments=_names(body["environments"], f"{name}.environments"),
            accounts=MappingProxyType(listed),
        )
    return MappingProxyType(projects)


def projects_document(projects: Mapping[str, ProjectTargeting]) -> dict[str, Any]:
    return {
        name: {
            "environments": list(project.environments),
            "accounts": {env: list(ids) for env, ids in project.accounts.items()},
        }
        for name, project in projects.items()
    }


def _percentage(text: str) -> int:
    value = whole_number(text)
    if value > 100:
        raise ValueError(f"{text!r} is over 100")
    return value


@dataclass(frozen=True)
class TargetingSettings:
    """What the placement policy needs from the config, and how the reconciler calls
    CloudFormation. The org stack builds it with `from_config`."""

    management_account_id: str = from_variable("MANAGEMENT_ACCOUNT_ID", parse=account_id)
    # The StackSets' deployment regions, in the config's order.
    regions: tuple[str, ...] = from_variable("ORGANIZATION_REGIONS", parse=region_list)
    projects: Mapping[str, ProjectTargeting] = from_variable(
        "PROJECTS",
        parse=json_document(projects_from_document),
        render=json_text(projects_document),
    )
    project_tag_key: str = from_variable("PROJECT_TAG_KEY", default=DEFAULT_PROJECT_TAG_KEY)
    environment_tag_key: str = from_variable(
        "ENVIRONMENT_TAG_KEY", default=DEFAULT_ENVIRONMENT_TAG_KEY
    )
    call_as: CallAs = from_variable("CALL_AS", parse=one_of(CALL_AS_VALUES), default="SELF")
    max_concurrent_percentage: int = from_variable(
        "MAX_CONCURRENT_PERCENTAGE", parse=_percentage, default=25
    )
    failure_tolerance_percentage: int = from_variable(
        "FAILURE_TOLERANCE_PERCENTAGE", parse=_percentage, default=10
    )
    max_wait_seconds: float = from_variable("MAX_WAIT_SECONDS", parse=number, default=300.0)
    poll_interval_seconds: float = from_variable(
        "POLL_INTERVAL_SECONDS", parse=number, default=15.0
    )

    @classmethod
    def from_config(cls, config: DsdashConfig, *, call_as: CallAs = "SELF") -> TargetingSettings:
        return cls(
            management_account_id=config.organization.management_account_id,
            regions=tuple(config.organization.regions),
            projects=MappingProxyType(
                {
                    name: ProjectTargeting(
                        name=name,
                        environments=tuple(project.environments),
                        accounts=MappingProxyType(
                            {env: tuple(ids) for env, ids in project.accounts.items()}
                        ),
                    )
                    for name, project in config.projects.items()
                }
            ),
            project_tag_key=config.organization.project_tag_key,
            environment_tag_key=config.organization.environment_tag_key,
            call_as=call_as,
        )

    def operation_preferences(self) -> dict[str, Any]:
        # SOFT_FAILURE_TOLERANCE keeps concurrency at MaxConcurrentPercentage even when some
        # accounts fail, instead of throttling to the failure tolerance
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html).
        return {
            "RegionConcurrencyType": "PARALLEL",
            "MaxConcurrentPercentage": self.max_concurrent_percentage,
            "FailureTolerancePercentage": self.failure_tolerance_percentage,
            "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
        }
