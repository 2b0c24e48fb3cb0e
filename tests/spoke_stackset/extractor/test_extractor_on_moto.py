"""The extraction handler on moto: what lands on the spoke bus, captured by a rule into SQS."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from spoke_runtime_support import (
    MOTO_ACCOUNT_ID,
    REGION,
    CapturedSpoke,
    PutEventsFaults,
    detail_key,
    read_extractor_settings,
    validator,
)

from runtime_common.aws import start_cold, warm_session
from runtime_common.events import entry_size
from spoke_stackset.extractor.runtime import extractor
from spoke_stackset.extractor.runtime.event_builder import serialize
from spoke_stackset.extractor.runtime.extractor import ExtractorSettings, run_extraction

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def extractor_log(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The extractor's structured log lines (its handler holds the stdout of import time)."""
    stream = io.StringIO()
    monkeypatch.setattr(extractor.logger.registered_handler, "stream", stream)
    return stream


def log_records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def settings(metrics: list[dict[str, Any]], event_version: str = "2") -> ExtractorSettings:
    return read_extractor_settings(
        {
            "PROJECT_NAME": "churn",
            "ENVIRONMENT": "dev",
            "METRICS": json.dumps(metrics),
            "SPOKE_BUS_NAME": "dsdash",
            "EVENT_VERSION": event_version,
        }
    )


def v2_details(spoke: CapturedSpoke) -> list[dict[str, Any]]:
    events = spoke.received_events()
    assert {(event["source"], event["detail-type"]) for event in events} <= {
        ("metric_extractor", "metric_extractor")
    }
    details = [event["detail"] for event in events]
    for detail in details:
        validator("metric-event-v2").validate(detail)
    return details


def series(details: list[dict[str, Any]]) -> Counter[tuple[str, float, str]]:
    """Every datapoint as (name, value, dimensions), counted, across events."""
    return Counter(
        (point["MetricName"], point["MetricValue"], json.dumps(point["Dimensions"], sort_keys=True))
        for detail in details
        for point in detail["Metrics"]
    )


def test_v2_extraction_is_one_schema_valid_event_with_every_metric(spoke: CapturedSpoke) -> None:
    spoke.session.client("ssm").put_parameter(Name="/test/value", Value="42.5", Type="String")

    report = run_extraction(
        settings(
            [
                {"name": "TestConstantMetric", "args": {"value": 7}},
                {"name": "TestDimensionedMetric", "args": {"count": 3}},
                {"name": "TestSsmBackedMetric", "args": {"parameter_name": "/test/value"}},
            ]
        ),
        session=spoke.session,
        now=NOW,
    )

    [detail] = v2_details(spoke)
    assert series([detail]) == Counter(
        {
            ("TestConstantMetric", 7, "{}"): 1,
            ("TestDimensionedMetric", 1, '{"Index": "0"}'): 1,
            ("TestDimensionedMetric", 2, '{"Index": "1"}'): 1,
            ("TestDimensionedMetric", 3, '{"Index": "2"}'): 1,
            ("TestSsmBackedMetric", 42.5, "{}"): 1,
        }
    )
    units = {point["MetricName"]: point["Unit"] for point in detail["Metrics"]}
    assert units["TestSsmBackedMetric"] == "None" and units["TestConstantMetric"] == "Count"
    assert detail["Metrics"][0]["Metadata"] == {"Origin": "constant"}
    assert detail["SchemaVersion"] == 2
    assert (detail["ProjectName"], detail["Environment"]) == ("churn", "dev")
    # Without a Lambda context, the identity comes from STS and the session.
    assert (detail["AccountId"], detail["Region"]) == (MOTO_ACCOUNT_ID, REGION)
    assert detail["ExtractionDate"] == "2024-05-01T12:00:00.123Z"
    assert detail["ExtractionId"] == report.extraction_id
    assert detail["Errors"] == []
    assert "Part" not in detail and "PartCount" not in detail
    assert (report.datapoints, report.events, report.put_events_calls) == (5, 1, 1)


