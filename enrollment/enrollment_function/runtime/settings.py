"""The enrollment function's settings, read from its environment with `runtime_common.settings`
(the org stack writes it from the same class with `environment_of`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contracts import HUB_TABLE_NAME
from enrollment.placement.targeting import TargetingSettings
from runtime_common.identifiers import account_id, region_name, region_names
from runtime_common.settings import from_variable, nested, number, whole_number

Sleep = Callable[[float], None]


def _hub_name(text: str) -> str:
    if "/" in text:
        raise ValueError(f"{text!r} must be a name without '/'")
    return text


def _attempts(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1")
    return value


def _nonempty_region_names(text: str) -> tuple[str, ...]:
    names = region_names(text)
    if not names:
        raise ValueError("lists no region")
    return names


@dataclass(frozen=True)
class EnrollmentSettings:
    """Where the hub is and how hard to try; each field names its environment variable."""

    hub_account_id: str = from_variable("HUB_ACCOUNT_ID", parse=account_id)
    hub_region: str = from_variable("HUB_REGION", parse=region_name)
    hub_name: str = from_variable("HUB_NAME", parse=_hub_name)
    spoke_regions: tuple[str, ...] = from_variable("SPOKE_REGIONS", parse=_nonempty_region_names)
    # The config the reconciler works from (projects, environments, tag keys, CallAs).
    targeting: TargetingSettings = nested(TargetingSettings)
    hub_table_name: str = from_variable("HUB_TABLE_NAME", default=HUB_TABLE_NAME)
    max_attempts: int = from_variable("MAX_ATTEMPTS", parse=_attempts, default=5)
    backoff_base_seconds: float = from_variable("BACKOFF_BASE_SECONDS", parse=number, default=2.0)
    backoff_max_seconds: float = from_variable("BACKOFF_MAX_SECONDS", parse=number, default=60.0)
    # Where the reconciler function runs; None: the enrollment function's own region.
    reconciler_region: str | None = from_variable(
        "RECONCILER_REGION", parse=region_name, default=None
    )
    # The hub's bus policy mode (config hub.bus_policy), None when unknown. In "organization"
    # mode the hub keeps nothing per spoke: its bus policy is the hub stack's one organization
    # statement and spokes subscribe to its refresh topic, so enrollment skips the hub's EBPut
    # and EBRule (two invocations and their calls per account). Unknown: both run, as before.
    hub_bus_policy: str | None = from_variable("HUB_BUS_POLICY", default=None)

    def backoff_seconds(self, failed_attempt: int) -> float:
        """Pause after the n-th failed attempt: base, 2 x base, 4 x base, ... capped."""
        return float(
            min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (failed_attempt - 1))
        )
