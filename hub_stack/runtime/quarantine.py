"""The quarantine: events ingest refused, each with its reason code and the raw event as received
(bounded), under PK `QUARANTINE#<day>`, SK `<ReceivedAt>#<SQS message id>` for a retention of
days (the table's TTL). Nothing refused is dropped silently (docs/architecture.md §2, "Ingest")."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from hub_stack import table_design
from hub_stack.runtime.utf8_text import truncate_utf8, utf8_encodable
from hub_stack.table_access import query_items, query_pages, serialize
from runtime_common.aws import client as aws_client
from runtime_common.timestamps import epoch_seconds, format_timestamp

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb.client import DynamoDBClient

# An item holds at most 400 KB (names and values, UTF-8). The raw event keeps well below that, so
# the quarantine item's other attributes always fit.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
QUARANTINE_RAW_EVENT_MAX_BYTES: Final = 300_000
QUARANTINE_REASON_MAX_CHARS: Final = 2_000
QUARANTINE_CLAIM_MAX_CHARS: Final = 256
QUARANTINE_EVENT_ID_MAX_CHARS: Final = 128
DEFAULT_QUARANTINE_DAYS: Final = 7


@dataclass(frozen=True)
class QuarantineRecord:
    """One rejected event: why, and the raw event as received (truncated if huge)."""

    received_at: str  # canonical: runtime_common.timestamps.format_timestamp
    event_id: str
    reason_code: str
    reason: str
    raw_event: str
    raw_event_truncated: bool
    raw_event_bytes: int
    message_id: str
    claimed_account_id: str | None
    claimed_project_name: str | None
    claimed_environment: str | None
    expires_at: int

    @classmethod
    def build(
        cls,
        *,
        received_at: datetime,
        event_id: str,
        reason_code: str,
        reason: str,
        raw_event: str,
        message_id: str,
        claimed_account_id: str | None,
        claimed_project_name: str | None,
        claimed_environment: str | None,
        retention_days: int,
    ) -> QuarantineRecord:
        """Bound every attacker-controlled field so the item always fits DynamoDB's limits, and
        escape what UTF-8 cannot encode (a lone surrogate), so the quarantine write itself never
        fails on the event it records."""
        encodable_raw = utf8_encodable(raw_event)
        stored_raw, truncated = truncate_utf8(encodable_raw, QUARANTINE_RAW_EVENT_MAX_BYTES)
        return cls(
            received_at=format_timestamp(received_at),
            event_id=utf8_encodable(event_id[:QUARANTINE_EVENT_ID_MAX_CHARS]),
            reason_code=reason_code,
            reason=utf8_encodable(reason[:QUARANTINE_REASON_MAX_CHARS]),
            raw_event=stored_raw,
            raw_event_truncated=truncated,
            raw_event_bytes=len(encodable_raw.encode("utf-8")),
            message_id=utf8_encodable(message_id[:QUARANTINE_EVENT_ID_MAX_CHARS]),
            claimed_account_id=_bounded(claimed_account_id),
            claimed_project_name=_bounded(claimed_project_name),
            claimed_environment=_bounded(claimed_environment),
            expires_at=epoch_seconds(received_at + timedelta(days=retention_days)),
        )

    def item(self) -> dict[str, Any]:
        day = self.received_at[:10]
        item: dict[str, Any] = {
            table_design.PARTITION_KEY: table_design.quarantine_partition_key(day),
            # The SQS message id, not the event id: a redelivered message keeps its id (so its
            # quarantine item is rewritten, not duplicated), while two messages never share one,
            # even when they carry the same event id (EventBridge delivers at least once).
            table_design.SORT_KEY: table_design.quarantine_sort_key(
                self.received_at, self.message_id
            ),
            "ReceivedAt": self.received_at,
            "EventId": self.event_id,
            "ReasonCode": self.reason_code,
            "Reason": self.reason,
            "RawEvent": self.raw_event,
            "RawEventTruncated": self.raw_event_truncated,
            "RawEventBytes": self.raw_event_bytes,
            "MessageId": self.message_id,
            table_design.TTL_ATTRIBUTE: self.expires_at,
        }
        optional = {
            "ClaimedAccountId": self.claimed_account_id,
            "ClaimedProjectName": self.claimed_project_name,
            "ClaimedEnvironment": self.claimed_environment,
        }
        item.update({name: value for name, value in optional.items() if value is not None})
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> QuarantineRecord:
        return cls(
            received_at=item["ReceivedAt"],
            event_id=item["EventId"],
            reason_code=item["ReasonCode"],
            reason=item["Reason"],
            raw_event=item["RawEvent"],
            raw_event_truncated=bool(item["RawEventTruncated"]),
            raw_event_bytes=int(item["RawEventBytes"]),
            message_id=item["MessageId"],
            claimed_account_id=item.get("ClaimedAccountId"),
            claimed_project_name=item.get("ClaimedProjectName"),
            claimed_environment=item.get("ClaimedEnvironment"),
            expires_at=int(item[table_design.TTL_ATTRIBUTE]),
        )


def _bounded(value: str | None) -> str | None:
    return None if value is None else utf8_encodable(value[:QUARANTINE_CLAIM_MAX_CHARS])


class Quarantine:
    """The quarantine items of the hub table. Construct with the table name and an injectable
    session (or client); `clock` decides which days are recent."""

    def __init__(
        self,
        table_name: str,
        session: boto3.Session | None = None,
        *,
        dynamodb_client: DynamoDBClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table_name = table_name
        self._client: DynamoDBClient = (
            dynamodb_client if dynamodb_client is not None else aws_client(session, "dynamodb")
        )
        self._clock = clock

    def add(self, record: QuarantineRecord) -> None:
        """Store a rejected event. The key is (received-at, SQS message id), both unchanged when
        SQS redelivers a message, so a redelivery rewrites the same item instead of adding one."""
        self._client.put_item(TableName=self.table_name, Item=serialize(record.item()))

    def recent(
        self, limit: int = 50, *, days: int = DEFAULT_QUARANTINE_DAYS
    ) -> list[QuarantineRecord]:
        """The newest quarantined events of the last `days` days (UTC), newest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        records: list[QuarantineRecord] = []
        for day in self._recent_days(days):
            remaining = limit - len(records)
            items = query_items(
                self._client,
                self.table_name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": table_design.PARTITION_KEY},
                ExpressionAttributeValues={
                    ":pk": {"S": table_design.quarantine_partition_key(day)}
                },
                ScanIndexForward=False,
                max_items=remaining,
            )
            records.extend(QuarantineRecord.from_item(item) for item in items)
            if len(records) >= limit:
                break
        return records[:limit]

    def count(self, *, days: int = DEFAULT_QUARANTINE_DAYS) -> int:
        """How many events were quarantined in the last `days` days (UTC)."""
        total = 0
        for day in self._recent_days(days):
            for page in query_pages(
                self._client,
                self.table_name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": table_design.PARTITION_KEY},
                ExpressionAttributeValues={
                    ":pk": {"S": table_design.quarantine_partition_key(day)}
                },
                Select="COUNT",
            ):
                total += int(page.get("Count", 0))
        return total

    def _recent_days(self, days: int) -> Iterator[str]:
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        today = self._clock().astimezone(UTC).date()
        for offset in range(days):
            yield (today - timedelta(days=offset)).isoformat()
