"""Events of the original sample's spokes (aws-samples/ds-dashboard), exactly as it writes them,
reach the hub's history: naive timestamps read as UTC, numeric strings as numbers, free-text
project names resolved ignoring case or through aliases. What cannot be read is quarantined with
its real cause, and a stranger's event says "not enrolled" whatever else is wrong with it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hub_runtime_support import (
    EVENTS,
    OFFBOARDED_ACCOUNT,
    RETENTION_DAYS,
    STRANGER_ACCOUNT,
    Hub,
    delivered_rows,
    load_event,
    sqs_batch,
    sqs_record,
    v2_event,
    with_envelope,
)

from hub_stack.ingest.runtime import ingest
from hub_stack.ingest.runtime.ingest_settings import IngestConfigurationError, IngestSettings
from hub_stack.ingest.runtime.sample_compatibility import (
    PROJECT_ALIASES_ENVIRONMENT_VARIABLE,
    ProjectDirectory,
    ProjectDirectoryError,
    SampleDialect,
)
from hub_stack.runtime.quarantine import QuarantineRecord
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.settings import read_settings

SAMPLE_SPOKE = "222222222222"
# The fixtures were extracted at 08:00 (the sample's Lambda clock, which is UTC).
SAMPLE_NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
DIRECTORY = ProjectDirectory.from_projects(
    {"fraud-detection": ("Project1",), "churn-prediction": ()}
)


def sample_events() -> list[dict[str, Any]]:
    """The four events the sample's spoke puts, as the hub's default bus delivers them."""
    delivered = load_event("sample_delivered_metric_event.json")
    entries = json.loads((EVENTS / "sample_put_events_entries.json").read_text(encoding="utf-8"))
    events = []
    for index, entry in enumerate(entries):
        event = copy.deepcopy(delivered)
        event.update(
            id=f"sample-{index}",
            source=entry["Source"],
            resources=entry["Resources"],
            account=SAMPLE_SPOKE,
        )
        event["detail-type"] = entry["DetailType"]
        event["detail"] = json.loads(entry["Detail"])
        events.append(event)
    return events


def sample_event(**detail_changes: Any) -> dict[str, Any]:
    event = load_event("sample_delivered_metric_event.json")
    event["detail"].update(detail_changes)
    return event


def run(hub: Hub, *events: dict[str, Any]) -> None:
    batch = sqs_batch([sqs_record(event, f"m{index}") for index, event in enumerate(events)])
    response = ingest.ingest_batch(
        batch,
        store=hub.store,
        history=hub.history,
        retention_days=RETENTION_DAYS * 10,
        clock=lambda: SAMPLE_NOW,
        sample_dialect=SampleDialect(DIRECTORY),
    )
    assert response == {"batchItemFailures": []}


def quarantined(hub: Hub) -> list[QuarantineRecord]:
    return hub.store.quarantine.recent(limit=100)


@pytest.fixture
def sample_hub(hub: Hub) -> Hub:
    """The sample's spoke registered as dsdash adopt registers it; one offboarded account."""
    hub.store.registry.set_spoke_state(
        SAMPLE_SPOKE, SpokeState.ENROLLED, project_name="fraud-detection", environment="dev"
    )
    hub.store.registry.set_spoke_state(
        OFFBOARDED_ACCOUNT,
        SpokeState.OFFBOARDED,
        reason="account closed",
        project_name="fraud-detection",
        environment="dev",
    )
    return hub


def test_the_samples_four_metrics_are_stored_with_their_naive_times_read_as_utc(
    sample_hub: Hub,
) -> None:
    run(sample_hub, *sample_events())

    assert quarantined(sample_hub) == []
    history = delivered_rows(sample_hub.session)
    assert {
        (
            row["project"],
            row["environment"],
            row["metric_name"],
            row["extraction_time"],
            row["account_id"],
            row["metric_value"],
        )
        for row in history
    } == {
        (
            "fraud-detection",
            "dev",
            "TotalCompletedTrainingJobs",
            "2026-11-26T08:00:00.123Z",
            SAMPLE_SPOKE,
            17,
        ),
        (
            "fraud-detection",
            "dev",
            "CompletedTrainingJobs24h",
            "2026-11-26T08:00:00.241Z",
            SAMPLE_SPOKE,
            3,
        ),
        (
            "fraud-detection",
            "dev",
            "NumberEndPointsInService",
            "2026-11-26T08:00:00.356Z",
            SAMPLE_SPOKE,
            2,
        ),
        (
            "fraud-detection",
            "dev",
            "SSMParamStoreValueMyName",
            "2026-11-26T08:00:00.470Z",
            SAMPLE_SPOKE,
            42,
        ),
    }
    spokes = {spoke.account_id: spoke for spoke in sample_hub.store.spokes_with_freshness()}
    assert spokes[SAMPLE_SPOKE].last_extraction_date == "2026-11-26T08:00:00.470Z"


