"""Faults at ingest, through the real retrying client: a permanently throttled write gives its
record back to SQS within the retry budget while the rest of the batch is stored, and a batch
running out of time hands its unstarted records back instead of timing out with all of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from hub_runtime_support import (
    NOW,
    RETENTION_DAYS,
    TABLE_NAME,
    Hub,
    delivered_rows,
    sqs_batch,
    sqs_record,
    v1_event,
    v2_event,
    with_envelope,
)

from hub_stack.ingest.runtime import ingest
from hub_stack.ingest.runtime.ingest_budget import (
    CALL_MAX_ATTEMPTS,
    CALL_RETRY_SLEEP_BOUND_SECONDS,
    INGEST_CLIENT_CONFIG,
    RECORD_RESERVE_SECONDS,
)
from hub_stack.runtime import latest_item_format
from hub_stack.runtime.store import HubStore
from runtime_common.aws import client as aws_client


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def _throttle_latest_writes_of(metric_name: str, attempts: list[str]) -> Any:
    """A before-send hook: DynamoDB answers ThrottlingException, for good, to every UpdateItem of
    the latest item that names `metric_name`. botocore's retry handler sees a real 400 response."""

    # The series' attribute name, as the update names it (`latest_item_format.series_attribute`).
    series = f'"{latest_item_format.SERIES_PREFIX}{latest_item_format.metric_code(metric_name)}'

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if not target.endswith("UpdateItem") or series not in request.body.decode():
            return None
        attempts.append(metric_name)
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                "message": "Rate of requests exceeds the allowed throughput.",
            }
        ).encode()
        return AWSResponse(request.url, 400, {"x-amzn-requestid": "throttled"}, _Body(body))

    return throttle


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's backoff between attempts, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", recorded.append)
    return recorded


def _store(hub: Hub, config: Any) -> HubStore:
    # What the handler builds: the ingest's own client configuration.
    client = aws_client(hub.session, "dynamodb", config=config)
    return HubStore(TABLE_NAME, dynamodb_client=client, sleep=hub.sleeps.append, clock=lambda: NOW)


def _beta_free_batch() -> dict[str, Any]:
    return sqs_batch(
        [
            sqs_record(v1_event(), "v1-total-jobs"),
            sqs_record(v2_event(), "v2-with-percent"),
        ]
    )


def test_a_permanently_throttled_write_is_bounded_and_alone_returned_to_sqs(
    enrolled_hub: Hub, sleeps: list[float]
) -> None:
    store = _store(enrolled_hub, INGEST_CLIENT_CONFIG)
    attempts: list[str] = []
    store._client.meta.events.register(  # the store's own client, as in production
        "before-send.dynamodb.UpdateItem",
        _throttle_latest_writes_of("ManagedSpotSavingsPercent", attempts),
    )

    response = ingest.ingest_batch(
        _beta_free_batch(),
        store=store,
        history=enrolled_hub.history,
        retention_days=RETENTION_DAYS,
        clock=lambda: NOW,
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "v2-with-percent"}]}
    # One throttled call: CALL_MAX_ATTEMPTS attempts, then the record gave up.
    assert len(attempts) == CALL_MAX_ATTEMPTS
    assert len(sleeps) == CALL_MAX_ATTEMPTS - 1
    assert sum(sleeps) <= CALL_RETRY_SLEEP_BOUND_SECONDS
    # The other record of the batch is stored in full.
    # (Not the latest item: botocore hands a request to every before-send handler, so moto
    # applies the update that the hook answers as throttled.) The failed record delivered no row.
    assert [row["metric_name"] for row in delivered_rows(enrolled_hub.session)] == [
        "TotalCompletedTrainingJobs"
    ]


class _Context:
    """A Lambda context whose clock runs out after `records_with_room` records."""

    def __init__(self, records_with_room: int) -> None:
        self.calls = 0
        self.records_with_room = records_with_room

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        room = self.calls <= self.records_with_room
        return int((RECORD_RESERVE_SECONDS + 5 if room else RECORD_RESERVE_SECONDS - 1) * 1000)


def test_records_not_started_in_time_go_back_to_sqs_untouched(enrolled_hub: Hub) -> None:
    records = [
        sqs_record(
            with_envelope(
                v1_event(ExtractionDate=f"2025-06-01T10:0{minute}:00Z"), id=f"event-{minute}"
            ),
            f"record-{minute}",
        )
        for minute in range(4)
    ]

    response = ingest.ingest_batch(
        sqs_batch(records),
        _Context(records_with_room=2),  # type: ignore[arg-type]
        store=enrolled_hub.store,
        history=enrolled_hub.history,
        retention_days=RETENTION_DAYS,
        clock=lambda: NOW,
    )

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "record-2"}, {"itemIdentifier": "record-3"}]
    }
    history = delivered_rows(enrolled_hub.session)
    assert sorted(row["extraction_time"][:19] for row in history) == [
        "2025-06-01T10:00:00",
        "2025-06-01T10:01:00",
    ]
