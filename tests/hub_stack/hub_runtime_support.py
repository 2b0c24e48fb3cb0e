"""Shared helpers of the hub runtime tests: the table as the CDK stack creates it, events, SQS
records. Imported by bare name (tests/hub_stack/conftest.py puts this folder on sys.path), hence
the unique name."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from contracts.history_table import HISTORY_DELIVERY_STREAM_NAME
from hub_stack import table_design
from hub_stack.ingest.runtime.history_delivery import HistoryDelivery
from hub_stack.runtime.store import HubStore

REGION = "eu-west-1"
TABLE_NAME = "dsdash-hub-test"
RETENTION_DAYS = 90
# The hub's clock in every ingest test; the sample events were extracted two hours before.
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

ALPHA_DEV_ACCOUNT = "111111111111"
BETA_PROD_ACCOUNT = "222222222222"
OFFBOARDED_ACCOUNT = "333333333333"
STRANGER_ACCOUNT = "444444444444"

EVENTS = Path(__file__).resolve().parents[1] / "events"


def create_hub_table(client: Any, table_name: str = TABLE_NAME) -> None:
    """The table exactly as table_design describes it (and as the CDK stack must create it)."""
    table_design.create_table(client, table_name)


def load_event(file_name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / file_name).read_text(encoding="utf-8"))
    return event


def v1_event(**detail_changes: Any) -> dict[str, Any]:
    event = load_event("hub_metric_event_v1.json")
    event["detail"].update(detail_changes)
    return event


def v2_event(**detail_changes: Any) -> dict[str, Any]:
    event = load_event("hub_metric_event_v2.json")
    event["detail"].update(detail_changes)
    return event


def with_envelope(event: dict[str, Any], **envelope_changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed.update(envelope_changes)
    return changed


def sqs_record(
    body: str | dict[str, Any], message_id: str, sent_at: datetime = NOW
) -> dict[str, Any]:
    """An SQS record as Lambda receives it, shaped like tests/events/hub_sqs_message.json."""
    text = body if isinstance(body, str) else json.dumps(body)
    record = load_event("hub_sqs_message.json")
    record["messageId"] = message_id
    record["body"] = text
    # SQS itself puts the body's MD5 here; it is a checksum, not a security measure.
    record["md5OfBody"] = hashlib.md5(text.encode("utf-8")).hexdigest()
    record["attributes"]["SentTimestamp"] = str(int(sent_at.timestamp() * 1000))
    return record


def sqs_batch(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def scan_table(client: Any, table_name: str = TABLE_NAME) -> list[dict[str, Any]]:
    """Every raw item, sorted by key. Tests may Scan; the runtime never does."""
    items: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = client.scan(**arguments)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def items_under(items: Sequence[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [item for item in items if item["PK"]["S"].startswith(prefix)]


@dataclass
class Hub:
    """What the `hub` fixture yields: a moto hub table and a store on it, and the history
    delivery stream (moto: delivered as the JSON the function sent, see `delivered_rows`)."""

    session: boto3.Session
    client: Any  # the DynamoDB client the store uses; tests hook into its events
    store: HubStore
    sleeps: list[float]
    history: HistoryDelivery


HISTORY_BUCKET = "dsdash-history-test"


def create_history_stream(session: boto3.Session) -> HistoryDelivery:
    """The delivery stream ingest writes to, with an S3 destination in moto. moto's Firehose does
    no record-format conversion (docs/architecture.md §6): the bucket receives the records as
    sent, which is what these tests check (the sandbox's gap fill converts them)."""
    session.client("s3").create_bucket(
        Bucket=HISTORY_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    firehose = session.client("firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName=HISTORY_DELIVERY_STREAM_NAME,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{HISTORY_BUCKET}",
            "Prefix": "history/",
        },
    )
    return HistoryDelivery(firehose, HISTORY_DELIVERY_STREAM_NAME, sleep=lambda _: None)


def delivered_rows(session: boto3.Session) -> list[dict[str, Any]]:
    """Every history row the delivery stream received, in delivery order."""
    s3 = session.client("s3")
    rows: list[dict[str, Any]] = []
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=HISTORY_BUCKET):
        objects.extend(page.get("Contents", []))
    for entry in sorted(objects, key=lambda o: (o["LastModified"], o["Key"])):
        body = s3.get_object(Bucket=HISTORY_BUCKET, Key=entry["Key"])["Body"].read().decode()
        rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return rows
