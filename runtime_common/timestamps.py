"""The one canonical timestamp form of dsdash: parse, format, epoch seconds.

Stored and sent times are `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, always with milliseconds). One fixed
width makes string order equal time order, which every hub sort key relies on
(docs/architecture.md §4, "Hub access patterns"). Naive datetimes are refused rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_timestamp(moment: datetime) -> str:
    """The canonical stored form: UTC, millisecond precision (truncated), `Z` suffix."""
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment!r} has no timezone; dsdash stores UTC times only")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """Parse a stored (or any ISO 8601 with offset) timestamp into an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone offset")
    return moment.astimezone(UTC)


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, as DynamoDB's TTL attribute wants them."""
    return int(moment.timestamp())
