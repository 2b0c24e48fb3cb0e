"""Why the hub refuses a metric event: the reason codes, the event's claims, the exception.

Every check of `hub_stack.ingest.runtime.event_validation` (and its steps in `storable_values` and
`event_meaning`, the sample's dialect in `sample_compatibility`) raises `EventRejected` with a
`RejectionCode`, a human reason and whatever the event claimed, which the quarantine record
keeps (docs/architecture.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RejectionCode(StrEnum):
    """Why an event was quarantined. Stable: the CLI and operators filter on these."""

    INVALID_JSON = "InvalidJson"
    NOT_A_METRIC_EVENT = "NotAMetricEvent"
    INVALID_ENVELOPE = "InvalidEnvelope"
    UNKNOWN_SCHEMA_VERSION = "UnknownSchemaVersion"
    SCHEMA_VIOLATION = "SchemaViolation"
    NON_FINITE_VALUE = "NonFiniteValue"
    NON_NUMERIC_VALUE = "NonNumericValue"
    VALUE_OUT_OF_RANGE = "ValueOutOfRange"
    STRING_TOO_LONG = "StringTooLong"
    UNENCODABLE_STRING = "UnencodableString"
    NESTING_TOO_DEEP = "NestingTooDeep"
    TOO_MANY_DIMENSIONS = "TooManyDimensions"
    KEY_TOO_LONG = "KeyTooLong"
    DUPLICATE_SERIES = "DuplicateSeries"
    TIMESTAMP_IN_FUTURE = "TimestampInFuture"
    TIMESTAMP_TOO_OLD = "TimestampTooOld"
    ACCOUNT_MISMATCH = "AccountMismatch"
    UNKNOWN_REGION = "UnknownRegion"
    REGION_MISMATCH = "RegionMismatch"
    UNKNOWN_METRIC = "UnknownMetric"
    UNIT_MISMATCH = "UnitMismatch"
    METRIC_VALUE_OUT_OF_RANGE = "MetricValueOutOfRange"
    CONFLICTING_REPLAY = "ConflictingReplay"
    SENDER_NOT_ENROLLED = "SenderNotEnrolled"
    SENDER_ENROLLED_ELSEWHERE = "SenderEnrolledElsewhere"
    UNKNOWN_PROJECT = "UnknownProject"


@dataclass
class Claims:
    """What an event claims about itself, as far as it could be read; kept in quarantine."""

    event_id: str | None = None
    account_id: str | None = None
    project_name: str | None = None
    environment: str | None = None


class EventRejected(Exception):
    """The event is refused; it must be quarantined, not retried."""

    def __init__(self, code: RejectionCode, reason: str, claims: Claims) -> None:
        self.code = code
        self.reason = reason
        self.claims = claims
        super().__init__(f"{code.value}: {reason}")


def shortened(value: Any, limit: int = 80) -> str:
    """`value` for a reason text: a sender's long string is cut, with its length said."""
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
