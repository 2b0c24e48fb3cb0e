"""What the spoke registry holds: a spoke's enrollment state, as read back (its freshness is in
its latest items: `hub_stack.runtime.store.HubStore.spokes_with_freshness`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hub_stack import table_design
from hub_stack.table_access import HubStoreError


class InvalidSpokeStateError(HubStoreError, ValueError):
    """A spoke state change was asked with missing or invalid fields."""


class SpokeState(StrEnum):
    PENDING = "pending"
    ENROLLED = "enrolled"
    FAILED = "failed"
    OFFBOARDED = "offboarded"


@dataclass(frozen=True)
class SpokeRecord:
    """One spoke account in the registry, with its enrollment state."""

    account_id: str
    project_name: str | None
    environment: str | None
    state: SpokeState
    reason: str
    updated_at: str | None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> SpokeRecord:
        return cls(
            account_id=item.get("AccountId", item[table_design.SORT_KEY]),
            project_name=item.get("ProjectName"),
            environment=item.get("Environment"),
            state=SpokeState(item["State"]),
            reason=item.get("Reason", ""),
            updated_at=item.get("UpdatedAt"),
        )
