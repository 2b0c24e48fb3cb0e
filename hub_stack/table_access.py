"""Reading the hub's DynamoDB table: paginated Queries, BatchGetItem of known keys, and the
conversion between DynamoDB's typed values and Python's.

The layout (keys, partitions) is `hub_stack.table_design`; the spoke registry
(`hub_stack.spoke_registry`), the hub store and the quarantine (`hub_stack.runtime`) read the
table through these functions, so every read is a Query or a BatchGetItem (never a Scan) and
every one is followed to its last page. Plain code with no aws_cdk: the enrollment function's
bundle carries it with the registry (docs/architecture.md §3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from runtime_common.backoff import backoff_seconds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
BATCH_GET_MAX_KEYS: Final = 100
# Attempts for one chunk's UnprocessedKeys before giving up. The client's adaptive retries
# handle throttling *errors*; UnprocessedKeys is a successful response, so botocore never
# retries it.
BATCH_WRITE_MAX_ATTEMPTS: Final = 8
BATCH_WRITE_BACKOFF_BASE_SECONDS: Final = 0.05
BATCH_WRITE_BACKOFF_CAP_SECONDS: Final = 5.0

serializer: Final = TypeSerializer()
_deserializer: Final = TypeDeserializer()


class HubStoreError(Exception):
    """Base class for errors of the hub table's access (store, registry, quarantine)."""


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: serializer.serialize(value) for name, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def query_pages(
    client: DynamoDBClient, table_name: str, **arguments: Any
) -> Iterator[dict[str, Any]]:
    """Every page of a Query. A page may be empty while LastEvaluatedKey remains (filters
    apply after the 1 MB page is read), so paging continues until the key is gone.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html
    """
    request = {"TableName": table_name, **arguments}
    while True:
        page: dict[str, Any] = dict(client.query(**request))
        yield page
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key


def query_items(
    client: DynamoDBClient, table_name: str, *, max_items: int | None = None, **arguments: Any
) -> list[dict[str, Any]]:
    """The items of every page of a Query (at most `max_items`), as Python values."""
    items: list[dict[str, Any]] = []
    for page in query_pages(client, table_name, **arguments):
        items.extend(deserialize(item) for item in page.get("Items", []))
        if max_items is not None and len(items) >= max_items:
            return items[:max_items]
    return items


def batch_get_items(
    client: DynamoDBClient,
    table_name: str,
    keys: Sequence[Mapping[str, Any]],
    *,
    sleep: Callable[[float], None],
) -> Iterator[dict[str, Any]]:
    """The items of `keys` that exist: BatchGetItem of 100 keys a call, strongly consistent,
    only UnprocessedKeys resent, pausing by `runtime_common.backoff` as AWS asks
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations).
    """
    for start in range(0, len(keys), BATCH_GET_MAX_KEYS):
        yield from _batch_get_chunk(
            client, table_name, keys[start : start + BATCH_GET_MAX_KEYS], sleep
        )


def _batch_get_chunk(
    client: DynamoDBClient,
    table_name: str,
    keys: Sequence[Mapping[str, Any]],
    sleep: Callable[[float], None],
) -> Iterator[dict[str, Any]]:
    request: Any = {"Keys": list(keys), "ConsistentRead": True}
    for attempt in range(BATCH_WRITE_MAX_ATTEMPTS):
        if attempt:
            sleep(
                backoff_seconds(
                    attempt,
                    base_seconds=BATCH_WRITE_BACKOFF_BASE_SECONDS,
                    cap_seconds=BATCH_WRITE_BACKOFF_CAP_SECONDS,
                )
            )
        response = client.batch_get_item(RequestItems={table_name: request})
        for item in response.get("Responses", {}).get(table_name, []):
            yield deserialize(item)
        unprocessed = response.get("UnprocessedKeys", {}).get(table_name)
        if not unprocessed or not unprocessed.get("Keys"):
            return
        request = dict(unprocessed)
    raise HubStoreError(
        f"BatchGetItem on table {table_name} still returned UnprocessedKeys after "
        f"{BATCH_WRITE_MAX_ATTEMPTS} attempts"
    )
