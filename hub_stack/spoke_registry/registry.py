"""The spoke registry's reads and writes (`SpokeRegistry`): list, get, batch get, set state,
and the freshness an accepted extraction records. Every read is strongly consistent, and a
listing is one Query followed to its last page (`hub_stack.table_access`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hub_stack import table_design
from hub_stack.spoke_registry.records import (
    InvalidSpokeStateError,
    SpokeErrorEntry,
    SpokeRecord,
    SpokeState,
)
from hub_stack.table_access import (
    BATCH_WRITE_MAX_ATTEMPTS,
    HubStoreError,
    batch_get_items,
    deserialize,
    query_items,
)
from hub_stack.table_access import is_conditional_check_failure as _is_conditional_check_failure
from hub_stack.table_access import serializer as _serializer
from runtime_common.aws import client as aws_client
from runtime_common.timestamps import format_timestamp

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb.client import DynamoDBClient


class SpokeRegistry:
    """The registry items of the hub table. Construct with the table name and an injectable
    session (or client): the enrollment function passes its hub role's session, the hub store
    its own client."""

    def __init__(
        self,
        table_name: str,
        session: boto3.Session | None = None,
        *,
        dynamodb_client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table_name = table_name
        self._client: DynamoDBClient = (
            dynamodb_client if dynamodb_client is not None else aws_client(session, "dynamodb")
        )
        self._sleep = sleep
        self._clock = clock

    def list_spokes(self) -> list[SpokeRecord]:
        """Every spoke of the registry, in any state (one paginated, consistent Query)."""
        items = query_items(
            self._client,
            self.table_name,
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
        return None if item is None else SpokeRecord.from_item(deserialize(item))

    def get_spokes(self, account_ids: Iterable[str]) -> dict[str, SpokeRecord]:
        """The registry items of these accounts (those that exist): BatchGetItem of the distinct
        ids, 100 keys per call, strongly consistent, only UnprocessedKeys retried, with backoff.
        Ingest reads the senders of its batch this way, never the whole registry."""
        keys = [self._spoke_key(account) for account in dict.fromkeys(account_ids)]
        found: dict[str, SpokeRecord] = {}
        for item in batch_get_items(self._client, self.table_name, keys, sleep=self._sleep):
            spoke = SpokeRecord.from_item(item)
            found[spoke.account_id] = spoke
        return found

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
        return SpokeRecord.from_item(deserialize(response["Attributes"]))

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