def test_one_failing_metric_does_not_stop_the_others(spoke: CapturedSpoke) -> None:
    report = run_extraction(
        settings(
            [
                {"name": "TestAccessDeniedMetric"},
                {"name": "TestConstantMetric", "args": {"value": 3}},
                {"name": "TestBrokenMetric"},
                {"name": "TestSsmBackedMetric", "args": {"parameter_name": "/missing"}},
                {"name": "TestNotANumberMetric"},
                {"name": "TestDimensionedMetric", "args": {"count": 2}},
            ]
        ),
        session=spoke.session,
        now=NOW,
    )

    [detail] = v2_details(spoke)
    assert series([detail]) == Counter(
        {
            ("TestConstantMetric", 3, "{}"): 1,
            ("TestDimensionedMetric", 1, '{"Index": "0"}'): 1,
            ("TestDimensionedMetric", 2, '{"Index": "1"}'): 1,
        }
    )
    errors = {error["MetricName"]: error for error in detail["Errors"]}
    assert set(errors) == {
        "TestAccessDeniedMetric",
        "TestBrokenMetric",
        "TestSsmBackedMetric",
        "TestNotANumberMetric",
    }
    assert errors["TestAccessDeniedMetric"]["ErrorCode"] == "AccessDenied"
    assert "sagemaker:Search" in errors["TestAccessDeniedMetric"]["Message"]
    # A real AWS error from moto keeps its own code.
    assert errors["TestSsmBackedMetric"]["ErrorCode"] == "ParameterNotFound"
    assert errors["TestBrokenMetric"]["ErrorCode"] == "InternalError"
    assert errors["TestBrokenMetric"]["Message"].startswith("ZeroDivisionError:")
    assert errors["TestNotANumberMetric"]["ErrorCode"] == "InvalidDatapoint"
    assert len(report.errors) == 4


def test_an_oversized_extraction_is_split_into_parts(spoke: CapturedSpoke) -> None:
    # 300 datapoints of about 2 KB each: about 600 KB, which needs at least three 256 KB events.
    report = run_extraction(
        settings(
            [
                {"name": "TestLargeMetadataMetric", "args": {"count": 300, "metadata_bytes": 2000}},
                {"name": "TestAccessDeniedMetric"},
            ]
        ),
        session=spoke.session,
        now=NOW,
    )

    details = v2_details(spoke)
    part_count = len(details)
    assert part_count >= 3
    assert sorted(detail["Part"] for detail in details) == list(range(1, part_count + 1))
    assert {detail["PartCount"] for detail in details} == {part_count}
    assert {detail["ExtractionId"] for detail in details} == {report.extraction_id}
    assert {detail["ExtractionDate"] for detail in details} == {"2024-05-01T12:00:00.123Z"}
    for detail in details:
        sent_entry = {
            "Source": "metric_extractor",
            "DetailType": "metric_extractor",
            "Detail": serialize(detail),
        }
        assert entry_size(sent_entry) <= 256 * 1024
    expected = Counter(
        ("TestLargeMetadataMetric", index * 10, json.dumps({"Index": str(index)}))
        for index in range(300)
    )
    assert series(details) == expected
    errors = [error for detail in details for error in detail.get("Errors", [])]
    assert [(error["MetricName"], error["ErrorCode"]) for error in errors] == [
        ("TestAccessDeniedMetric", "AccessDenied")
    ]
    assert report.events == part_count and report.put_events_calls == part_count


def test_a_datapoint_too_large_for_any_event_is_reported_not_sent(spoke: CapturedSpoke) -> None:
    run_extraction(
        settings(
            [
                {
                    "name": "TestLargeMetadataMetric",
                    "args": {"count": 1, "metadata_bytes": 300_000},
                },
                {"name": "TestConstantMetric"},
            ]
        ),
        session=spoke.session,
        now=NOW,
    )

    [detail] = v2_details(spoke)
    assert series([detail]) == Counter({("TestConstantMetric", 7, "{}"): 1})
    [error] = detail["Errors"]
    assert (error["MetricName"], error["ErrorCode"]) == (
        "TestLargeMetadataMetric",
        "DatapointTooLarge",
    )


def test_v1_mode_sends_one_sample_format_event_per_datapoint(
    spoke: CapturedSpoke, extractor_log: io.StringIO
) -> None:
    faults = PutEventsFaults().install(spoke.session)

    report = run_extraction(
        settings(
            [
                {"name": "TestDimensionedMetric", "args": {"count": 22}},
                {"name": "TestConstantMetric", "args": {"value": 5}},
                {"name": "TestAccessDeniedMetric"},
            ],
            event_version="1",
        ),
        session=spoke.session,
        now=NOW,
    )

    events = spoke.received_events()
    v1 = validator("metric-event-v1")
    for event in events:
        v1.validate(event["detail"])
    values = {detail_key(event["detail"]): event["detail"]["MetricValue"] for event in events}
    assert len(events) == 23 == len(values)
    assert values == {
        **{("TestDimensionedMetric", str(index)): index + 1 for index in range(22)},
        ("TestConstantMetric", ""): 5,
    }
    assert all(
        (event["detail"]["ProjectName"], event["detail"]["Environment"]) == ("churn", "dev")
        for event in events
    )
    assert len(faults.calls) == math.ceil(23 / 10) == report.put_events_calls
    # v1 has no place for errors: the AccessDenied is in the function's logs instead.
    assert any(
        record.get("metric_error", {}).get("ErrorCode") == "AccessDenied"
        for record in log_records(extractor_log)
    )


