"""The ingest Lambda on moto, counting its AWS calls: one registry read per batch, one write
and one history record per event, bounded updates for a large extraction."""

from __future__ import annotations

import json
import math
from typing import Any

from hub_ingest_support import HOSTILE_EVENTS, VALID_RECORDS, mixed_batch, run_ingest
from hub_runtime_support import TABLE_NAME, Hub, delivered_rows, sqs_batch, sqs_record, v2_event

from hub_stack.runtime import latest_values


def test_registry_reads_only_the_distinct_senders_of_the_batch(enrolled_hub: Hub) -> None:
    reads: list[list[str]] = []
    enrolled_hub.client.meta.events.register(
        "before-call.dynamodb.BatchGetItem",
        lambda params, **_: reads.append(
            [
                key["SK"]["S"]
                for key in json.loads(params["body"])["RequestItems"][TABLE_NAME]["Keys"]
            ]
        ),
    )
    queries: list[Any] = []
    enrolled_hub.client.meta.events.register(
        "before-call.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    batch = mixed_batch()
    senders = {
        body["account"]
        for body in [*VALID_RECORDS.values(), *(b for b, _ in HOSTILE_EVENTS.values())]
        if isinstance(body, dict) and "account" in body
    }

    run_ingest(enrolled_hub, batch)

    # One BatchGetItem of the distinct envelope accounts, whatever the registry's size; never
    # the registry partition.
    assert len(reads) == 1
    assert sorted(reads[0]) == sorted(senders)
    assert not queries


def test_one_event_costs_one_dynamodb_write_and_one_history_record(
    enrolled_hub: Hub,
) -> None:
    writes: list[str] = []
    for operation in ("PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem"):
        enrolled_hub.client.meta.events.register(
            f"before-call.dynamodb.{operation}", lambda model, **_: writes.append(model.name)
        )
    records: list[int] = []
    enrolled_hub.history._client.meta.events.register(
        "before-parameter-build.firehose.PutRecordBatch",
        lambda params, **_: records.append(len(params["Records"])),
    )

    run_ingest(enrolled_hub, sqs_batch([sqs_record(v2_event(), "one")]))

    # The latest item holds the spoke's freshness: no registry write.
    assert writes == ["UpdateItem"]
    assert records == [1]
    assert len(delivered_rows(enrolled_hub.session)) == len(v2_event()["detail"]["Metrics"])


def test_a_large_extraction_is_written_in_bounded_updates(enrolled_hub: Hub) -> None:
    metric_count = 100
    metrics = [
        {
            "MetricName": "CompletedTrainingJobsByInstanceType",
            "MetricValue": index,
            "Unit": "Count",
            "Dimensions": {"InstanceType": f"ml.type{index}"},
            "Metadata": {},
        }
        for index in range(metric_count)
    ]
    updates: list[int] = []
    enrolled_hub.client.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem",
        lambda params, **_: updates.append(len(params["ExpressionAttributeValues"])),
    )

    response = run_ingest(
        enrolled_hub, sqs_batch([sqs_record(v2_event(Metrics=metrics, Errors=[]), "big")])
    )

    assert response == {"batchItemFailures": []}
    # Expressions stay under DynamoDB's 4 KB: the series are split over a few updates.
    assert len(updates) == math.ceil(metric_count / latest_values.SERIES_PER_UPDATE)
    assert len(enrolled_hub.store.latest_values("alpha")) == metric_count
    assert len(delivered_rows(enrolled_hub.session)) == metric_count