@pytest.mark.parametrize(
    "written", ["Project1", "PROJECT1", "project1", "Fraud-Detection", "fraud-detection"]
)
def test_a_project_name_matches_ignoring_case_or_through_an_alias(
    sample_hub: Hub, written: str
) -> None:
    run(sample_hub, sample_event(ProjectName=written))

    assert quarantined(sample_hub) == []
    [datapoint] = sample_hub.store.latest_values("fraud-detection")
    assert (datapoint.project_name, datapoint.value) == ("fraud-detection", Decimal(42))


@pytest.mark.parametrize(
    ("written", "closest"),
    [("Projet1", "fraud-detection"), ("ChurnPrediction", "churn-prediction")],
)
def test_an_unknown_project_is_quarantined_naming_the_closest_project(
    sample_hub: Hub, written: str, closest: str
) -> None:
    run(sample_hub, sample_event(ProjectName=written))

    [record] = quarantined(sample_hub)
    assert record.reason_code == "UnknownProject"
    assert repr(written) in record.reason
    assert f"closest configured project is {closest!r}" in record.reason
    assert f"projects.{closest}.aliases" in record.reason
    # The quarantine keeps what the event claimed, as written.
    assert record.claimed_project_name == written
    assert not delivered_rows(sample_hub.session)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2026-11-26 08:00:00.123456", "2026-11-26T08:00:00.123Z"),
        ("2026-11-26T08:00:00", "2026-11-26T08:00:00.000Z"),
        # A zone, when given, is kept: 10:00 at +02:00 is 08:00 UTC.
        ("2026-11-26 10:00:00.5+02:00", "2026-11-26T08:00:00.500Z"),
        ("2026-11-26T03:00:00-05:00", "2026-11-26T08:00:00.000Z"),
    ],
)
def test_a_naive_timestamp_is_utc_and_a_zoned_one_keeps_its_zone(
    sample_hub: Hub, written: str, stored: str
) -> None:
    run(sample_hub, sample_event(ExtractionDate=written))

    [datapoint] = sample_hub.store.latest_values("fraud-detection")
    assert datapoint.extraction_date == stored


def test_a_date_without_a_time_is_still_refused(sample_hub: Hub) -> None:
    run(sample_hub, sample_event(ExtractionDate="2026-11-26"))

    [record] = quarantined(sample_hub)
    assert record.reason_code == "SchemaViolation"
    assert "ExtractionDate" in record.reason


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("42", Decimal(42)),
        (" 3.5\n", Decimal("3.5")),
        ("-1e3", Decimal(-1000)),
        (".25", Decimal("0.25")),
    ],
)
def test_a_finite_numeric_string_is_a_number(sample_hub: Hub, written: str, value: Decimal) -> None:
    run(sample_hub, sample_event(MetricValue=written))

    [datapoint] = sample_hub.store.latest_values("fraud-detection")
    assert datapoint.value == value


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("forty-two", "NonNumericValue"),
        ("", "NonNumericValue"),
        ("1,000", "NonNumericValue"),
        ("0x10", "NonNumericValue"),
        ("NaN", "NonFiniteValue"),
        ("-Infinity", "NonFiniteValue"),
        ("1E+200", "ValueOutOfRange"),
    ],
)
def test_any_other_string_is_quarantined_with_its_reason(
    sample_hub: Hub, written: str, code: str
) -> None:
    run(sample_hub, sample_event(MetricValue=written))

    [record] = quarantined(sample_hub)
    assert record.reason_code == code
    assert "MetricValue" in record.reason
    assert not delivered_rows(sample_hub.session)


