"""Publishing: PutEvents calls and event sizes of one extraction, v1 against v2.

The datapoints go through the spoke extractor's own event building
(`spoke_stackset.extractor.runtime.event_builder`: `datapoint_details`, `build_v1_entries`,
`build_v2_entries`) and are sent with `runtime_common.events.put_events` to a moto `dsdash` bus.
A botocore `before-call` hook counts the PutEvents calls. Bytes are counted as EventBridge counts
them against its entry limit (`runtime_common.events.entry_size`).

The datapoints are the catalog's scalar metrics plus one dimensioned metric
(CompletedTrainingJobsByInstanceType, one datapoint per instance type) that fills up to the size
measured: 137 datapoints is a spoke with 124 instance types in use, or any selection that
produces as many datapoints.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from bench.support import AwsCallCounter, BenchmarkResult, ceil_div, format_ratio, ratio
from contracts import PUT_EVENTS_MAX_ENTRIES, PUT_EVENTS_MAX_ENTRY_BYTES, SPOKE_BUS_NAME
from metrics.base import Datapoint
from metrics.registry import all_metric_classes
from runtime_common.aws import client
from runtime_common.events import entry_size, put_events
from spoke_stackset.extractor.runtime.event_builder import (
    ExtractionEnvelope,
    build_v1_entries,
    build_v2_entries,
    datapoint_details,
)

REGION = "eu-west-1"
DIMENSIONED_METRIC = "CompletedTrainingJobsByInstanceType"
HEADLINE_DATAPOINTS = 137
FULL_DATAPOINT_COUNTS = (15, HEADLINE_DATAPOINTS, 1_000, 2_500)
QUICK_DATAPOINT_COUNTS = (15, HEADLINE_DATAPOINTS, 1_200)
INSTANCE_FAMILIES = ("m5", "c5", "r5", "g5", "p3", "p4d", "t3", "inf1", "trn1", "m6i", "c6i")
INSTANCE_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge")


def instance_type(index: int) -> str:
    family = INSTANCE_FAMILIES[index % len(INSTANCE_FAMILIES)]
    size = INSTANCE_SIZES[index // len(INSTANCE_FAMILIES) % len(INSTANCE_SIZES)]
    generation = index // (len(INSTANCE_FAMILIES) * len(INSTANCE_SIZES))
    return f"ml.{family}.{size}" + (f"-{generation}" if generation else "")


def extraction_datapoints(count: int) -> list[dict[str, Any]]:
    """`count` v2 datapoints: every scalar catalog metric once, the rest by instance type."""
    classes = all_metric_classes()
    scalar_names = [name for name in classes if name != DIMENSIONED_METRIC]
    details: list[dict[str, Any]] = []
    for index, name in enumerate(scalar_names[:count]):
        details += datapoint_details(
            name, classes[name].unit, [Datapoint(10 + index, metadata={"WindowHours": 24})]
        )
    dimensioned = [
        Datapoint(index + 1, dimensions={"InstanceType": instance_type(index)})
        for index in range(count - len(details))
    ]
    details += datapoint_details(DIMENSIONED_METRIC, classes[DIMENSIONED_METRIC].unit, dimensioned)
    return details


def _envelope(account_id: str) -> ExtractionEnvelope:
    return ExtractionEnvelope(
        project_name="fraud-detection",
        environment="prod",
        account_id=account_id,
        region=REGION,
        extraction_date=datetime.now(UTC),
        extraction_id=str(uuid.uuid4()),
    )


def _send(
    session: boto3.Session, counter: AwsCallCounter, entries: Sequence[dict[str, Any]]
) -> tuple[int, int]:
    """Send the entries; return (PutEvents calls counted by the hook, entries accepted)."""
    counter.reset()
    report = put_events(client(session, "events"), entries)
    return counter.count("PutEvents"), report.sent


def run(*, quick: bool = False) -> BenchmarkResult:
    counts = QUICK_DATAPOINT_COUNTS if quick else FULL_DATAPOINT_COUNTS
    result = BenchmarkResult("publishing", "Publishing: PutEvents calls and bytes, v1 vs v2")
    table = result.section(
        f"Per extraction (PutEvents takes {PUT_EVENTS_MAX_ENTRIES} entries per call, "
        f"{PUT_EVENTS_MAX_ENTRY_BYTES // 1024} KB per entry)"
    )
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        session.client("events").create_event_bus(Name=SPOKE_BUS_NAME)
        account_id = session.client("sts").get_caller_identity()["Account"]
        counter = AwsCallCounter(session)
        for count in counts:
            datapoints = extraction_datapoints(count)
            envelope = _envelope(account_id)
            v1 = build_v1_entries(envelope, datapoints, SPOKE_BUS_NAME)
            v2 = build_v2_entries(envelope, datapoints, [], SPOKE_BUS_NAME)
            v1_calls, v1_sent = _send(session, counter, v1.entries)
            v2_calls, v2_sent = _send(session, counter, v2.entries)
            v1_bytes = [entry_size(entry) for entry in v1.entries]
            v2_bytes = [entry_size(entry) for entry in v2.entries]
            one_call_per_entry = len(v1.entries)
            batching_ratio = ratio(one_call_per_entry, v1_calls)
            v1_to_v2_calls = ratio(v1_calls, v2_calls)
            table.add(
                f"{count:,} datapoints, v1 PutEvents calls",
                v1_calls,
                f"{len(v1.entries):,} events, ceil({len(v1.entries):,}/10) = "
                f"{ceil_div(len(v1.entries), PUT_EVENTS_MAX_ENTRIES):,}; one call per event "
                f"would be {one_call_per_entry:,} ({format_ratio(batching_ratio)}); "
                f"{sum(v1_bytes) / len(v1_bytes):,.0f} B/event, {sum(v1_bytes):,} B in all",
            )
            table.add(
                f"{count:,} datapoints, v2 PutEvents calls",
                v2_calls,
                f"{len(v2.entries):,} event(s) of {', '.join(f'{b:,}' for b in v2_bytes)} B "
                f"({sum(v2_bytes) / count:,.0f} B/datapoint); "
                f"v1/v2 calls {format_ratio(v1_to_v2_calls)}, "
                f"events {format_ratio(ratio(len(v1.entries), len(v2.entries)))}",
            )
            prefix = f"n{count}_"
            result.figures.update(
                {
                    f"{prefix}datapoints": count,
                    f"{prefix}v1_events": len(v1.entries),
                    f"{prefix}v1_sent": v1_sent,
                    f"{prefix}v1_put_events_calls": v1_calls,
                    f"{prefix}v1_one_call_per_event": one_call_per_entry,
                    f"{prefix}v1_batching_ratio": batching_ratio,
                    f"{prefix}v1_bytes_per_event": sum(v1_bytes) / len(v1_bytes),
                    f"{prefix}v1_bytes_total": sum(v1_bytes),
                    f"{prefix}v2_events": len(v2.entries),
                    f"{prefix}v2_sent": v2_sent,
                    f"{prefix}v2_put_events_calls": v2_calls,
                    f"{prefix}v2_bytes_per_event": sum(v2_bytes) / len(v2_bytes),
                    f"{prefix}v2_bytes_total": sum(v2_bytes),
                    f"{prefix}v1_to_v2_calls": v1_to_v2_calls,
                }
            )
    result.figures["headline_datapoints"] = HEADLINE_DATAPOINTS
    result.notes.append(
        "v2 splits an extraction into parts (Part/PartCount) only past 256 KB or 1,000 "
        "datapoints per event"
    )
    return result
