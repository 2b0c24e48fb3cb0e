"""The reconciler function's settings: the targeting the org stack writes into its environment
(`enrollment.placement.targeting`, read and written by `runtime_common.settings`)."""

from __future__ import annotations

from dataclasses import dataclass

from enrollment.placement.targeting import TargetingSettings
from runtime_common.settings import SettingsError, nested


class ReconcilerSettingsError(SettingsError):
    """An environment variable of the reconciler function is missing or malformed."""


@dataclass(frozen=True)
class ReconcilerSettings:
    targeting: TargetingSettings = nested(TargetingSettings)
