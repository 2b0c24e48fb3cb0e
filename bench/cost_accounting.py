"""What the cost benchmark reads from the calls it counted: DynamoDB request units and stored
bytes from the items written and read, Firehose records and billed bytes from the records sent.

moto's ConsumedCapacity is fixed, so units come from item sizes by DynamoDB's documented rules
(`cli.capacity.dynamodb_units`, the one place those rules live).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from boto3.dynamodb.types import TypeSerializer

from bench.call_counting import CallTally
from cli.capacity.dynamodb_units import item_bytes, read_units, write_units

FIREHOSE_RECORD_ROUNDING_BYTES: Final = 5 * 1024
# DynamoDB bills 100 bytes of overhead per stored item (and per GSI copy).
DYNAMODB_ITEM_OVERHEAD_BYTES: Final = 100
WRITE_OPERATIONS: Final = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
READ_OPERATIONS: Final = ("GetItem", "BatchGetItem", "Query", "Scan")


class RequestTally(CallTally):
    """Counts calls and keeps each request's parameters and each parsed response."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.responses: list[tuple[str, str, Mapping[str, Any]]] = []

    def before_call(self, model: Any, params: Mapping[str, Any] | None = None, **_: Any) -> None:
        super().before_call(model)
        body = (params or {}).get("body") or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        try:
            decoded = json.loads(text) if text.startswith("{") else {}
        except ValueError:
            decoded = {}
        self.requests.append((model.service_model.service_name, model.name, decoded))

    def after_call(self, model: Any = None, parsed: Any = None, **_: Any) -> None:
        if model is not None and isinstance(parsed, Mapping):
            self.responses.append((model.service_model.service_name, model.name, parsed))

    def count(self, service: str, operation: str | None = None) -> int:
        return sum(
            number
            for name, number in self.calls.items()
            if name.split(":")[0] == service
            and (operation is None or name.split(":")[1] == operation)
        )


_SERIALIZER = TypeSerializer()


def _wire_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's wire format, whether it came as wire format or as Python values."""
    wire = {}
    for name, value in item.items():
        is_wire = (
            isinstance(value, Mapping)
            and len(value) == 1
            and next(iter(value)) in ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")
        )
        wire[name] = value if is_wire else _SERIALIZER.serialize(value)
    return wire


def dynamodb_units(
    tally: RequestTally, plain: Any, stored: dict[tuple[str, str], int] | None = None
) -> dict[str, float]:
    """Write and read units of the DynamoDB calls in `tally`, from the items they carried, and
    the write units that went to the busiest partition key (a hot key takes a burst alone).

    An UpdateItem costs the size of the item it leaves (read back afterwards, uncounted); a
    write whose item carries a GSI's keys costs one more write per such index (projection ALL).
    `stored` (item key -> billed storage bytes, GSI copies and DynamoDB's 100-byte overhead per
    item included) is updated with every item written, so the caller knows what the table holds
    without scanning it.
    """
    write, read = 0.0, 0.0
    per_key: Counter[tuple[str, str]] = Counter()
    schema: dict[str, tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = {}
    stored = stored if stored is not None else {}

    def written(table: str, item: Mapping[str, Any]) -> float:
        if table not in schema:
            description = plain.describe_table(TableName=table)["Table"]
            hash_key = next(
                key["AttributeName"] for key in description["KeySchema"] if key["KeyType"] == "HASH"
            )
            key_names = tuple(key["AttributeName"] for key in description["KeySchema"])
            indexes = [
                tuple(key["AttributeName"] for key in index["KeySchema"])
                for index in description.get("GlobalSecondaryIndexes", [])
            ]
            schema[table] = (hash_key, key_names, indexes)
        hash_key, key_names, indexes = schema[table]
        size = item_bytes(item)
        units = write_units(size)
        per_key[(table, json.dumps(item.get(hash_key), sort_keys=True))] += units
        copies = sum(all(name in item for name in keys) for keys in indexes)
        key = json.dumps([item.get(name) for name in key_names], sort_keys=True)
        stored[(table, key)] = (1 + copies) * (size + DYNAMODB_ITEM_OVERHEAD_BYTES)
        return float(units * (1 + copies))

    for service, operation, request in tally.requests:
        if service != "dynamodb" or operation not in WRITE_OPERATIONS:
            continue
        if operation == "PutItem":
            write += written(request["TableName"], request["Item"])
        elif operation == "BatchWriteItem":
            for table, requests in request["RequestItems"].items():
                for entry in requests:
                    if "PutRequest" in entry:
                        write += written(table, entry["PutRequest"]["Item"])
                    else:
                        write += 1
        elif operation == "UpdateItem":
            table = request["TableName"]
            after = plain.get_item(TableName=table, Key=request["Key"]).get("Item")
            write += written(table, after) if after else 1.0
        else:
            write += 1
    for service, operation, response in tally.responses:
        if service != "dynamodb" or operation not in READ_OPERATIONS:
            continue
        if operation == "BatchGetItem":
            for items in response.get("Responses", {}).values():
                read += sum(
                    read_units(item_bytes(_wire_item(item)), consistent=True) for item in items
                )
        elif operation == "GetItem":
            item = response.get("Item")
            read += read_units(item_bytes(_wire_item(item)) if item else 0, consistent=True)
        else:
            # A Query or Scan page costs its items' total size, eventually consistent.
            size = sum(item_bytes(_wire_item(item)) for item in response.get("Items", []))
            read += read_units(size, consistent=False)
    busiest = float(max(per_key.values(), default=0))
    return {"write_units": write, "read_units": read, "busiest_key_write_units": busiest}


def firehose_figures(tally: RequestTally) -> dict[str, int]:
    records, billed, raw = 0, 0, 0
    for service, _, request in tally.requests:
        if service != "firehose":
            continue
        entries = request.get("Records") or ([request["Record"]] if "Record" in request else [])
        for entry in entries:
            size = len(base64.b64decode(entry.get("Data", "")))
            records += 1
            raw += size
            rounding = FIREHOSE_RECORD_ROUNDING_BYTES
            billed += max(1, -(-size // rounding)) * rounding
    return {"records": records, "bytes": raw, "billed_bytes": billed}