def test_partially_failed_put_events_resends_only_the_failed_entries(
    spoke: CapturedSpoke,
) -> None:
    failing = {("TestDimensionedMetric", "4"), ("TestDimensionedMetric", "17")}

    def fail_two_on_first_attempt(call_number: int, entry: dict[str, Any]) -> str | None:
        key = detail_key(json.loads(entry["Detail"]))
        return "ThrottlingException" if call_number <= 3 and key in failing else None

    faults = PutEventsFaults(fail_two_on_first_attempt).install(spoke.session)
    delays: list[float] = []

    report = run_extraction(
        settings([{"name": "TestDimensionedMetric", "args": {"count": 23}}], event_version="1"),
        session=spoke.session,
        now=NOW,
        sleep=delays.append,
    )

    assert len(faults.calls) == 4
    [resent] = faults.calls[3:]
    assert {detail_key(json.loads(entry["Detail"])) for entry in resent} == failing
    assert len(resent) == 2
    received = Counter(detail_key(event["detail"]) for event in spoke.received_events())
    assert received == Counter({("TestDimensionedMetric", str(index)): 1 for index in range(23)})
    assert len(delays) == 1
    assert report.events == 23 and report.put_events_calls == 4


def test_handler_reads_its_environment_and_takes_identity_from_the_function_arn(
    spoke: CapturedSpoke, monkeypatch: pytest.MonkeyPatch, extractor_log: io.StringIO
) -> None:
    monkeypatch.setenv("PROJECT_NAME", "churn")
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("METRICS", json.dumps([{"name": "TestConstantMetric"}]))
    monkeypatch.setenv("SPOKE_BUS_NAME", "dsdash")
    monkeypatch.delenv("EVENT_VERSION", raising=False)

    def no_sts(session: object) -> None:
        raise AssertionError("the handler must not call STS when it has a Lambda context")

    monkeypatch.setattr(extractor, "identity_from_session", no_sts)
    context = SimpleNamespace(
        invoked_function_arn=f"arn:aws:lambda:{REGION}:111122223333:function:dsdash-spoke-extractor",
        aws_request_id="request-1",
    )
    refresh = {"source": "metric_fetch", "detail": {"RefreshId": "r-1", "RequestedAt": "x"}}

    result = extractor.handler(refresh, context)

    [detail] = v2_details(spoke)
    assert (detail["AccountId"], detail["Region"], detail["Environment"]) == (
        "111122223333",
        REGION,
        "prod",
    )
    assert series([detail]) == Counter({("TestConstantMetric", 7, "{}"): 1})
    assert result["ExtractionId"] == detail["ExtractionId"]
    assert (result["Datapoints"], result["Events"], result["Errors"]) == (1, 1, [])
    # The refresh that asked for it is traceable in the logs (the event schema has no field).
    published = [
        record
        for record in log_records(extractor_log)
        if record["message"] == "extraction published"
    ]
    assert [record["refresh_id"] for record in published] == ["r-1"]


def test_warm_invocations_reuse_the_environments_clients(
    spoke: CapturedSpoke, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Making a client loads its service's model, more CPU than the calls it then makes: a warm
    invocation makes none (docs/architecture.md §7, "Lambda sizing and the cost model")."""
    spoke.session.client("ssm").put_parameter(Name="/a", Value="3", Type="String")
    spoke.session.client("ssm").put_parameter(Name="/b", Value="4", Type="String")
    monkeypatch.setenv("PROJECT_NAME", "churn")
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv(
        "METRICS",
        json.dumps(
            [
                {"name": "TestSsmBackedMetric", "args": {"parameter_name": "/a"}},
                {"name": "TestSsmBackedMetric", "args": {"parameter_name": "/b"}},
            ]
        ),
    )
    start_cold()
    # The hook and the kept clients belong to this test's execution environment only.
    request.addfinalizer(start_cold)
    made: list[str] = []
    warm_session().events.register(
        "creating-client-class", lambda event_name, **_: made.append(event_name)
    )
    context = SimpleNamespace(
        invoked_function_arn=f"arn:aws:lambda:{REGION}:111122223333:function:dsdash-spoke-extractor",
        aws_request_id="request-1",
    )

    first = extractor.handler({"source": "dsdash.spoke-schedule"}, context)
    made_by_first = list(made)
    second = extractor.handler({"source": "dsdash.spoke-schedule"}, context)

    assert (first["Datapoints"], second["Datapoints"]) == (2, 2)
    # One client per service for the first extraction's two listings, none for the second.
    assert sorted(made_by_first) == [
        "creating-client-class.eventbridge",
        "creating-client-class.ssm",
    ]
    assert made == made_by_first