def test_v2_events_keep_their_strict_contract(sample_hub: Hub) -> None:
    event = v2_event(
        AccountId=SAMPLE_SPOKE,
        ProjectName="fraud-detection",
        ExtractionDate="2026-11-26 08:00:00",
    )
    run(sample_hub, with_envelope(event, account=SAMPLE_SPOKE))

    [record] = quarantined(sample_hub)
    assert record.reason_code == "SchemaViolation"


@pytest.mark.parametrize(
    ("sender", "standing"),
    [(STRANGER_ACCOUNT, "is not in the spoke registry"), (OFFBOARDED_ACCOUNT, "is offboarded")],
)
@pytest.mark.parametrize(
    ("change", "hidden_code"),
    [
        ({"MetricName": "not a metric name"}, "SchemaViolation"),
        ({"MetricValue": "lots"}, "NonNumericValue"),
        ({"ProjectName": "SomeoneElses"}, "UnknownProject"),
    ],
)
def test_a_senders_standing_is_the_reason_even_when_the_event_is_invalid(
    sample_hub: Hub, sender: str, standing: str, change: dict[str, Any], hidden_code: str
) -> None:
    run(sample_hub, with_envelope(sample_event(**change), account=sender))

    [record] = quarantined(sample_hub)
    assert record.reason_code == "SenderNotEnrolled"
    assert f"account {sender} {standing}" in record.reason
    # What else is wrong stays visible.
    assert hidden_code in record.reason


def test_an_enrolled_senders_invalid_event_keeps_its_validation_reason(sample_hub: Hub) -> None:
    run(sample_hub, sample_event(MetricName="not a metric name"))

    [record] = quarantined(sample_hub)
    assert record.reason_code == "SchemaViolation"


def test_the_series_continues_when_the_spoke_moves_to_dsdash(sample_hub: Hub) -> None:
    """A sample spoke's history and the same account's later dsdash (v2) extraction form one
    series: same project, environment and metric name, no dimensions."""
    sample = sample_event(MetricName="NumberEndPointsInService", MetricValue=2)
    dsdash = v2_event(
        AccountId=SAMPLE_SPOKE,
        ProjectName="fraud-detection",
        Environment="dev",
        ExtractionDate="2026-11-26T08:30:00Z",
        Metrics=[
            {
                "MetricName": "NumberEndPointsInService",
                "MetricValue": 3,
                "Unit": "Count",
                "Dimensions": {},
                "Metadata": {},
            }
        ],
        Errors=[],
    )
    run(sample_hub, sample, with_envelope(dsdash, account=SAMPLE_SPOKE, id="dsdash-1"))

    history = [
        (
            row["project"],
            row["environment"],
            row["dimensions"],
            row["extraction_time"],
            row["metric_value"],
            row["schema_version"],
        )
        for row in delivered_rows(sample_hub.session)
        if row["metric_name"] == "NumberEndPointsInService"
    ]
    assert history == [
        ("fraud-detection", "dev", "{}", "2026-11-26T08:00:00.470Z", 2, 1),
        ("fraud-detection", "dev", "{}", "2026-11-26T08:30:00.000Z", 3, 2),
    ]


def test_the_handler_reads_project_names_and_aliases_from_its_environment() -> None:
    required = {"TABLE_NAME": "dsdash-hub-metrics", "RETENTION_DAYS": "30"}
    value = DIRECTORY.environment_value()
    settings = read_settings(
        IngestSettings, {**required, PROJECT_ALIASES_ENVIRONMENT_VARIABLE: value}
    )

    assert settings.project_directory == DIRECTORY
    assert read_settings(IngestSettings, required).project_directory is None
    for bad in ('{"a": "not a list"}', "{"):
        with pytest.raises(IngestConfigurationError, match=PROJECT_ALIASES_ENVIRONMENT_VARIABLE):
            read_settings(
                IngestSettings,
                {**required, PROJECT_ALIASES_ENVIRONMENT_VARIABLE: bad},
                error=IngestConfigurationError,
            )


def test_too_many_aliases_for_the_functions_environment_are_refused_at_synth() -> None:
    directory = ProjectDirectory.from_projects(
        {f"project-{index}": (f"Alias{index}" * 10,) for index in range(100)}
    )
    with pytest.raises(ProjectDirectoryError, match="4 KB"):
        directory.environment_value()
