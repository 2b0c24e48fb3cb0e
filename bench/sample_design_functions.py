"""The original sample's two Lambda functions, reconstructed for the cost benchmark's CPU and memory
measurement (`bench.lambda_footprint`): the sample's design, named as such, on the same model as
dsdash's functions.

- `extractor`: per metric one unpaginated listing (ListTrainingJobs, the sample's metrics count
  training jobs) and one PutEvents call carrying that metric's v1 event;
- `hub`: invoked by EventBridge with one v1 event, writes its detail as one DynamoDB item
  (PutItem with boto3's resource layer, keyed (MetricName, ExtractionDate)).

The payload's `metric_count` says how many metrics the extraction computes, so one warm process
measures the per-metric CPU time. The sample's code is not in this repository; its clients are
taken as created once per process and reused by warm invocations (the usual Lambda pattern, and
the cheapest: dsdash's handlers build a session per invocation, which the measurement shows),
so the comparison errs in the sample's favour.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3

from spoke_stackset.extractor.runtime.event_builder import ExtractionEnvelope, build_v1_entries


@functools.cache
def _session() -> boto3.Session:
    return boto3.Session()


@functools.cache
def _client(service: str) -> Any:
    return _session().client(service)  # type: ignore[call-overload]


@functools.cache
def _table(name: str) -> Any:
    return _session().resource("dynamodb").Table(name)


def create_sample_table(dynamodb: Any, table_name: str) -> None:
    """The sample's metric table, keyed (MetricName, ExtractionDate), on demand: the one layout
    both cost measurements (calls in `bench.cost`, CPU in `bench.lambda_footprint`) write to."""
    dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "MetricName", "KeyType": "HASH"},
            {"AttributeName": "ExtractionDate", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "MetricName", "AttributeType": "S"},
            {"AttributeName": "ExtractionDate", "AttributeType": "S"},
        ],
    )


def extractor(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sagemaker, events = _client("sagemaker"), _client("events")
    _, _, _, region, account, *_ = str(context.invoked_function_arn).split(":")
    envelope = ExtractionEnvelope(
        project_name=os.environ["PROJECT_NAME"],
        environment=os.environ["ENVIRONMENT"],
        account_id=account,
        region=region,
        extraction_date=datetime.now(UTC),
        extraction_id=str(uuid.uuid4()),
    )
    sent = 0
    for index in range(int(event["metric_count"])):
        jobs = sagemaker.list_training_jobs()["TrainingJobSummaries"]  # one page: the sample's
        completed = sum(job["TrainingJobStatus"] == "Completed" for job in jobs)
        datapoint = {
            "MetricName": f"SampleMetric{index}",
            "MetricValue": completed,
            "Unit": "Count",
            "Dimensions": {},
            "Metadata": {},
        }
        entries = build_v1_entries(envelope, [datapoint], os.environ["SPOKE_BUS_NAME"]).entries
        events.put_events(Entries=entries)
        sent += len(entries)
    return {"events": sent}


def hub(event: dict[str, Any], context: Any) -> None:
    table = _table(os.environ["TABLE_NAME"])
    detail = json.loads(json.dumps(event["detail"]), parse_float=Decimal, parse_int=Decimal)
    table.put_item(Item=detail)
