"""What the placement policy and the reconciler read from the config: the projects, their
environments and listed accounts, the OU tag keys, and how the reconciler calls CloudFormation.

The org stack passes it to the reconciler and the enrollment function as the `CONFIG` environment
variable (`to_config_json`), with `CALL_AS` (SELF in the management account, DELEGATED_ADMIN in a
StackSets delegated administrator).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from config.model import DEFAULT_ENVIRONMENT_TAG_KEY, DEFAULT_PROJECT_TAG_KEY, DsdashConfig

CallAs = Literal["SELF", "DELEGATED_ADMIN"]


class TargetingSettingsError(ValueError):
    """The CONFIG or CALL_AS environment variable is missing or malformed."""


@dataclass(frozen=True)
class ProjectTargeting:
    name: str
    environments: tuple[str, ...]
    # Accounts enrolled explicitly, by environment (config `projects.<p>.accounts`).
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class TargetingSettings:
    """What the placement policy needs from the config, and how the reconciler calls
    CloudFormation.

    The CDK stack sets `CONFIG` to `to_config_json()` of `from_config(config)` and `CALL_AS` to
    SELF (management account) or DELEGATED_ADMIN.
    """

    management_account_id: str
    regions: tuple[str, ...]
    projects: Mapping[str, ProjectTargeting]
    project_tag_key: str = DEFAULT_PROJECT_TAG_KEY
    environment_tag_key: str = DEFAULT_ENVIRONMENT_TAG_KEY
    call_as: CallAs = "SELF"
    max_concurrent_percentage: int = 25
    failure_tolerance_percentage: int = 10
    max_wait_seconds: float = 300.0
    poll_interval_seconds: float = 15.0

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

    def to_config_json(self) -> str:
        """The `CONFIG` environment value (everything except CALL_AS)."""
        return json.dumps(
            {
                "management_account_id": self.management_account_id,
                "regions": list(self.regions),
                "project_tag_key": self.project_tag_key,
                "environment_tag_key": self.environment_tag_key,
                "max_concurrent_percentage": self.max_concurrent_percentage,
                "failure_tolerance_percentage": self.failure_tolerance_percentage,
                "max_wait_seconds": self.max_wait_seconds,
                "poll_interval_seconds": self.poll_interval_seconds,
                "projects": {
                    name: {
                        "environments": list(project.environments),
                        "accounts": {env: list(ids) for env, ids in project.accounts.items()},
                    }
                    for name, project in self.projects.items()
                },
            },
            sort_keys=True,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TargetingSettings:
        env = os.environ if environ is None else environ
        raw = env.get("CONFIG")
        if not raw:
            raise TargetingSettingsError("environment variable CONFIG is not set")
        call_as = env.get("CALL_AS", "SELF")
        if call_as not in ("SELF", "DELEGATED_ADMIN"):
            raise TargetingSettingsError(
                f"CALL_AS must be SELF or DELEGATED_ADMIN, got {call_as!r}"
            )
        try:
            document = json.loads(raw)
            projects = {
                name: ProjectTargeting(
                    name=name,
                    environments=tuple(body["environments"]),
                    accounts=MappingProxyType(
                        {e: tuple(ids) for e, ids in body.get("accounts", {}).items()}
                    ),
                )
                for name, body in document["projects"].items()
            }
            optional = {
                key: document[key]
                for key in (
                    "project_tag_key",
                    "environment_tag_key",
                    "max_concurrent_percentage",
                    "failure_tolerance_percentage",
                    "max_wait_seconds",
                    "poll_interval_seconds",
                )
                if key in document
            }
            return cls(
                management_account_id=str(document["management_account_id"]),
                regions=tuple(document["regions"]),
                projects=MappingProxyType(projects),
                call_as=cast(CallAs, call_as),
                **optional,
            )
        except json.JSONDecodeError as error:
            raise TargetingSettingsError(f"CONFIG is not valid JSON: {error}") from error
        except (KeyError, TypeError, AttributeError) as error:
            raise TargetingSettingsError(
                f"CONFIG lacks or mistypes {error}; expected keys management_account_id, regions, "
                "projects.<name>.environments"
            ) from error

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
