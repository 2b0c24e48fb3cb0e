"""Alert state and notification history in the hub table.

Items (key layout in `hub_stack.table_design`):
- state: PK `ALERT#<project>`, SK `<alert>#<env>#<account>#<region>#<dims>`; one per alert,
  spoke, region and series. It holds the state (`ok`/`alarm`), the current run of breaching
  extractions, and the extraction it last judged (`LastExtraction`). Every write is conditional
  on the item being exactly as it was read (absent, or the same `LastExtraction`), so two
  invocations judging the same series never both win, and a replayed or late extraction
  (`LastExtraction` already at or past it) changes nothing.
- notification log: PK `ALERTLOG#<day>`, SK `<at>#<project>#<state key>#<ALARM|OK>`, one per
  state change, keyed by the extraction that caused it so a retried write rewrites one item.

Attribute names avoid `MetricName` and `ExtractionDate`: items carrying both would appear in
the table's `ByMetricName` index, which is for datapoints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from hub_stack import table_design
from hub_stack.table_access import HubStoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# `dsdash alerts history` reads one partition per day; this bounds how far back one call goes.
MAX_HISTORY_DAYS: Final = 366

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class AlertState(StrEnum):
    OK = "ok"
    ALARM = "alarm"


class Transition(StrEnum):
    """What a notification announces: the alert started (ALARM) or recovered (OK)."""

    ALARM = "ALARM"
    OK = "OK"


@dataclass(frozen=True)
class AlertStateRecord:
    """The judged state of one alert for one spoke, region and series."""

    project: str
    alert_name: str
    environment: str
    account_id: str
    region: str
    metric: str
    dimensions: Mapping[str, str]
    state: AlertState
    breach_streak: int  # consecutive breaching extractions, up to the last judged one
    streak_started: str | None  # extraction date of the first breaching one of the streak
    since: str  # when the current state began (extraction date)
    last_extraction: str
    last_value: Decimal
    # A state change whose notification is not yet confirmed sent (see AlertEvaluator).
    pending: Transition | None = None
    expires_at: int | None = None

    @property
    def sort_key(self) -> str:
        return table_design.alert_state_sort_key(
            self.alert_name, self.environment, self.account_id, self.region, self.dimensions
        )

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            table_design.PARTITION_KEY: table_design.alert_state_partition_key(self.project),
            table_design.SORT_KEY: self.sort_key,
            "ProjectName": self.project,
            "AlertName": self.alert_name,
            "Environment": self.environment,
            "AccountId": self.account_id,
            "Region": self.region,
            "Metric": self.metric,
            "Dimensions": dict(self.dimensions),
            "State": self.state.value,
            "BreachStreak": self.breach_streak,
            "Since": self.since,
            "LastExtraction": self.last_extraction,
            "LastValue": self.last_value,
        }
        if self.streak_started is not None:
            item["StreakStarted"] = self.streak_started
        if self.pending is not None:
            item["Pending"] = self.pending.value
        if self.expires_at is not None:
            item[table_design.TTL_ATTRIBUTE] = self.expires_at
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AlertStateRecord:
        pending = item.get("Pending")
        expires_at = item.get(table_design.TTL_ATTRIBUTE)
        return cls(
            project=item["ProjectName"],
            alert_name=item["AlertName"],
            environment=item["Environment"],
            account_id=item["AccountId"],
            region=item["Region"],
            metric=item["Metric"],
            dimensions={str(k): str(v) for k, v in item.get("Dimensions", {}).items()},
            state=AlertState(item["State"]),
            breach_streak=int(item["BreachStreak"]),
            streak_started=item.get("StreakStarted"),
            since=item["Since"],
            last_extraction=item["LastExtraction"],
            last_value=Decimal(item["LastValue"]),
            pending=Transition(pending) if pending else None,
            expires_at=int(expires_at) if expires_at is not None else None,
        )


@dataclass(frozen=True)
class AlertNotificationRecord:
    """One notification the hub sent (or is sending): what `dsdash alerts history` lists."""

    at: str  # the extraction date that changed the state
    transition: Transition
    project: str
    alert_name: str
    environment: str
    account_id: str
    region: str
    metric: str
    dimensions: Mapping[str, str]
    value: Decimal
    comparison: str
    threshold: Decimal
    severity: str
    since: str
    message_id: str | None = None
    expires_at: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def state_sort_key(self) -> str:
        return table_design.alert_state_sort_key(
            self.alert_name, self.environment, self.account_id, self.region, self.dimensions
        )

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            table_design.PARTITION_KEY: table_design.alert_log_partition_key(self.at[:10]),
            table_design.SORT_KEY: table_design.alert_log_sort_key(
                self.at, self.state_sort_key(), self.project, self.transition.value
            ),
            "At": self.at,
            "Transition": self.transition.value,
            "ProjectName": self.project,
            "AlertName": self.alert_name,
            "Environment": self.environment,
            "AccountId": self.account_id,
            "Region": self.region,
            "Metric": self.metric,
            "Dimensions": dict(self.dimensions),
            "Value": self.value,
            "Comparison": self.comparison,
            "Threshold": self.threshold,
            "Severity": self.severity,
            "Since": self.since,
        }
        if self.message_id is not None:
            item["MessageId"] = self.message_id
        if self.expires_at is not None:
            item[table_design.TTL_ATTRIBUTE] = self.expires_at
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AlertNotificationRecord:
        expires_at = item.get(table_design.TTL_ATTRIBUTE)
        return cls(
            at=item["At"],
            transition=Transition(item["Transition"]),
            project=item["ProjectName"],
            alert_name=item["AlertName"],
            environment=item["Environment"],
            account_id=item["AccountId"],
            region=item["Region"],
            metric=item["Metric"],
            dimensions={str(k): str(v) for k, v in item.get("Dimensions", {}).items()},
            value=Decimal(item["Value"]),
            comparison=item["Comparison"],
            threshold=Decimal(item["Threshold"]),
            severity=item["Severity"],
            since=item["Since"],
            message_id=item.get("MessageId"),
            expires_at=int(expires_at) if expires_at is not None else None,
        )


class StateChangedMeanwhile(HubStoreError):
    """The state item changed between our read and our conditional write."""


class AlertStateStore:
    """Alert items of the hub table, through an injected DynamoDB client."""

    def __init__(self, table_name: str, dynamodb_client: DynamoDBClient) -> None:
        self.table_name = table_name
        self._client = dynamodb_client

    def get(self, project: str, sort_key: str) -> AlertStateRecord | None:
        response = self._client.get_item(
            TableName=self.table_name,
            Key=self._key(table_design.alert_state_partition_key(project), sort_key),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else AlertStateRecord.from_item(_deserialize(item))

    def replace(self, new: AlertStateRecord, *, previous: AlertStateRecord | None) -> None:
        """Write `new` only if the stored item is still `previous` (or still absent).

        Raises StateChangedMeanwhile when another writer got there first.
        """
        if previous is None:
            condition = "attribute_not_exists(#pk)"
            names = {"#pk": table_design.PARTITION_KEY}
            values: dict[str, Any] | None = None
        else:
            condition = "#last = :previous AND #streak = :streak"
            names = {"#last": "LastExtraction", "#streak": "BreachStreak"}
            values = {
                ":previous": {"S": previous.last_extraction},
                ":streak": {"N": str(previous.breach_streak)},
            }
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": _serialize(new.item()),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values is not None:
            arguments["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**arguments)
        except ClientError as error:
            if _is_conditional_check_failure(error):
                raise StateChangedMeanwhile(new.sort_key) from None
            raise

    def clear_pending(self, record: AlertStateRecord) -> bool:
        """Mark the state change of `record` as notified; False if the item moved on since."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(
                    table_design.alert_state_partition_key(record.project), record.sort_key
                ),
                UpdateExpression="REMOVE #pending",
                ConditionExpression="#last = :extraction AND #pending = :pending",
                ExpressionAttributeNames={"#last": "LastExtraction", "#pending": "Pending"},
                ExpressionAttributeValues={
                    ":extraction": {"S": record.last_extraction},
                    ":pending": {"S": record.pending.value if record.pending else ""},
                },
            )
        except ClientError as error:
            if _is_conditional_check_failure(error):
                return False
            raise
        return True

    def log_notification(self, record: AlertNotificationRecord) -> None:
        self._client.put_item(TableName=self.table_name, Item=_serialize(record.item()))

    def states_of_project(self, project: str) -> list[AlertStateRecord]:
        """Every alert state of one project: one paginated Query."""
        return [
            AlertStateRecord.from_item(item)
            for item in self._query(table_design.alert_state_partition_key(project))
        ]

    def notifications_between(
        self, since: datetime, until: datetime
    ) -> list[AlertNotificationRecord]:
        """Notifications whose state change happened in [since, until], oldest first: one
        paginated Query per UTC day."""
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("since and until must carry a timezone")
        first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
        days = (last - first).days + 1
        if days > MAX_HISTORY_DAYS:
            raise ValueError(
                f"the history spans {days} days; ask for at most {MAX_HISTORY_DAYS} at a time"
            )
        since_text, until_text = _timestamp(since), _timestamp(until)
        records: list[AlertNotificationRecord] = []
        for offset in range(max(days, 0)):
            day = (first + timedelta(days=offset)).isoformat()
            for item in self._query(table_design.alert_log_partition_key(day)):
                if since_text <= item["At"] <= until_text:
                    records.append(AlertNotificationRecord.from_item(item))
        return records

    def _query(self, partition_key: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": table_design.PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": partition_key}},
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                yield _deserialize(item)
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    @staticmethod
    def _key(partition_key: str, sort_key: str) -> dict[str, Any]:
        return {
            table_design.PARTITION_KEY: {"S": partition_key},
            table_design.SORT_KEY: {"S": sort_key},
        }


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _is_conditional_check_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
