"""Ingest: DynamoDB calls of one SQS batch of v2 events, its replay, and the latest-values query.

The real ingest (`hub_stack.runtime.ingest.ingest_batch`) runs on a moto table laid out as
`hub_stack.table_design` describes (and the hub stack creates), with a spoke registry of
enrolled accounts. The events are built by the spoke's own event builder, wrapped in the
EventBridge envelope and the SQS record the hub's queue delivers. A botocore `before-call` hook
counts the calls of the store's client; conditional writes that found a newer value are the
calls that answered ConditionalCheckFailedException.

The latest-values part fills hourly history with `HubStore.put_datapoints` (what ingest calls)
and then asks `HubStore.latest_values_all`, the dashboard's and `dsdash query --latest`'s read,
at two history lengths. Only the last hour of each checkpoint goes through `put_latest`: the table
holds one latest item per series whatever the history, which is the point being measured.

The item counts below come from a Scan, which only the benchmark does (the runtime never scans).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from moto import mock_aws

from bench.publishing import extraction_datapoints
from bench.support import AwsCallCounter, BenchmarkResult, ceil_div, format_ratio, ratio, stopwatch
from contracts import METRIC_EVENT_DETAIL_TYPE, METRIC_EVENT_SOURCE, SPOKE_BUS_NAME
from hub_stack import table_design
from hub_stack.runtime import ingest
from hub_stack.runtime.store import (
    BATCH_WRITE_MAX_ITEMS,
    DatapointRecord,
    HubStore,
    SpokeState,
)
from runtime_common.timestamps import epoch_seconds, format_timestamp
from spoke_stackset.runtime.event_builder import ExtractionEnvelope, build_v2_entries

REGION = "eu-west-1"
HUB_ACCOUNT = "999999999999"
RETENTION_DAYS = 90
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
METRICS_PER_EVENT = 15
# The hub stack's SQS batch size (hub_stack/stack.py INGEST_BATCH_SIZE; not imported, because
# importing the stack loads the CDK, which takes seconds).
FULL_BATCH_RECORDS = 100
QUICK_BATCH_RECORDS = 20
ENVIRONMENTS = ("dev", "prod")


@dataclass(frozen=True)
class HistorySize:
    projects: int
    checkpoints_days: tuple[int, ...]


FULL_HISTORY = HistorySize(projects=2, checkpoints_days=(1, 30))
QUICK_HISTORY = HistorySize(projects=2, checkpoints_days=(1, 7))


def create_hub_table(client: Any, table_name: str) -> None:
    """The hub table as `hub_stack.table_design` lays it out (keys, GSI ByMetricName, TTL)."""
    table_design.create_table(client, table_name)


def count_items(client: Any, table_name: str, partition_prefix: str) -> int:
    """Items whose partition key starts with `partition_prefix` (a benchmark-only Scan)."""
    total = 0
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "Select": "COUNT",
        "FilterExpression": "begins_with(#pk, :prefix)",
        "ExpressionAttributeNames": {"#pk": table_design.PARTITION_KEY},
        "ExpressionAttributeValues": {":prefix": {"S": partition_prefix}},
    }
    while True:
        page = client.scan(**arguments)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def spoke_account(index: int) -> str:
    return f"{300000000000 + index:012d}"


def spoke_scope(index: int) -> tuple[str, str]:
    """Ten spokes per project, alternating dev and prod."""
    return f"team-{index // 10:02d}", ENVIRONMENTS[index % len(ENVIRONMENTS)]


def sqs_record(index: int, extraction_date: datetime) -> dict[str, Any]:
    """One SQS record holding spoke `index`'s v2 event, as the hub queue delivers it."""
    project, environment = spoke_scope(index)
    envelope = ExtractionEnvelope(
        project_name=project,
        environment=environment,
        account_id=spoke_account(index),
        region=REGION,
        extraction_date=extraction_date,
        extraction_id=str(uuid.UUID(int=index)),
    )
    (entry,) = build_v2_entries(
        envelope, extraction_datapoints(METRICS_PER_EVENT), [], SPOKE_BUS_NAME
    ).entries
    event = {
        "version": "0",
        "id": str(uuid.UUID(int=10**6 + index)),
        "detail-type": METRIC_EVENT_DETAIL_TYPE,
        "source": METRIC_EVENT_SOURCE,
        "account": spoke_account(index),
        "time": extraction_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    body = json.dumps(event)
    sent = int((extraction_date + timedelta(seconds=3)).timestamp() * 1000)
    return {
        "messageId": str(uuid.UUID(int=2 * 10**6 + index)),
        "receiptHandle": f"bench-receipt-{index}",
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


@dataclass(frozen=True)
class IngestPass:
    failures: int
    batch_write_calls: int
    batch_get_calls: int
    put_item_calls: int
    latest_not_moved: int
    update_item_calls: int
    query_calls: int
    total_calls: int
    history_items_after: int
    latest_items_after: int
    seconds: float


def _ingest_pass(
    store: HubStore, counter: AwsCallCounter, plain: Any, table: str, batch: dict[str, Any]
) -> IngestPass:
    counter.reset()
    with stopwatch() as watch:
        response = ingest.ingest_batch(
            batch, None, store=store, retention_days=RETENTION_DAYS, clock=lambda: NOW
        )
    return IngestPass(
        failures=len(response.get("batchItemFailures", [])),
        batch_write_calls=counter.count("BatchWriteItem"),
        batch_get_calls=counter.count("BatchGetItem"),
        put_item_calls=counter.count("PutItem"),
        latest_not_moved=counter.error_count("PutItem", "ConditionalCheckFailedException"),
        update_item_calls=counter.count("UpdateItem"),
        query_calls=counter.count("Query"),
        total_calls=counter.total(),
        history_items_after=count_items(plain, table, "SERIES#"),
        latest_items_after=count_items(plain, table, "LATEST#"),
        seconds=watch.seconds,
    )


def _measure_batch(result: BenchmarkResult, records: int) -> None:
    table = "bench-hub-ingest"
    session = boto3.Session(region_name=REGION)
    counter = AwsCallCounter(session)
    plain = boto3.Session(region_name=REGION).client("dynamodb")
    create_hub_table(plain, table)
    store = HubStore(table, session, sleep=lambda _: None, clock=lambda: NOW)
    for index in range(records):
        project, environment = spoke_scope(index)
        store.set_spoke_state(
            spoke_account(index),
            SpokeState.ENROLLED,
            project_name=project,
            environment=environment,
        )
    extraction_date = NOW - timedelta(hours=1)
    batch = {"Records": [sqs_record(index, extraction_date) for index in range(records)]}
    items = records * METRICS_PER_EVENT

    first = _ingest_pass(store, counter, plain, table, batch)
    replay = _ingest_pass(store, counter, plain, table, batch)

    per_event_floor = records * ceil_div(METRICS_PER_EVENT, BATCH_WRITE_MAX_ITEMS)
    section = result.section(
        f"One SQS batch: {records} records, v2 events of {METRICS_PER_EVENT} metrics "
        f"({items:,} datapoints)"
    )
    section.add("records failed (batchItemFailures)", first.failures)
    section.add(
        "BatchWriteItem calls",
        first.batch_write_calls,
        f"{records} events x ceil({METRICS_PER_EVENT}/{BATCH_WRITE_MAX_ITEMS}) = "
        f"{per_event_floor}; ceil({items:,}/{BATCH_WRITE_MAX_ITEMS}) = "
        f"{ceil_div(items, BATCH_WRITE_MAX_ITEMS)} if batched across events",
    )
    section.add(
        "history items written per call",
        ratio(first.history_items_after, first.batch_write_calls),
        f"vs one PutItem per datapoint: {format_ratio(ratio(items, first.batch_write_calls))} "
        "fewer calls",
    )
    section.add(
        "history comparisons (BatchGetItem)",
        first.batch_get_calls,
        "one per event: a replay that disagrees with history is quarantined, not written",
    )
    section.add(
        "conditional latest writes (PutItem)",
        first.put_item_calls,
        f"{first.put_item_calls - first.latest_not_moved:,} moved forward",
    )
    section.add("freshness updates (UpdateItem)", first.update_item_calls, "one per event")
    section.add(
        "registry Query calls per invocation",
        first.query_calls,
        f"read once, cached for {records} records",
    )
    section.add("AWS calls in total", first.total_calls)
    section.add(
        "items after: history / latest",
        f"{first.history_items_after:,} / {first.latest_items_after:,}",
    )
    section.add("wall time (s, informational)", first.seconds)

    again = result.section("Replay of the same batch (SQS or EventBridge redelivery)")
    again.add("records failed", replay.failures)
    again.add(
        "new history items",
        replay.history_items_after - first.history_items_after,
        f"{replay.batch_write_calls} BatchWriteItem calls: history is compared first "
        f"({replay.batch_get_calls} BatchGetItem calls), identical datapoints are not rewritten",
    )
    again.add(
        "latest values moved forward",
        replay.put_item_calls - replay.latest_not_moved,
        f"{replay.latest_not_moved:,} of {replay.put_item_calls:,} conditional writes refused",
    )
    again.add("registry Query calls", replay.query_calls)
    again.add("wall time (s, informational)", replay.seconds)

    result.figures.update(
        {
            "batch_records": records,
            "batch_datapoints": items,
            "batch_failures": first.failures,
            "batch_write_item_calls": first.batch_write_calls,
            "batch_write_item_calls_per_event_floor": per_event_floor,
            "batch_write_item_calls_cross_event_floor": ceil_div(items, BATCH_WRITE_MAX_ITEMS),
            "datapoints_per_batch_write_call": ratio(items, first.batch_write_calls),
            "history_compare_calls": first.batch_get_calls,
            "latest_put_item_calls": first.put_item_calls,
            "latest_moved_forward": first.put_item_calls - first.latest_not_moved,
            "freshness_update_calls": first.update_item_calls,
            "registry_query_calls": first.query_calls,
            "ingest_total_calls": first.total_calls,
            "history_items_after_batch": first.history_items_after,
            "latest_items_after_batch": first.latest_items_after,
            "ingest_seconds": first.seconds,
            "replay_failures": replay.failures,
            "replay_new_history_items": replay.history_items_after - first.history_items_after,
            "replay_new_latest_items": replay.latest_items_after - first.latest_items_after,
            "replay_latest_moved_forward": replay.put_item_calls - replay.latest_not_moved,
            "replay_batch_write_item_calls": replay.batch_write_calls,
            "replay_registry_query_calls": replay.query_calls,
        }
    )


def _hourly_datapoints(
    accounts: dict[str, tuple[str, str]], moment: datetime
) -> list[DatapointRecord]:
    extraction_date = format_timestamp(moment)
    expires_at = epoch_seconds(moment + timedelta(days=RETENTION_DAYS))
    return [
        DatapointRecord(
            project_name=project,
            environment=environment,
            metric_name=detail["MetricName"],
            value=Decimal(str(detail["MetricValue"])),
            unit=detail["Unit"],
            dimensions=detail["Dimensions"],
            metadata=detail["Metadata"],
            account_id=account_id,
            region=REGION,
            extraction_date=extraction_date,
            schema_version=2,
            event_id=f"{account_id}-{extraction_date}",
            expires_at=expires_at,
        )
        for account_id, (project, environment) in accounts.items()
        for detail in extraction_datapoints(METRICS_PER_EVENT)
    ]


def _measure_latest_values(result: BenchmarkResult, size: HistorySize) -> None:
    table = "bench-hub-history"
    session = boto3.Session(region_name=REGION)
    counter = AwsCallCounter(session)
    plain = boto3.Session(region_name=REGION).client("dynamodb")
    create_hub_table(plain, table)
    store = HubStore(table, session, sleep=lambda _: None, clock=lambda: NOW)
    accounts = {
        spoke_account(500 + index): (f"history-{index // 2}", ENVIRONMENTS[index % 2])
        for index in range(size.projects * len(ENVIRONMENTS))
    }
    for account_id, (project, environment) in accounts.items():
        store.set_spoke_state(
            account_id, SpokeState.ENROLLED, project_name=project, environment=environment
        )
    series = len(accounts) * METRICS_PER_EVENT
    section = result.section(
        f"latest_values_all: {size.projects} projects, {len(accounts)} spokes, {series} series "
        "of hourly history"
    )
    start = NOW - timedelta(days=max(size.checkpoints_days))
    hours_written = 0
    for days in size.checkpoints_days:
        last: list[DatapointRecord] = []
        while hours_written < days * 24:
            hours_written += 1
            last = _hourly_datapoints(accounts, start + timedelta(hours=hours_written))
            store.put_datapoints(last)
        for datapoint in last:
            store.put_latest(datapoint)
        history_items = count_items(plain, table, "SERIES#")
        counter.reset()
        with stopwatch() as watch:
            latest = store.latest_values_all()
        items_read = sum(len(values) for values in latest.values()) + len(accounts)
        section.add(
            f"after {days} day(s): Query calls / items read",
            f"{counter.count('Query')} / {items_read:,}",
            f"history holds {history_items:,} items "
            f"({format_ratio(ratio(history_items, items_read))} the items read); "
            f"{watch.seconds:.3f} s",
        )
        result.figures.update(
            {
                f"latest_after_{days}d_query_calls": counter.count("Query"),
                f"latest_after_{days}d_items_read": items_read,
                f"latest_after_{days}d_history_items": history_items,
                f"latest_after_{days}d_series": series,
            }
        )
    result.figures["latest_checkpoints_days"] = ",".join(map(str, size.checkpoints_days))
    result.notes.append(
        "latest_values_all reads the registry (1 Query) and one LATEST#<project> partition per "
        "project: cost follows the number of series, not the history length"
    )
    result.notes.append(
        "moto's Query walks its whole in-memory table, so the wall time above grows with the "
        "history on moto; DynamoDB reads only the partitions queried"
    )


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult("ingest", "Ingest: DynamoDB calls per SQS batch, and latest values")
    # One INFO line per stored event would drown the report.
    ingest.logger.setLevel(logging.WARNING)
    with mock_aws():
        _measure_batch(result, QUICK_BATCH_RECORDS if quick else FULL_BATCH_RECORDS)
        _measure_latest_values(result, QUICK_HISTORY if quick else FULL_HISTORY)
    return result
