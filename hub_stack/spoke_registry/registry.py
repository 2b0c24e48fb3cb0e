"""The spoke registry's reads and writes (`SpokeRegistry`): list, get, batch get, set state.
Every read is strongly consistent, and a
listing is one Query followed to its last page (`hub_stack.table_access`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub_stack import table_design
from hub_stack.spoke_registry.records import InvalidSpokeStateError, SpokeRecord, SpokeState
from hub_stack.table_access import batch_get_items, deserialize, query_items
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
        """Create or update a spoke's registry item.

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

    @staticmethod
    def _spoke_key(account_id: str) -> dict[str, Any]:
        return {
            table_design.PARTITION_KEY: {"S": table_design.SPOKE_REGISTRY_PARTITION},
            table_design.SORT_KEY: {"S": table_design.spoke_sort_key(account_id)},
        }
