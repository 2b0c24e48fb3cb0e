"""History delivery packs a batch's rows into as few Firehose records as fit, and a record that
stays refused fails exactly the SQS messages whose rows it carried (moto's Firehose, with botocore
hooks standing in for Firehose's partial refusals)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hub_runtime_support import REGION, create_history_stream, delivered_rows
from moto import mock_aws

from hub_stack.ingest.runtime import history_delivery
from hub_stack.ingest.runtime.history_delivery import HistoryDelivery

FIREHOSE_BILLING_BYTES = 5 * 1024


def _rows(owner: str, count: int) -> list[dict[str, Any]]:
    return [{"owner": owner, "index": index, "padding": "x" * 200} for index in range(count)]


@pytest.fixture
def delivery() -> Iterator[tuple[boto3.Session, HistoryDelivery]]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        yield session, create_history_stream(session)


def _record_log(history: HistoryDelivery) -> list[list[bytes]]:
    """The records of every PutRecordBatch call, in order."""
    calls: list[list[bytes]] = []
    history._client.meta.events.register(
        "before-parameter-build.firehose.PutRecordBatch",
        lambda params, **_: calls.append([record["Data"] for record in params["Records"]]),
    )
    return calls


def _owners(record: bytes) -> set[str]:
    return {json.loads(line)["owner"] for line in record.decode().splitlines()}


def test_a_batch_of_small_events_is_one_record_billed_by_its_bytes(
    delivery: tuple[boto3.Session, HistoryDelivery],
) -> None:
    session, history = delivery
    calls = _record_log(history)
    for message in range(10):
        history.add(f"m{message}", _rows(f"m{message}", 15))

    assert history.flush() == []

    (records,) = calls
    (record,) = records
    assert _owners(record) == {f"m{message}" for message in range(10)}
    billed_packed = -(-len(record) // FIREHOSE_BILLING_BYTES)
    # One record per event would bill each event's ~3.5 KB as a whole 5 KB increment.
    assert billed_packed < 10
    assert [row["index"] for row in delivered_rows(session)] == list(range(15)) * 10


def test_records_stay_under_the_record_limit_and_a_refused_one_fails_its_owners_only(
    delivery: tuple[boto3.Session, HistoryDelivery], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, history = delivery
    # Small records, so three events of 15 rows spread over several of them.
    monkeypatch.setattr(history_delivery, "MAX_RECORD_BYTES", 2_000)
    pauses: list[float] = []
    monkeypatch.setattr(history, "_sleep", pauses.append)
    calls = _record_log(history)
    refused_owner = "m1"

    def refuse(parsed: dict[str, Any], context: Any, **_: Any) -> None:
        answers = parsed["RequestResponses"]
        for index, record in enumerate(context["params"]["Records"]):
            if refused_owner in _owners(record["Data"]):
                answers[index] = {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "x"}
        parsed["FailedPutCount"] = sum(1 for answer in answers if "ErrorCode" in answer)

    def remember(params: dict[str, Any], context: Any, **_: Any) -> None:
        context["params"] = params

    events = history._client.meta.events
    events.register("before-parameter-build.firehose.PutRecordBatch", remember)
    events.register("after-call.firehose.PutRecordBatch", refuse)
    for message in range(3):
        history.add(f"m{message}", _rows(f"m{message}", 15))

    failed = history.flush()

    first = calls[0]
    assert all(len(record) <= 2_000 for record in first)
    assert len(first) == -(-sum(len(record) for record in first) // 2_000)  # packed full
    refused = [record for record in first if refused_owner in _owners(record)]
    expected = sorted(set().union(*(_owners(record) for record in refused)))
    # m1's rows span records shared with m0 and m2: exactly those records' owners fail.
    assert sorted(failed) == expected and refused_owner in failed
    # Retries send only the refused records; the others were delivered once.
    assert all(set(call) == set(refused) for call in calls[1:]) and len(calls) > 1
    # Each resend waits on the one backoff schedule (runtime_common.backoff): 0.1 s doubling,
    # capped at 3 s, before each of the 5 retries of 6 attempts.
    assert pauses == [0.1, 0.2, 0.4, 0.8, 1.6]
