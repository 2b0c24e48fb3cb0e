"""The hub the ingest benchmark measures (`bench.ingest`), on moto, and what watches it.

The real ingest (`hub_stack.ingest.runtime.ingest.ingest_batch`) runs on a moto table laid out as
`hub_stack.table_design` describes (and the hub stack creates), with a spoke registry larger than
the batch's senders, and the history delivery stream of the stack (its Parquet conversion is the
sandbox's gap fill, `sandbox.moto_firehose_parquet`, so rows are counted in the Parquet files).
The events are built by the spoke's own event builder, wrapped in the EventBridge envelope and the
SQS record the hub's queue delivers; each spoke extracts in two regions, so a batch has two
records per sender. `WriteLedger` counts the hub's calls with botocore hooks.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from bench import dynamodb_units
from bench.publishing import extraction_datapoints
from bench.support import ceil_div
from contracts import METRIC_EVENT_DETAIL_TYPE, METRIC_EVENT_SOURCE, SPOKE_BUS_NAME, history_table
from hub_stack import table_design
from hub_stack.ingest.runtime import ingest
from hub_stack.ingest.runtime.history_delivery import HistoryDelivery
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeState
from spoke_stackset.extractor.runtime.event_builder import ExtractionEnvelope, build_v2_entries

REGION = "eu-west-1"

# Each spoke's stack runs in two regions: two records per sender in a batch.
SPOKE_REGIONS = ("eu-west-1", "us-east-1")

HUB_ACCOUNT = "999999999999"

HISTORY_BUCKET = "bench-history"

RETENTION_DAYS = 90

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

METRICS_PER_EVENT = 15

# Registry entries per sender of the batch: the registry is larger than any batch's senders.
REGISTRY_PER_SENDER = 3

ENVIRONMENTS = ("dev", "prod")

# Firehose bills ingestion in 5 KB increments per record.
# https://aws.amazon.com/firehose/pricing/
FIREHOSE_BILLING_INCREMENT_BYTES = 5 * 1024

DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")


def create_hub_table(client: Any, table_name: str) -> None:
    """The hub table as `hub_stack.table_design` lays it out (keys, TTL; no index)."""
    table_design.create_table(client, table_name)


def create_history_stream(session: boto3.Session) -> None:
    """The hub's delivery stream as `hub_stack.history_storage` configures it (conversion with
    the Glue table, the contract's prefixes) into a bench bucket."""
    session.client("s3").create_bucket(
        Bucket=HISTORY_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    role = f"arn:aws:iam::{HUB_ACCOUNT}:role/firehose"
    session.client("firehose").create_delivery_stream(
        DeliveryStreamName=history_table.HISTORY_DELIVERY_STREAM_NAME,
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": f"arn:aws:s3:::{HISTORY_BUCKET}",
            "Prefix": history_table.DELIVERY_PREFIX,
            "ErrorOutputPrefix": history_table.DELIVERY_ERROR_PREFIX,
            "FileExtension": history_table.HISTORY_FILE_EXTENSION,
            "DataFormatConversionConfiguration": {
                "Enabled": True,
                "SchemaConfiguration": {
                    "DatabaseName": history_table.GLUE_DATABASE_NAME,
                    "TableName": history_table.GLUE_TABLE_NAME,
                    "RoleARN": role,
                },
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
            },
        },
    )


def history_rows(session: boto3.Session) -> list[dict[str, Any]]:
    """Every row of every Parquet object under the history prefix (paginated listing)."""
    import pyarrow.parquet as pq

    s3 = session.client("s3")
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=HISTORY_BUCKET, Prefix=history_table.HISTORY_PREFIX
    ):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=HISTORY_BUCKET, Key=entry["Key"])["Body"].read()
            rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return rows


