"""Ingest: DynamoDB and Firehose calls per event, registry reads per batch, units, invocations.

The real ingest (`hub_stack.runtime.ingest.ingest_batch`) runs on a moto table laid out as
`hub_stack.table_design` describes (and the hub stack creates), with a spoke registry larger than
the batch's senders, and the history delivery stream of the stack (its Parquet conversion is the
sandbox's gap fill, `sandbox.moto_firehose_parquet`, so rows are counted in the Parquet files).
The events are built by the spoke's own event builder, wrapped in the EventBridge envelope and the
SQS record the hub's queue delivers; each spoke extracts in two regions, so a batch has two
records per sender.

Every figure is counted from what the code did: botocore hooks count the calls (and the registry
items BatchGetItem returned), the Firehose records are the ones sent, history rows are read back
from the Parquet objects, and write/read units come from the items actually in the table
(`bench.dynamodb_units`). The item sizes come from a Scan, which only the benchmark does.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from bench import dynamodb_units
from bench.publishing import extraction_datapoints
from bench.support import AwsCallCounter, BenchmarkResult, ceil_div, ratio, stopwatch
from contracts import METRIC_EVENT_DETAIL_TYPE, METRIC_EVENT_SOURCE, SPOKE_BUS_NAME, history_table
from hub_stack import table_design
from hub_stack.runtime import ingest
from hub_stack.runtime.history_delivery import HistoryDelivery
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeState
from sandbox.moto_firehose_parquet import firehose_parquet_conversion
from spoke_stackset.runtime.event_builder import ExtractionEnvelope, build_v2_entries

REGION = "eu-west-1"
# Each spoke's stack runs in two regions: two records per sender in a batch.
SPOKE_REGIONS = ("eu-west-1", "us-east-1")
HUB_ACCOUNT = "999999999999"
HISTORY_BUCKET = "bench-history"
RETENTION_DAYS = 90
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
METRICS_PER_EVENT = 15
# The hub stack's SQS batch size (hub_stack/stack.py INGEST_BATCH_SIZE; not imported, because
# importing the stack loads the CDK, which takes seconds).
FULL_BATCH_RECORDS = 100
QUICK_BATCH_RECORDS = 20
# Registry entries per sender of the batch: the registry is larger than any batch's senders.
REGISTRY_PER_SENDER = 3
ENVIRONMENTS = ("dev", "prod")
# The batch sizes the SQS event source mapping produces (hub_stack/stack.py INGEST_BATCH_SIZE is
# the largest): one record when the queue trickles, 10 per receive, 100 when it is full.
SQS_BATCH_SIZES = (1, 10, 100)
FULL_INVOCATION_EVENTS = 300
QUICK_INVOCATION_EVENTS = 40
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


def _hub(table: str, senders: int, *, registry_per_sender: int = REGISTRY_PER_SENDER) -> Hub:
    session = boto3.Session(region_name=REGION)
    plain = _plain_session()
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


def _batch(senders: int, extraction: datetime, *, value_offset: int = 0) -> list[dict[str, Any]]:
    return [
        sqs_record(index, extraction, region, value_offset=value_offset)
        for index in range(senders)
        for region in SPOKE_REGIONS
    ]


def _measure_batch(result: BenchmarkResult, records: int) -> int:
    """One batch of `records` records from records/2 senders, then its replay. Returns the
    largest number of DynamoDB write calls any event of it cost."""
    senders = records // len(SPOKE_REGIONS)
    hub = _hub("bench-hub-ingest", senders)
    extraction = NOW - timedelta(hours=1)
    batch = _batch(senders, extraction)
    datapoints = len(batch) * METRICS_PER_EVENT

    hub.ledger.reset()
    with stopwatch() as watch:
        first = hub.run(batch)
    first_writes = len(hub.ledger.writes)
    items = scan_items(hub.plain, hub.table)
    first_units = hub.ledger.write_units(items)
    rows = history_rows(_plain_session())
    firehose_calls, firehose_records = hub.ledger.firehose_calls, len(hub.ledger.firehose_records)
    billed = hub.ledger.firehose_billed_units()
    registry_read, registry_calls = hub.ledger.registry_items_read, hub.ledger.registry_calls
    latest_items = [item for key, item in items.items() if key[0].startswith("LATEST#")]
    latest_sizes = [dynamodb_units.item_size(item) for item in latest_items]

    hub.ledger.reset()
    replay = hub.run(batch)
    replay_writes = len(hub.ledger.writes)
    replay_units = hub.ledger.write_units(scan_items(hub.plain, hub.table))
    replay_rows = history_rows(_plain_session())
    quarantined = hub.store.quarantine.count()

    section = result.section(
        f"One SQS batch: {len(batch)} records from {senders} spokes (two regions each), v2 events "
        f"of {METRICS_PER_EVENT} metrics ({datapoints:,} datapoints); registry of "
        f"{senders * REGISTRY_PER_SENDER} spokes"
    )
    section.add("records failed (batchItemFailures)", len(first["batchItemFailures"]))
    section.add(
        "registry items read (BatchGetItem)",
        registry_read,
        f"{senders} distinct senders, {registry_calls} call(s); the registry holds "
        f"{senders * REGISTRY_PER_SENDER}",
    )
    section.add(
        "DynamoDB write calls per event",
        ratio(first_writes, len(batch)),
        f"{first_writes} calls: one conditional UpdateItem of the spoke's latest item, one of "
        "its freshness; no history item",
    )
    section.add(
        "write units per event (from item sizes)",
        ratio(first_units, len(batch)),
        f"latest item {min(latest_sizes):,}-{max(latest_sizes):,} bytes",
    )
    section.add(
        "Firehose PutRecordBatch calls / records",
        f"{firehose_calls} / {firehose_records}",
        f"one record per event; {billed} billed 5 KB increments "
        f"({ratio(billed, datapoints):.3f} per datapoint)",
    )
    section.add("history rows in the Parquet files", len(rows), f"{datapoints:,} datapoints sent")
    section.add("wall time (s, informational)", watch.seconds)

    again = result.section("Replay of the same batch (SQS or EventBridge redelivery)")
    again.add("records failed / quarantined", f"{len(replay['batchItemFailures'])} / {quarantined}")
    again.add(
        "DynamoDB write calls per event",
        ratio(replay_writes, len(batch)),
        "the latest item's condition refuses the replay; freshness is already as new",
    )
    again.add("write units per event", ratio(replay_units, len(batch)))
    again.add(
        "new datapoint keys in history",
        len(datapoint_keys(replay_rows)) - len(datapoint_keys(rows)),
        f"{len(replay_rows) - len(rows)} rows delivered again, the same keys: queries keep one",
    )

    result.figures.update(
        {
            "batch_records": len(batch),
            "batch_datapoints": datapoints,
            "batch_distinct_senders": senders,
            "registry_size": senders * REGISTRY_PER_SENDER,
            "registry_items_read_per_batch": registry_read,
            "registry_batch_get_calls": registry_calls,
            "batch_failures": len(first["batchItemFailures"]),
            "batch_dynamodb_write_calls": first_writes,
            "batch_write_units": first_units,
            "write_units_per_event": ratio(first_units, len(batch)),
            "latest_item_bytes_max": max(latest_sizes),
            "latest_items_after_batch": len(latest_items),
            "firehose_put_record_batch_calls": firehose_calls,
            "firehose_records": firehose_records,
            "firehose_billed_5kb_units": billed,
            "history_rows_after_batch": len(rows),
            "replay_failures": len(replay["batchItemFailures"]),
            "replay_quarantined": quarantined,
            "replay_dynamodb_write_calls": replay_writes,
            "replay_write_units": replay_units,
            "replay_new_datapoint_keys": len(datapoint_keys(replay_rows))
            - len(datapoint_keys(rows)),
            "replay_rows_delivered": len(replay_rows) - len(rows),
        }
    )
    return max(ceil_div(first_writes, len(batch)), ceil_div(replay_writes, len(batch)))


def _measure_single_events(result: BenchmarkResult) -> int:
    """The write calls of one event in each case ingest meets; returns the largest."""
    hub = _hub("bench-hub-cases", 1)
    newer, older = NOW - timedelta(hours=1), NOW - timedelta(hours=2)
    cases = {
        "new extraction": [sqs_record(0, newer)],
        "identical replay": [sqs_record(0, newer)],
        "late extraction (older than stored)": [sqs_record(0, older)],
        "replay of the late extraction": [sqs_record(0, older)],
        "conflicting replay (quarantined)": [sqs_record(0, newer, value_offset=1)],
    }
    section = result.section("DynamoDB write calls of one event, case by case")
    calls: dict[str, int] = {}
    for label, records in cases.items():
        hub.ledger.reset()
        response = hub.run(records)
        calls[label] = len(hub.ledger.writes)
        operations = ", ".join(operation for operation, _ in hub.ledger.writes)
        failed = len(response["batchItemFailures"])
        section.add(label, calls[label], operations + (f"; {failed} failed" if failed else ""))
    codes = [record.reason_code for record in hub.store.quarantine.recent()]
    section.add("quarantined", ", ".join(codes) or "none")
    result.figures["write_calls_by_case"] = calls
    result.figures["conflicting_replay_quarantined"] = codes == ["ConflictingReplay"]
    return max(calls.values())


def _measure_invocations(result: BenchmarkResult, events: int) -> None:
    """Lambda invocations per 1,000 datapoints when the event source mapping hands over batches
    of 1, 10 or 100 records: the same events ingested batch by batch, invocations counted."""
    section = result.section(
        f"Lambda invocations per 1,000 datapoints ({events} events of {METRICS_PER_EVENT} metrics)"
    )
    per_thousand: dict[str, float | None] = {}
    hub = _hub("bench-hub-invocations", events, registry_per_sender=1)
    for run_index, size in enumerate(SQS_BATCH_SIZES):
        extraction = NOW - timedelta(hours=1, minutes=run_index)
        records = [sqs_record(index, extraction) for index in range(events)]
        invocations = 0
        before = len(history_rows(_plain_session()))
        for start in range(0, len(records), size):
            hub.run(records[start : start + size])
            invocations += 1
        delivered = len(history_rows(_plain_session())) - before
        per_thousand[str(size)] = ratio(invocations * 1000, delivered)
        section.add(
            f"batches of {size} record(s)",
            per_thousand[str(size)],
            f"{invocations} invocations for {delivered:,} datapoints",
        )
        _empty_history()
    result.figures["lambda_invocations_per_1000_datapoints"] = per_thousand


def _plain_session() -> boto3.Session:
    """A session the ledger does not watch: the benchmark's own reads are not the code's."""
    return boto3.Session(region_name=REGION)


def _empty_history() -> None:
    """Remove the history objects between measurements (paginated listing)."""
    s3 = _plain_session().client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=HISTORY_BUCKET):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=HISTORY_BUCKET, Key=entry["Key"])


def _measure_latest_read(result: BenchmarkResult, senders: int) -> None:
    """`latest_values_all` (dashboard, `dsdash query --latest`, alerts) after one batch."""
    hub = _hub("bench-hub-latest", senders)
    hub.run(_batch(senders, NOW - timedelta(hours=1)))
    counter = AwsCallCounter(hub.session)
    store = HubStore(hub.table, hub.session, sleep=lambda _: None, clock=lambda: NOW)
    latest = store.latest_values_all()
    items = scan_items(hub.plain, hub.table)
    latest_sizes = [
        dynamodb_units.item_size(item)
        for key, item in items.items()
        if key[0].startswith("LATEST#")
    ]
    registry_sizes = [
        dynamodb_units.item_size(item)
        for key, item in items.items()
        if key[0] == table_design.SPOKE_REGISTRY_PARTITION
    ]
    queries = counter.count("Query")
    units = dynamodb_units.query_read_units(
        latest_sizes, consistent=False
    ) + dynamodb_units.query_read_units(registry_sizes, consistent=True)
    values = sum(len(records) for records in latest.values())
    section = result.section(f"latest_values_all after the batch ({len(latest)} projects)")
    section.add(
        "Query calls / latest items read / values",
        f"{queries} / {len(latest_sizes)} / {values:,}",
        f"{table_design.LATEST_SHARDS} shards per project plus the registry; one item per spoke "
        "and region holds all its series",
    )
    section.add("read units (from item sizes)", units)
    result.figures.update(
        {
            "latest_read_query_calls": queries,
            "latest_read_items": len(latest_sizes),
            "latest_read_values": values,
            "latest_read_units": units,
            "latest_projects": len(latest),
        }
    )
    _empty_history()


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(
        "ingest", "Ingest: DynamoDB and Firehose calls per event, registry reads, invocations"
    )
    # One INFO line per stored event would drown the report.
    ingest.logger.setLevel(logging.WARNING)
    records = QUICK_BATCH_RECORDS if quick else FULL_BATCH_RECORDS
    with mock_aws(), firehose_parquet_conversion():
        create_history_stream(_plain_session())
        worst_batch = _measure_batch(result, records)
        _empty_history()
        worst_case = _measure_single_events(result)
        _empty_history()
        _measure_invocations(result, QUICK_INVOCATION_EVENTS if quick else FULL_INVOCATION_EVENTS)
        _measure_latest_read(result, records // len(SPOKE_REGIONS))
    result.figures["dynamodb_write_calls_per_event"] = max(worst_batch, worst_case)
    result.notes.append(
        "dynamodb_write_calls_per_event is the largest count of one event over the batch, its "
        "replay and the cases above; alert state writes (only when an alert changes state) "
        "are not counted"
    )
    result.notes.append(
        "moto returns a fixed ConsumedCapacity: units are computed from the item sizes by "
        "DynamoDB's rules (bench/dynamodb_units.py)"
    )
    return result
