"""Hardening: a fixed corpus of hostile events through the real ingest handler, on moto.

The corpus (`bench/hostile_events.py`) is built by checked-in mutators from two valid events, and
says for each case what a correct hub does: refuse it, or store exactly these datapoints. Every
case goes through `hub_stack.ingest.runtime.ingest.handler`, the Lambda entry point, as its own SQS
batch, against a moto table with an enrolled spoke. The figures are counted from what the handler
did and what history holds afterwards (the delivered rows, one per datapoint key as queries keep
them):

- `hostile_events`: cases in the corpus (refusals expected, plus benign variants and replays);
- `stored_wrongly`: cases whose stored datapoints differ from the expected ones, or that were
  stored (even in part) when they should have been refused, or that changed the history of the
  event they replay;
- `crashes`: exceptions escaping the handler, and records handed back to SQS for a retry (every
  case here is permanent: a retry could only end in the dead-letter queue).

`valid_variants_refused` counts benign variants the hub refused (a correct hub stores them).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from bench import hostile_events
from bench.hostile_events import HostileCase, build_corpus
from bench.support import BenchmarkResult
from contracts import HUB_TABLE_NAME
from contracts.history_table import HISTORY_DELIVERY_STREAM_NAME
from hub_stack import table_design
from hub_stack.ingest.runtime import ingest
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeState

SQS_ARN = f"arn:aws:sqs:{hostile_events.REGION}:999999999999:dsdash-hub-ingest"


# Cases go through the handler ten to a batch (the hub's queue sends up to 100), so the corpus
# costs a few invocations; a batch the handler fails as a whole is rerun one case at a time, to
# count exactly which cases crash.
CASES_PER_BATCH = 10


def _sqs_record(case: HostileCase) -> dict[str, Any]:
    return {
        "messageId": f"message-{case.event_id}",
        "receiptHandle": f"receipt-{case.event_id}",
        "body": case.body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": SQS_ARN,
        "awsRegion": hostile_events.REGION,
    }


HISTORY_BUCKET = "bench-hardening-history"


def _create_history_stream() -> None:
    """The delivery stream ingest puts history rows on (moto keeps them as JSON lines)."""
    s3 = boto3.client("s3", region_name=hostile_events.REGION)
    s3.create_bucket(
        Bucket=HISTORY_BUCKET,
        CreateBucketConfiguration={"LocationConstraint": hostile_events.REGION},
    )
    boto3.client("firehose", region_name=hostile_events.REGION).create_delivery_stream(
        DeliveryStreamName=HISTORY_DELIVERY_STREAM_NAME,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{HISTORY_BUCKET}",
            "Prefix": "history/",
        },
    )


def _history_by_event() -> dict[str, set[tuple[str, float, str]]]:
    """What queries return of history, grouped by the event id that delivered each row: the
    rows as delivered, one per datapoint key (the first ingested), as the query layer keeps them
    (contracts.history_table). Values are the table's doubles."""
    s3 = boto3.client("s3", region_name=hostile_events.REGION)
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=HISTORY_BUCKET):
        for entry in sorted(page.get("Contents", []), key=lambda e: (e["LastModified"], e["Key"])):
            body = s3.get_object(Bucket=HISTORY_BUCKET, Key=entry["Key"])["Body"].read().decode()
            rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    first: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[name] for name in DATAPOINT_KEY)
        if key not in first or row["ingested_at"] < first[key]["ingested_at"]:
            first[key] = row
    found: dict[str, set[tuple[str, float, str]]] = {}
    for row in first.values():
        found.setdefault(row["event_id"], set()).add(
            (row["metric_name"], float(row["metric_value"]), row["unit"])
        )
    return found


# The key queries deduplicate replayed rows on (contracts.history_table).
DATAPOINT_KEY = (
    "account_id",
    "region",
    "project",
    "environment",
    "metric_name",
    "dimensions",
    "extraction_time",
)


def _as_doubles(stored: Any) -> set[tuple[str, float, str]]:
    return {(name, float(value), unit) for name, value, unit in stored}


