"""What the spoke registry holds: a spoke's enrollment state and freshness, as read back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
class SpokeErrorEntry:
    """A metric that failed in a spoke's extraction (the v2 event's `Errors` entry)."""

    metric_name: str
    error_code: str
    message: str

    def to_attribute(self) -> dict[str, str]:
        return {
            "MetricName": self.metric_name,
            "ErrorCode": self.error_code,
            "Message": self.message,
        }

    @classmethod
    def from_attribute(cls, value: Mapping[str, Any]) -> SpokeErrorEntry:
        return cls(str(value["MetricName"]), str(value["ErrorCode"]), str(value["Message"]))


@dataclass(frozen=True)
class SpokeRecord:
    """One spoke account in the registry, with its enrollment state and freshness."""

    account_id: str
    project_name: str | None
    environment: str | None
    state: SpokeState
    reason: str
    updated_at: str | None
    last_seen_at: str | None = None
    last_extraction_date: str | None = None
    last_errors: tuple[SpokeErrorEntry, ...] = field(default_factory=tuple)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> SpokeRecord:
        return cls(
            account_id=item.get("AccountId", item[table_design.SORT_KEY]),
            project_name=item.get("ProjectName"),
            environment=item.get("Environment"),
            state=SpokeState(item["State"]),
            reason=item.get("Reason", ""),
            updated_at=item.get("UpdatedAt"),
            last_seen_at=item.get("LastSeenAt"),
            last_extraction_date=item.get("LastExtractionDate"),
            last_errors=tuple(
                SpokeErrorEntry.from_attribute(e) for e in item.get("LastErrors", [])
            ),
        )
