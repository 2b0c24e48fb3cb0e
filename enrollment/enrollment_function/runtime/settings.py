"""The enrollment function's settings, read from its environment (the org stack sets them)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aws_lambda_powertools import Logger

from contracts import HUB_TABLE_NAME
from enrollment.enrollment_function.runtime.enrollment_errors import EnrollmentSettingsError
from enrollment.placement.targeting import TargetingSettings, TargetingSettingsError

logger = Logger(service="dsdash-org-enrollment")


Sleep = Callable[[float], None]

ACCOUNT_ID_PATTERN: Final = re.compile(r"^\d{12}$")
REGION_PATTERN: Final = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@dataclass(frozen=True)
class EnrollmentSettings:
    """Where the hub is and how hard to try. See `from_env` for the environment variables."""

    hub_account_id: str
    hub_region: str
    hub_name: str
    spoke_regions: tuple[str, ...]
    # The config the reconciler works from (projects, environments, tag keys, CallAs).
    targeting: TargetingSettings
    hub_table_name: str = HUB_TABLE_NAME
    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    # Where the reconciler function runs; None: the enrollment function's own region.
    reconciler_region: str | None = None
    # The hub's bus policy mode (config hub.bus_policy), None when unknown. In "organization"
    # mode the hub keeps nothing per spoke: its bus policy is the hub stack's one organization
    # statement and spokes subscribe to its refresh topic, so enrollment skips the hub's EBPut
    # and EBRule (two invocations and their calls per account). Unknown: both run, as before.
    hub_bus_policy: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not ACCOUNT_ID_PATTERN.match(self.hub_account_id):
            problems.append(f"HUB_ACCOUNT_ID {self.hub_account_id!r} is not a 12-digit account id")
        if not REGION_PATTERN.match(self.hub_region):
            problems.append(f"HUB_REGION {self.hub_region!r} is not an AWS region name")
        if not self.hub_name or "/" in self.hub_name:
            problems.append(f"HUB_NAME {self.hub_name!r} must be a non-empty name without '/'")
        if not self.hub_table_name:
            problems.append("HUB_TABLE_NAME is empty")
        if not self.spoke_regions:
            problems.append("SPOKE_REGIONS is empty")
        problems.extend(
            f"SPOKE_REGIONS entry {region!r} is not an AWS region name"
            for region in self.spoke_regions
            if not REGION_PATTERN.match(region)
        )
        if self.max_attempts < 1:
            problems.append(f"MAX_ATTEMPTS {self.max_attempts} must be at least 1")
        if self.backoff_base_seconds < 0 or self.backoff_max_seconds < 0:
            problems.append("BACKOFF_BASE_SECONDS and BACKOFF_MAX_SECONDS must not be negative")
        if problems:
            raise EnrollmentSettingsError(
                "invalid enrollment function settings: " + "; ".join(problems)
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EnrollmentSettings:
        """Read HUB_ACCOUNT_ID, HUB_REGION, HUB_NAME, SPOKE_REGIONS (comma-separated), CONFIG
        and CALL_AS (as the reconciler reads them), and the optional HUB_TABLE_NAME,
        MAX_ATTEMPTS, BACKOFF_BASE_SECONDS, BACKOFF_MAX_SECONDS, RECONCILER_REGION,
        HUB_BUS_POLICY."""
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise EnrollmentSettingsError(f"environment variable {name} is not set")
            return value

        def number(name: str, default: float) -> float:
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                return float(text)
            except ValueError:
                raise EnrollmentSettingsError(
                    f"environment variable {name} must be a number, got {text!r}"
                ) from None

        attempts = number("MAX_ATTEMPTS", 5)
        if attempts != int(attempts):
            raise EnrollmentSettingsError(f"MAX_ATTEMPTS must be a whole number, got {attempts}")
        try:
            targeting = TargetingSettings.from_env(env)
        except TargetingSettingsError as error:
            raise EnrollmentSettingsError(str(error)) from error
        regions = {item.strip() for item in required("SPOKE_REGIONS").split(",")}
        return cls(
            hub_account_id=required("HUB_ACCOUNT_ID"),
            hub_region=required("HUB_REGION"),
            hub_name=required("HUB_NAME"),
            spoke_regions=tuple(sorted(region for region in regions if region)),
            targeting=targeting,
            hub_table_name=env.get("HUB_TABLE_NAME", "").strip() or HUB_TABLE_NAME,
            max_attempts=int(attempts),
            backoff_base_seconds=number("BACKOFF_BASE_SECONDS", 2.0),
            backoff_max_seconds=number("BACKOFF_MAX_SECONDS", 60.0),
            reconciler_region=env.get("RECONCILER_REGION", "").strip() or None,
            hub_bus_policy=env.get("HUB_BUS_POLICY", "").strip() or None,
        )

    def backoff_seconds(self, failed_attempt: int) -> float:
        """Pause after the n-th failed attempt: base, 2 x base, 4 x base, ... capped."""
        return float(
            min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (failed_attempt - 1))
        )