def _enroll(store: HubStore) -> None:
    store.registry.set_spoke_state(
        hostile_events.ENROLLED_ACCOUNT,
        SpokeState.ENROLLED,
        project_name="alpha",
        environment="dev",
    )
    store.registry.set_spoke_state(
        hostile_events.OTHER_ENROLLED_ACCOUNT,
        SpokeState.ENROLLED,
        project_name="beta",
        environment="prod",
    )
    store.registry.set_spoke_state(
        hostile_events.OFFBOARDED_ACCOUNT,
        SpokeState.OFFBOARDED,
        reason="account closed",
        project_name="alpha",
        environment="dev",
    )


def _run_batch(cases: list[HostileCase]) -> list[tuple[str, str]]:
    """(case name, why) for each case of the batch that crashed or was handed back to SQS."""
    try:
        response = ingest.handler({"Records": [_sqs_record(case) for case in cases]}, None)
    except Exception as error:  # the figure counts exactly this: anything escaping the handler
        if len(cases) > 1:
            return [crash for case in cases for crash in _run_batch([case])]
        return [(cases[0].name, f"{type(error).__name__}: {error}")]
    retried = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
    return [
        (case.name, "handed back to SQS for a retry")
        for case in cases
        if f"message-{case.event_id}" in retried
    ]


def run(*, quick: bool = False) -> BenchmarkResult:
    """The corpus is fixed, so quick and full runs are the same size."""
    result = BenchmarkResult("hardening", "Hardening: hostile events through the ingest handler")
    ingest.logger.setLevel(logging.ERROR)
    now = datetime.now(UTC).replace(microsecond=0)
    baseline, cases = build_corpus(now)
    environment = {
        "TABLE_NAME": HUB_TABLE_NAME,
        "RETENTION_DAYS": str(hostile_events.RETENTION_DAYS),
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        with mock_aws():
            figures = _measure(baseline, cases)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    section = result.section(f"{figures['hostile_events']} cases from a fixed corpus")
    section.add("hostile events (corpus size)", figures["hostile_events"])
    section.add(
        "expected refusals / benign variants",
        f"{figures['expected_refusals']} / {figures['valid_variants']}",
    )
    section.add("stored wrongly", figures["stored_wrongly"], "goal 0")
    section.add("crashes (escaped or retried)", figures["crashes"], "goal 0")
    section.add("benign variants refused", figures["valid_variants_refused"], "goal 0")
    for name, reason in figures.pop("problems"):
        result.notes.append(f"{name}: {reason}")
    result.figures.update(figures)
    return result


def _measure(baseline: HostileCase, cases: list[HostileCase]) -> dict[str, Any]:
    client = boto3.client("dynamodb", region_name=hostile_events.REGION)
    table_design.create_table(client, HUB_TABLE_NAME)
    _create_history_stream()
    _enroll(HubStore(HUB_TABLE_NAME, boto3.Session(region_name=hostile_events.REGION)))

    baseline_crash = _run_batch([baseline])
    if baseline_crash:
        raise RuntimeError(f"the baseline event was not stored: {baseline_crash}")
    problems: list[tuple[str, str]] = []
    for start in range(0, len(cases), CASES_PER_BATCH):
        problems += _run_batch(cases[start : start + CASES_PER_BATCH])
    crashes = len(problems)

    history = _history_by_event()
    wrongly: Counter[str] = Counter()
    refused_valid = 0
    baseline_values = _as_doubles(baseline.stored)
    if history.get(baseline.event_id) != baseline_values:
        wrongly["baseline history changed"] += 1
        problems.append(("baseline", f"history now {history.get(baseline.event_id)}"))
    for case in cases:
        written = history.get(case.event_id, set())
        if case.refuse:
            if written:
                wrongly[case.name] += 1
                problems.append((case.name, f"stored {sorted(written)} instead of refusing"))
        elif case.replays_baseline:
            if written:
                wrongly[case.name] += 1
                problems.append((case.name, f"rewrote history: {sorted(written)}"))
        elif written != _as_doubles(case.stored):
            if written:
                wrongly[case.name] += 1
                problems.append((case.name, f"stored {sorted(written)}, expected {case.stored}"))
            else:
                refused_valid += 1
                problems.append((case.name, "a benign variant was refused"))
    return {
        "hostile_events": len(cases),
        "expected_refusals": sum(case.refuse for case in cases),
        "valid_variants": sum(not case.refuse for case in cases),
        "stored_wrongly": sum(wrongly.values()),
        "crashes": crashes,
        "valid_variants_refused": refused_valid,
        "problems": problems,
    }
