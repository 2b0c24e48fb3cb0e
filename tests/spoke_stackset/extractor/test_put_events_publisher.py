"""runtime_common.events: batching, sizing and entry-level retries of PutEvents."""

from __future__ import annotations

import json
import math
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from spoke_runtime_support import REGION, CapturedSpoke, PutEventsFaults

from runtime_common.aws import client
from runtime_common.events import (
    EntryTooLargeError,
    PutEventsFailed,
    entry_size,
    put_events,
)


def numbered_entries(count: int, padding: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "Source": "metric_extractor",
            "DetailType": "metric_extractor",
            "Detail": json.dumps({"Number": number, "Padding": "p" * padding}),
            "EventBusName": "dsdash",
        }
        for number in range(count)
    ]


def received_numbers(spoke: CapturedSpoke) -> list[int]:
    return sorted(event["detail"]["Number"] for event in spoke.received_events())


def test_entry_size_counts_what_aws_counts() -> None:
    entry = {
        "Time": "2024-05-01T00:00:00Z",  # always 14 bytes, whatever its form
        "Source": "a.b",  # 3
        "DetailType": "dt",  # 2
        "Detail": '{"k":"é"}',  # 9 characters, "é" is 2 bytes in UTF-8: 10
        "Resources": ["arn1", "ü"],  # 4 + 2
        "EventBusName": "not counted",
    }
    assert entry_size(entry) == 14 + 3 + 2 + 10 + 4 + 2


def test_batches_of_at_most_ten_entries_and_each_arrives_once(spoke: CapturedSpoke) -> None:
    faults = PutEventsFaults().install(spoke.session)

    report = put_events(client(spoke.session, "events"), numbered_entries(25))

    assert [len(call) for call in faults.calls] == [10, 10, 5]
    assert report.calls == math.ceil(25 / 10)
    assert report.sent == 25 and report.failed == ()
    assert received_numbers(spoke) == list(range(25))


def test_batches_stay_within_256_kb_in_total(spoke: CapturedSpoke) -> None:
    faults = PutEventsFaults().install(spoke.session)
    entries = numbered_entries(3, padding=100 * 1024)

    put_events(client(spoke.session, "events"), entries)

    assert [len(call) for call in faults.calls] == [2, 1]
    assert all(sum(entry_size(entry) for entry in call) <= 256 * 1024 for call in faults.calls)
    assert received_numbers(spoke) == [0, 1, 2]


def test_only_failed_entries_are_resent_with_backoff(spoke: CapturedSpoke) -> None:
    def fail_some_on_first_call(call_number: int, entry: dict[str, Any]) -> str | None:
        number = json.loads(entry["Detail"])["Number"]
        if call_number == 1 and number in (3, 8):
            return "ThrottlingException"
        if call_number == 2 and number == 14:
            return "InternalFailure"
        return None

    faults = PutEventsFaults(fail_some_on_first_call).install(spoke.session)
    delays: list[float] = []

    report = put_events(
        client(spoke.session, "events"),
        numbered_entries(15),
        sleep=delays.append,
        jitter=lambda: 1.0,
    )

    resent = [
        [json.loads(entry["Detail"])["Number"] for entry in call] for call in faults.calls[2:]
    ]
    assert resent == [[3, 8, 14]]
    assert report.calls == 3 and report.attempts == 2
    assert report.sent == 15 and all(report.event_ids)
    assert received_numbers(spoke) == list(range(15))
    assert len(delays) == 1 and 0 < delays[0] <= 5.0


def test_non_retryable_failures_are_not_resent_and_raise(spoke: CapturedSpoke) -> None:
    def malformed_third(call_number: int, entry: dict[str, Any]) -> str | None:
        return "MalformedDetail" if json.loads(entry["Detail"])["Number"] == 2 else None

    faults = PutEventsFaults(malformed_third).install(spoke.session)

    with pytest.raises(PutEventsFailed) as raised:
        put_events(client(spoke.session, "events"), numbered_entries(4), sleep=lambda _: None)

    assert len(faults.calls) == 1
    [failure] = raised.value.failures
    assert (failure.index, failure.error_code) == (2, "MalformedDetail")
    assert "MalformedDetail" in str(raised.value)
    assert received_numbers(spoke) == [0, 1, 3]


def test_persistent_failures_stop_after_max_attempts_with_growing_delays() -> None:
    events = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("events")
    entries = numbered_entries(2)
    throttled = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
    with Stubber(events) as stubber:
        stubber.add_response(
            "put_events", {"FailedEntryCount": 1, "Entries": [{"EventId": "kept"}, throttled]}
        )
        for _ in range(3):
            stubber.add_response("put_events", {"FailedEntryCount": 1, "Entries": [throttled]})
        delays: list[float] = []
        with pytest.raises(PutEventsFailed) as raised:
            put_events(events, entries, max_attempts=4, sleep=delays.append, jitter=lambda: 1.0)

    assert delays == [0.1, 0.2, 0.4]
    [failure] = raised.value.failures
    assert (failure.index, failure.error_code, failure.error_message) == (
        1,
        "ThrottlingException",
        "slow down",
    )
    assert raised.value.report.event_ids == ("kept", None)
    assert raised.value.report.calls == 4


def test_whole_request_error_fails_the_batch_with_its_code() -> None:
    events = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("events")
    with Stubber(events) as stubber:
        stubber.add_client_error(
            "put_events", service_error_code="AccessDeniedException", service_message="denied"
        )
        with pytest.raises(PutEventsFailed) as raised:
            put_events(events, numbered_entries(3), sleep=lambda _: None)
        stubber.assert_no_pending_responses()

    assert {failure.error_code for failure in raised.value.failures} == {"AccessDeniedException"}
    assert [failure.index for failure in raised.value.failures] == [0, 1, 2]


def test_an_oversized_entry_is_refused_before_any_call(spoke: CapturedSpoke) -> None:
    faults = PutEventsFaults().install(spoke.session)
    entries = numbered_entries(2)
    entries.append(numbered_entries(1, padding=256 * 1024)[0])

    with pytest.raises(EntryTooLargeError, match=r"entry #2 is \d+ bytes, over the 262144"):
        put_events(client(spoke.session, "events"), entries)

    assert faults.calls == []
    assert spoke.received_events() == []