def datapoint_keys(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """The key queries deduplicate on (contracts.history_table)."""
    return {
        (
            row["account_id"],
            row["region"],
            row["project"],
            row["environment"],
            row["metric_name"],
            row["dimensions"],
            row["extraction_time"],
        )
        for row in rows
    }


def scan_items(client: Any, table_name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item (DynamoDB JSON) by key: a benchmark-only Scan, for the item sizes."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    arguments: dict[str, Any] = {"TableName": table_name}
    while True:
        page = client.scan(**arguments)
        for item in page["Items"]:
            items[(item["PK"]["S"], item["SK"]["S"])] = item
        if "LastEvaluatedKey" not in page:
            return items
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def spoke_account(index: int) -> str:
    return f"{300000000000 + index:012d}"


def spoke_scope(index: int) -> tuple[str, str]:
    """Ten spokes per project, alternating dev and prod."""
    return f"team-{index // 10:02d}", ENVIRONMENTS[index % len(ENVIRONMENTS)]


def sqs_record(
    index: int, extraction_date: datetime, region: str = REGION, *, value_offset: int = 0
) -> dict[str, Any]:
    """One SQS record holding spoke `index`'s v2 event from `region`, as the hub queue delivers
    it. `value_offset` changes every value (a conflicting replay of the same extraction)."""
    project, environment = spoke_scope(index)
    envelope = ExtractionEnvelope(
        project_name=project,
        environment=environment,
        account_id=spoke_account(index),
        region=region,
        extraction_date=extraction_date,
        extraction_id=str(uuid.UUID(int=index)),
    )
    datapoints = extraction_datapoints(METRICS_PER_EVENT)
    for datapoint in datapoints:
        datapoint["MetricValue"] = datapoint["MetricValue"] + value_offset
    (entry,) = build_v2_entries(envelope, datapoints, [], SPOKE_BUS_NAME).entries
    region_number = SPOKE_REGIONS.index(region) if region in SPOKE_REGIONS else 9
    serial = index * 10 + region_number
    event = {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{serial}-{extraction_date}-{value_offset}")),
        "detail-type": METRIC_EVENT_DETAIL_TYPE,
        "source": METRIC_EVENT_SOURCE,
        "account": spoke_account(index),
        "time": extraction_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    body = json.dumps(event)
    sent = int((extraction_date + timedelta(seconds=3)).timestamp() * 1000)
    return {
        "messageId": str(
            uuid.uuid5(uuid.NAMESPACE_DNS, f"{serial}-{extraction_date}-{value_offset}")
        ),
        "receiptHandle": f"bench-receipt-{serial}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(sent + 10),
        },
        "messageAttributes": {},
        # SQS's checksum of the body, not a security measure.
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{HUB_ACCOUNT}:dsdash-hub-ingest",
        "awsRegion": REGION,
    }


class WriteLedger:
    """The DynamoDB writes of the hub's client, with the key each one addressed, and the
    registry items BatchGetItem returned: botocore hooks, counted before botocore's retries."""

    def __init__(self, session: boto3.Session, table: str) -> None:
        self.table = table
        self.writes: list[tuple[str, tuple[str, str]]] = []
        self.registry_items_read = 0
        self.registry_calls = 0
        self.firehose_records: list[int] = []
        self.firehose_calls = 0
        session.events.register("before-parameter-build.dynamodb", self._before)
        session.events.register("after-call.dynamodb.BatchGetItem", self._after_batch_get)
        session.events.register("before-parameter-build.firehose.PutRecordBatch", self._firehose)

    def reset(self) -> None:
        self.writes.clear()
        self.firehose_records.clear()
        self.registry_items_read = self.registry_calls = self.firehose_calls = 0

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in DYNAMODB_WRITES:
            key = params.get("Key") or params.get("Item") or {}
            address = (str(key.get("PK", {}).get("S", "")), str(key.get("SK", {}).get("S", "")))
            self.writes.append((str(model.name), address))

    def _after_batch_get(self, parsed: dict[str, Any], **_: Any) -> None:
        self.registry_calls += 1
        self.registry_items_read += len(parsed.get("Responses", {}).get(self.table, []))

    def _firehose(self, params: dict[str, Any], **_: Any) -> None:
        self.firehose_calls += 1
        self.firehose_records.extend(len(record["Data"]) for record in params["Records"])

    def write_units(self, items: dict[tuple[str, str], dict[str, Any]]) -> int:
        """Units of the writes made, from the size of each item written (as it is now: every
        write here either created the item, grew it, or was refused by its condition)."""
        return sum(
            dynamodb_units.write_units(dynamodb_units.item_size(items.get(key, {})))
            for _, key in self.writes
        )

    def firehose_billed_units(self) -> int:
        return sum(
            ceil_div(size, FIREHOSE_BILLING_INCREMENT_BYTES) for size in self.firehose_records
        )


@dataclass
class Hub:
    session: boto3.Session
    plain: Any
    table: str
    store: HubStore
    history: HistoryDelivery
    ledger: WriteLedger

    def run(self, records: list[dict[str, Any]], clock: datetime = NOW) -> dict[str, Any]:
        return dict(
            ingest.ingest_batch(
                {"Records": records},
                None,
                store=self.store,
                history=self.history,
                retention_days=RETENTION_DAYS,
                clock=lambda: clock,
            )
        )


def build_hub(table: str, senders: int, *, registry_per_sender: int = REGISTRY_PER_SENDER) -> Hub:
    """A hub table `table` whose registry enrolls `senders` x `registry_per_sender` spokes, its
    store and history delivery on a watched session."""
    session = boto3.Session(region_name=REGION)
    plain = plain_session()
    create_hub_table(plain.client("dynamodb"), table)
    ledger = WriteLedger(session, table)
    store = HubStore(table, session, sleep=lambda _: None, clock=lambda: NOW)
    history = HistoryDelivery(
        session.client("firehose"), history_table.HISTORY_DELIVERY_STREAM_NAME, sleep=lambda _: None
    )
    for index in range(senders * registry_per_sender):
        project, environment = spoke_scope(index)
        store.registry.set_spoke_state(
            spoke_account(index), SpokeState.ENROLLED, project_name=project, environment=environment
        )
    return Hub(session, plain.client("dynamodb"), table, store, history, ledger)


def batch_of(senders: int, extraction: datetime, *, value_offset: int = 0) -> list[dict[str, Any]]:
    """One record per sender and spoke region, all of the extraction at `extraction`."""
    return [
        sqs_record(index, extraction, region, value_offset=value_offset)
        for index in range(senders)
        for region in SPOKE_REGIONS
    ]


def plain_session() -> boto3.Session:
    """A session the ledger does not watch: the benchmark's own reads are not the code's."""
    return boto3.Session(region_name=REGION)


def empty_history() -> None:
    """Remove the history objects between measurements (paginated listing)."""
    s3 = plain_session().client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=HISTORY_BUCKET):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=HISTORY_BUCKET, Key=entry["Key"])
