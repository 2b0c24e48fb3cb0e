"""Access to the hub's DynamoDB table: latest values, spoke registry, quarantine.

The key layout is `hub_stack.table_design`; this module (with `latest_values`, which builds the
per-spoke latest items) is the only code that builds items from it. Ingest, the CLI
(`dsdash status|query|dashboard`) and enrollment all go through `HubStore`, and every read is a
Query or a BatchGetItem of known keys (never a Scan), fully paginated.

Timestamps are stored in one canonical form, `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, always with
milliseconds), so that they compare in time order as plain strings; see `format_timestamp`.

Items and where they live:
- latest values: one item per spoke, PK `LATEST#<project>#<shard>`, SK `<env>#<account>#<region>`,
  one attribute per series (`hub_stack.runtime.latest_values`), written only when newer.
- spoke registry: PK `SPOKE`, SK account id.
- quarantine: PK `QUARANTINE#<day>`, SK `<ReceivedAt>#<SQS message id>`.

History is not here: it is Parquet in the history bucket (`contracts.history_table`), delivered by
`hub_stack.runtime.history_delivery` and read by the query layer (docs/architecture.md §7, "Hub
data plane (issue 10)"); `hub_stack.history_files` holds thin readers of those files for the
callers the query layer has not replaced yet (outside every Lambda bundle: pyarrow).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from contracts import history_table
from hub_stack import table_design
from hub_stack.runtime import latest_values
from hub_stack.runtime.latest_values import LatestItemContention, LatestValues, LatestWrite
from runtime_common.aws import client as aws_client

# The `as` aliases re-export epoch_seconds (ingest.py) and parse_timestamp (enrollment/) while
# those still import them from here; they belong to runtime_common.timestamps.
from runtime_common.timestamps import epoch_seconds as epoch_seconds  # noqa: PLC0414
from runtime_common.timestamps import format_timestamp
from runtime_common.timestamps import parse_timestamp as parse_timestamp  # noqa: PLC0414

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb.client import DynamoDBClient

# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
BATCH_GET_MAX_KEYS: Final = 100
# Attempts for one chunk's UnprocessedItems before giving up. The client's adaptive retries handle
# throttling *errors*; UnprocessedItems is a successful response, so botocore never retries it.
BATCH_WRITE_MAX_ATTEMPTS: Final = 8
BATCH_WRITE_BACKOFF_BASE_SECONDS: Final = 0.05
BATCH_WRITE_BACKOFF_CAP_SECONDS: Final = 5.0

# An item holds at most 400 KB (names and values, UTF-8). The raw event keeps well below that, so
# the quarantine item's other attributes always fit.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
QUARANTINE_RAW_EVENT_MAX_BYTES: Final = 300_000
QUARANTINE_REASON_MAX_CHARS: Final = 2_000
QUARANTINE_CLAIM_MAX_CHARS: Final = 256
QUARANTINE_EVENT_ID_MAX_CHARS: Final = 128
DEFAULT_QUARANTINE_DAYS: Final = 7

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class HubStoreError(Exception):
    """Base class for errors of the hub store."""


class InvalidSpokeStateError(HubStoreError, ValueError):
    """A spoke state change was asked with missing or invalid fields."""


class SpokeState(StrEnum):
    PENDING = "pending"
    ENROLLED = "enrolled"
    FAILED = "failed"
    OFFBOARDED = "offboarded"


def utf8_encodable(text: str) -> str:
    """`text`, with what UTF-8 cannot encode (lone surrogates) written as `\\udXXX` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """Cut `text` to at most `max_bytes` of UTF-8 without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode("utf-8", errors="ignore"), True


@dataclass(frozen=True)
class DatapointRecord:
    """One stored value of one series, as written to history and (if newest) to latest."""

    project_name: str
    environment: str
    metric_name: str
    value: Decimal
    unit: str
    dimensions: Mapping[str, str]
    metadata: Mapping[str, Any]
    account_id: str
    region: str
    extraction_date: str  # canonical, see format_timestamp
    schema_version: int
    event_id: str
    expires_at: int  # epoch seconds (the table's TTL attribute)

    def history_row(self, ingested_at: datetime) -> dict[str, Any]:
        """This datapoint as a row of the history table (what the delivery stream receives)."""
        return history_table.history_row(
            project=self.project_name,
            environment=self.environment,
            account_id=self.account_id,
            region=self.region,
            metric_name=self.metric_name,
            dimensions=self.dimensions,
            metric_value=float(self.value),
            unit=self.unit,
            extraction_time=parse_timestamp(self.extraction_date),
            event_id=self.event_id,
            schema_version=self.schema_version,
            ingested_at=ingested_at,
        )


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


@dataclass(frozen=True)
class QuarantineRecord:
    """One rejected event: why, and the raw event as received (truncated if huge)."""

    received_at: str  # canonical, see format_timestamp
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


def _records_of_latest_item(item: Mapping[str, Any]) -> list[DatapointRecord]:
    """The latest values one spoke item holds, one record per series, in series order."""
    return latest_values.records_of_item(item, DatapointRecord)


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _unprocessed_backoff(attempt: int) -> float:
    """Exponential backoff, as AWS asks for UnprocessedItems and UnprocessedKeys:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations
    """
    return float(
        min(BATCH_WRITE_BACKOFF_CAP_SECONDS, BATCH_WRITE_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    )


def _is_conditional_check_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class HubStore:
    """The hub table. Construct with the table name and an injectable session (or client)."""

    def __init__(
        self,
        table_name: str,
        session: boto3.Session | None = None,
        *,
        dynamodb_client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history_bucket: str | None = None,
    ) -> None:
        self.table_name = table_name
        self._session = session
        self._client: DynamoDBClient = (
            dynamodb_client if dynamodb_client is not None else aws_client(session, "dynamodb")
        )
        self._sleep = sleep
        self._clock = clock
        self._latest = LatestValues(self._client, table_name)
        # The history files' bucket, for the thin history readers; derived from the caller's
        # account and region (`contracts.history_table.history_bucket_name`) when not given.
        self._history_bucket_name = history_bucket

    # ----------------------------------------------------------------- datapoints and latest

    def record_latest(
        self,
        datapoints: Sequence[DatapointRecord],
        *,
        seen_at: datetime | None = None,
        errors: Sequence[SpokeErrorEntry] = (),
    ) -> LatestWrite:
        """Move one event's datapoints (one spoke, one extraction) and the spoke's freshness
        (received `seen_at`, default now; the extraction's `errors`) into the spoke's latest item:
        one conditional UpdateItem in steady state (`latest_values`). Raises
        `latest_values.ConflictingReplay`, having written nothing, on a conflicting replay."""
        try:
            return self._latest.record_event(
                datapoints,
                seen_at=seen_at if seen_at is not None else self._clock(),
                errors=[(e.metric_name, e.error_code, e.message) for e in errors],
            )
        except LatestItemContention as contention:
            raise HubStoreError(str(contention)) from contention

    def put_latest(self, datapoint: DatapointRecord) -> bool:
        """Make `datapoint` the latest value of its series if it is newer than the stored one.

        Returns False when the stored value is as new or newer (a late or replayed event): that
        is the expected outcome of the condition, not an error.
        """
        return self.record_latest([datapoint]).moved_forward > 0

    def latest_values(self, project_name: str) -> list[DatapointRecord]:
        """The latest value of every series (and spoke) of one project: one paginated Query per
        shard of the project (`table_design.LATEST_SHARDS`), whatever the history length."""
        records: list[DatapointRecord] = []
        for partition in table_design.latest_partition_keys(project_name):
            items = self._query(
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": table_design.PARTITION_KEY},
                ExpressionAttributeValues={":pk": {"S": partition}},
            )
            for item in items:
                records.extend(_records_of_latest_item(item))
        return records

    def spokes_with_freshness(self) -> list[SpokeRecord]:
        """The registry's spokes, with their freshness read from their latest items (the newest
        of a spoke's regions): the registry Query plus LATEST_SHARDS Queries per project."""
        spokes = self.list_spokes()
        fresh = self._latest.freshness(s.project_name for s in spokes if s.project_name)
        return [
            spoke
            if (found := fresh.get(spoke.account_id)) is None
            else replace(
                spoke,
                last_seen_at=found.seen_at,
                last_extraction_date=found.extraction_date,
                last_errors=tuple(SpokeErrorEntry(*entry) for entry in found.errors),
            )
            for spoke in spokes
        ]

    def known_projects(self, extra_projects: Sequence[str] = ()) -> list[str]:
        """Projects named by any registry item (any state: history outlives enrollment)."""
        names = {spoke.project_name for spoke in self.list_spokes() if spoke.project_name}
        return sorted(names.union(extra_projects))

    def latest_values_all(
        self, extra_projects: Sequence[str] = ()
    ) -> dict[str, list[DatapointRecord]]:
        """Latest values of every known project: LATEST_SHARDS Queries per project, never a Scan.

        `extra_projects` adds names the registry may not know (for example from the config).
        """
        return {
            project: self.latest_values(project) for project in self.known_projects(extra_projects)
        }

    # ---------------------------------------------------------------- where history lives

    @property
    def session(self) -> boto3.Session | None:
        """The session the store was built from (None: the default session)."""
        return self._session

    def history_bucket(self) -> str:
        """The history files' bucket (`contracts.history_table.history_bucket_name` of the
        caller's account and the table's region, unless given), for the history readers
        (`hub_stack.history_files`): history is not in this table."""
        if self._history_bucket_name is None:
            identity = aws_client(self._session, "sts").get_caller_identity()
            region = self._client.meta.region_name
            self._history_bucket_name = history_table.history_bucket_name(
                identity["Account"], region
            )
        return self._history_bucket_name

    # ------------------------------------------------------------------------ spoke registry

    def list_spokes(self) -> list[SpokeRecord]:
        """Every spoke of the registry, in any state (one paginated, consistent Query)."""
        items = self._query(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": table_design.PARTITION_KEY},
            ExpressionAttributeValues={":pk": {"S": table_design.SPOKE_REGISTRY_PARTITION}},
            ConsistentRead=True,
        )
        return [SpokeRecord.from_item(item) for item in items]

    def get_spoke(self, account_id: str) -> SpokeRecord | None:
        response = self._client.get_item(
            TableName=self.table_name,
            Key=self._spoke_key(account_id),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else SpokeRecord.from_item(_deserialize(item))

    def get_spokes(self, account_ids: Iterable[str]) -> dict[str, SpokeRecord]:
        """The registry items of these accounts (those that exist): BatchGetItem of the distinct
        ids, 100 keys per call, strongly consistent, only UnprocessedKeys retried, with backoff.
        Ingest reads the senders of its batch this way, never the whole registry."""
        distinct = list(dict.fromkeys(account_ids))
        found: dict[str, SpokeRecord] = {}
        for start in range(0, len(distinct), BATCH_GET_MAX_KEYS):
            chunk = distinct[start : start + BATCH_GET_MAX_KEYS]
            for item in self._batch_get_chunk([self._spoke_key(account) for account in chunk]):
                spoke = SpokeRecord.from_item(item)
                found[spoke.account_id] = spoke
        return found

    def _batch_get_chunk(self, keys: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        request: Any = {"Keys": list(keys), "ConsistentRead": True}
        for attempt in range(BATCH_WRITE_MAX_ATTEMPTS):
            if attempt:
                self._sleep(_unprocessed_backoff(attempt))
            response = self._client.batch_get_item(RequestItems={self.table_name: request})
            for item in response.get("Responses", {}).get(self.table_name, []):
                yield _deserialize(item)
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name)
            if not unprocessed or not unprocessed.get("Keys"):
                return
            request = dict(unprocessed)
        raise HubStoreError(
            f"BatchGetItem on table {self.table_name} still returned UnprocessedKeys after "
            f"{BATCH_WRITE_MAX_ATTEMPTS} attempts"
        )

    def enrolled_accounts(self) -> dict[str, tuple[str, str]]:
        """Account id -> (project, environment) of every spoke whose state is `enrolled`."""
        return {
            spoke.account_id: (spoke.project_name, spoke.environment)
            for spoke in self.list_spokes()
            if spoke.state is SpokeState.ENROLLED
            and spoke.project_name is not None
            and spoke.environment is not None
        }

    def set_spoke_state(
        self,
        account_id: str,
        state: SpokeState | str,
        *,
        reason: str = "",
        project_name: str | None = None,
        environment: str | None = None,
    ) -> SpokeRecord:
        """Create or update a spoke's registry item; freshness attributes are left untouched.

        `pending` and `enrolled` need the project and environment; `failed` and `offboarded`
        keep the stored ones when none are given.
        """
        try:
            new_state = SpokeState(state)
        except ValueError:
            known = ", ".join(s.value for s in SpokeState)
            raise InvalidSpokeStateError(
                f"unknown spoke state {state!r} for account {account_id}; known: {known}"
            ) from None
        needs_scope = new_state in (SpokeState.PENDING, SpokeState.ENROLLED)
        if needs_scope and (not project_name or not environment):
            raise InvalidSpokeStateError(
                f"state {new_state.value} for account {account_id} needs a project and an "
                f"environment (got project={project_name!r}, environment={environment!r})"
            )
        assignments = {
            "AccountId": account_id,
            "State": new_state.value,
            "Reason": reason,
            "UpdatedAt": format_timestamp(self._clock()),
        }
        if project_name is not None:
            assignments["ProjectName"] = project_name
        if environment is not None:
            assignments["Environment"] = environment
        names = {f"#a{index}": name for index, name in enumerate(assignments)}
        values = {
            f":a{index}": _serializer.serialize(value)
            for index, value in enumerate(assignments.values())
        }
        update = "SET " + ", ".join(f"#a{index} = :a{index}" for index in range(len(assignments)))
        response = self._client.update_item(
            TableName=self.table_name,
            Key=self._spoke_key(account_id),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return SpokeRecord.from_item(_deserialize(response["Attributes"]))

    def record_spoke_freshness(
        self,
        account_id: str,
        *,
        extraction_date: str,
        errors: Sequence[SpokeErrorEntry],
        seen_at: datetime,
    ) -> bool:
        """Record that an accepted extraction of `account_id` arrived; only moves forward.

        A newer extraction replaces LastSeenAt, LastExtractionDate and LastErrors. An older one
        changes nothing. Another part of the same (split) extraction adds its errors to
        LastErrors, without duplicates, so replaying any part changes nothing. Returns whether
        the item changed. The item must exist (ingest only accepts registered spokes), so a
        freshness update never creates a registry entry.
        """
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._spoke_key(account_id),
                UpdateExpression=("SET #seen = :seen, #last = :extraction, #errors = :errors"),
                ConditionExpression=(
                    "attribute_exists(#pk) AND (attribute_not_exists(#last) OR #last < :extraction)"
                ),
                ExpressionAttributeNames={
                    "#pk": table_design.PARTITION_KEY,
                    "#seen": "LastSeenAt",
                    "#last": "LastExtractionDate",
                    "#errors": "LastErrors",
                },
                ExpressionAttributeValues={
                    ":seen": {"S": format_timestamp(seen_at)},
                    ":extraction": {"S": extraction_date},
                    ":errors": _serializer.serialize([e.to_attribute() for e in errors]),
                },
            )
        except ClientError as error:
            if not _is_conditional_check_failure(error):
                raise
        else:
            return True
        return bool(errors) and self._merge_errors_of_same_extraction(
            account_id, extraction_date, errors
        )

    def _merge_errors_of_same_extraction(
        self, account_id: str, extraction_date: str, errors: Sequence[SpokeErrorEntry]
    ) -> bool:
        # Optimistic concurrency on the list's size: two parts of one extraction may arrive in
        # the same second on two Lambda instances. Each retry rereads the item.
        for _ in range(BATCH_WRITE_MAX_ATTEMPTS):
            spoke = self.get_spoke(account_id)
            if spoke is None or spoke.last_extraction_date != extraction_date:
                return False
            merged = list(spoke.last_errors)
            merged.extend(e for e in dict.fromkeys(errors) if e not in spoke.last_errors)
            if len(merged) == len(spoke.last_errors):
                return False
            try:
                self._client.update_item(
                    TableName=self.table_name,
                    Key=self._spoke_key(account_id),
                    UpdateExpression="SET #errors = :merged",
                    ConditionExpression="#last = :extraction AND size(#errors) = :known",
                    ExpressionAttributeNames={
                        "#last": "LastExtractionDate",
                        "#errors": "LastErrors",
                    },
                    ExpressionAttributeValues={
                        ":merged": _serializer.serialize([e.to_attribute() for e in merged]),
                        ":extraction": {"S": extraction_date},
                        ":known": {"N": str(len(spoke.last_errors))},
                    },
                )
            except ClientError as error:
                if _is_conditional_check_failure(error):
                    continue
                raise
            return True
        raise HubStoreError(
            f"could not merge the errors of extraction {extraction_date} into spoke {account_id}: "
            f"the item kept changing during {BATCH_WRITE_MAX_ATTEMPTS} attempts"
        )

    @staticmethod
    def _spoke_key(account_id: str) -> dict[str, Any]:
        return {
            table_design.PARTITION_KEY: {"S": table_design.SPOKE_REGISTRY_PARTITION},
            table_design.SORT_KEY: {"S": table_design.spoke_sort_key(account_id)},
        }

    # ---------------------------------------------------------------------------- quarantine

    def quarantine(self, record: QuarantineRecord) -> None:
        """Store a rejected event. The key is (received-at, SQS message id), both unchanged when
        SQS redelivers a message, so a redelivery rewrites the same item instead of adding one."""
        self._client.put_item(TableName=self.table_name, Item=_serialize(record.item()))

    def recent_quarantine(
        self, limit: int = 50, *, days: int = DEFAULT_QUARANTINE_DAYS
    ) -> list[QuarantineRecord]:
        """The newest quarantined events of the last `days` days (UTC), newest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        records: list[QuarantineRecord] = []
        for day in self._recent_days(days):
            remaining = limit - len(records)
            items = self._query(
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

    def count_quarantine(self, *, days: int = DEFAULT_QUARANTINE_DAYS) -> int:
        """How many events were quarantined in the last `days` days (UTC)."""
        total = 0
        for day in self._recent_days(days):
            for page in self._query_pages(
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

    # ------------------------------------------------------------------------------- paging

    def _query_pages(self, **arguments: Any) -> Iterator[dict[str, Any]]:
        """Every page of a Query. A page may be empty while LastEvaluatedKey remains (filters
        apply after the 1 MB page is read), so paging continues until the key is gone.
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html
        """
        request = {"TableName": self.table_name, **arguments}
        while True:
            page: dict[str, Any] = dict(self._client.query(**request))
            yield page
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    def _query(self, *, max_items: int | None = None, **arguments: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._query_pages(**arguments):
            items.extend(_deserialize(item) for item in page.get("Items", []))
            if max_items is not None and len(items) >= max_items:
                return items[:max_items]
        return items
