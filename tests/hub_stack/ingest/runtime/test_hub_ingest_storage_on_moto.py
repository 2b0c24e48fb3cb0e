"""The ingest Lambda on moto storing valid events: values exactly as sent, the spoke's
freshness, the newest value kept as latest, each region's values apart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hub_ingest_support import mixed_batch, rows_of, run_ingest
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    NOW,
    OFFBOARDED_ACCOUNT,
    RETENTION_DAYS,
    STRANGER_ACCOUNT,
    Hub,
    sqs_batch,
    sqs_record,
    v1_event,
    v2_event,
    with_envelope,
)


def test_valid_values_are_stored_exactly(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, mixed_batch())

    (savings,) = rows_of(enrolled_hub, "ManagedSpotSavingsPercent")
    assert (savings["metric_value"], savings["unit"], savings["schema_version"]) == (
        61.25,
        "Percent",
        2,
    )
    assert savings["account_id"] == ALPHA_DEV_ACCOUNT
    assert savings["ingested_at"] == "2025-06-01T12:00:00.000Z"
    latest = {p.metric_name: p for p in enrolled_hub.store.latest_values("alpha")}
    assert latest["ManagedSpotSavingsPercent"].value == Decimal("61.25")
    # TTL of the spoke's latest item: the newest extraction plus the retention.
    assert latest["ManagedSpotSavingsPercent"].expires_at == int(
        (NOW.replace(hour=11) + timedelta(days=RETENTION_DAYS)).timestamp()
    )
    (total,) = rows_of(enrolled_hub, "TotalCompletedTrainingJobs")
    assert (total["metric_value"], total["unit"], total["schema_version"], total["region"]) == (
        42,
        "None",
        1,
        "eu-west-1",
    )


def test_accepted_events_update_spoke_freshness(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, mixed_batch())

    spokes = {spoke.account_id: spoke for spoke in enrolled_hub.store.spokes_with_freshness()}
    alpha = spokes[ALPHA_DEV_ACCOUNT]
    # The v2 event (11:00) is newer than the v1 event (10:00, another region): of the spoke's
    # latest items, the newest one's freshness is the spoke's; its errors are the last ones.
    assert alpha.last_extraction_date == "2025-06-01T11:00:00.250Z"
    assert [e.error_code for e in alpha.last_errors] == ["AccessDeniedException"]
    assert alpha.last_seen_at == "2025-06-01T12:00:00.000Z"
    assert STRANGER_ACCOUNT not in spokes  # a refused sender never gets a registry entry
    assert spokes[OFFBOARDED_ACCOUNT].last_seen_at is None


def test_an_older_event_does_not_overwrite_a_newer_latest_value(enrolled_hub: Hub) -> None:
    newer = v1_event(MetricValue=42, ExtractionDate="2025-06-01T10:00:00Z")
    older = with_envelope(
        v1_event(MetricValue=7, ExtractionDate="2025-06-01T09:00:00Z"),
        id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    )
    run_ingest(enrolled_hub, sqs_batch([sqs_record(newer, "newer")]))
    run_ingest(enrolled_hub, sqs_batch([sqs_record(older, "older")]))

    (latest,) = enrolled_hub.store.latest_values("alpha")
    assert (latest.value, latest.extraction_date) == (42, "2025-06-01T10:00:00.000Z")
    history = rows_of(enrolled_hub, "TotalCompletedTrainingJobs")
    # The late event still joins history.
    assert sorted(row["metric_value"] for row in history) == [7, 42]
    spokes = {spoke.account_id: spoke for spoke in enrolled_hub.store.spokes_with_freshness()}
    assert spokes[ALPHA_DEV_ACCOUNT].last_extraction_date == "2025-06-01T10:00:00.000Z"


def test_each_region_of_a_spoke_keeps_its_own_values(enrolled_hub: Hub) -> None:
    # A spoke stack per configured region extracts that region's values at the same moment.
    ireland = v2_event(Region="eu-west-1")
    frankfurt = with_envelope(
        v2_event(Region="eu-central-1"),
        id="7c1b9f8e-2d3a-4e5f-8a6b-0c1d2e3f4a5b",
        region="eu-central-1",
    )
    # +10 keeps every value within its metric's range (the Percent one stays <= 100).
    frankfurt["detail"]["Metrics"] = [
        {**metric, "MetricValue": metric["MetricValue"] + 10}
        for metric in frankfurt["detail"]["Metrics"]
    ]

    run_ingest(
        enrolled_hub,
        sqs_batch([sqs_record(ireland, "ireland"), sqs_record(frankfurt, "frankfurt")]),
    )

    latest = enrolled_hub.store.latest_values("alpha")
    by_region = {
        (value.metric_name, value.region): float(value.value)
        for value in latest
        if value.account_id == ALPHA_DEV_ACCOUNT
    }
    for metric in ireland["detail"]["Metrics"]:
        name = metric["MetricName"]
        assert by_region[(name, "eu-west-1")] == metric["MetricValue"]
        assert by_region[(name, "eu-central-1")] == metric["MetricValue"] + 10
    history = rows_of(enrolled_hub, "NumberEndPointsInService")
    assert sorted(row["region"] for row in history) == ["eu-central-1", "eu-west-1"]
