"""Events that parse and fit the schema but mean something wrong: a count of -5, Percent 1000,
a metric nobody defined, a unit that is not the metric's, a region that does not exist or is not
the sender's, a string UTF-8 cannot hold, a replay that disagrees with history. Each is
quarantined with its own reason code, never stored, and never sent back to SQS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hub_ingest_support import run_ingest
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    NOW,
    RETENTION_DAYS,
    Hub,
    delivered_rows,
    items_under,
    scan_table,
    sqs_batch,
    sqs_record,
    v1_event,
    v2_event,
    with_envelope,
)

from hub_stack.ingest.runtime.event_validation import EventRejected, validate_metric_event
from metrics.registry import all_metric_classes


def first_metric_changed(**changes: Any) -> dict[str, Any]:
    event = v2_event()
    event["detail"]["Metrics"][0].update(changes)  # NumberEndPointsInService, a Count
    return event


def percent_metric_changed(**changes: Any) -> dict[str, Any]:
    event = v2_event()
    event["detail"]["Metrics"][2].update(changes)  # ManagedSpotSavingsPercent
    return event


def with_version_lookalike() -> dict[str, Any]:
    """A v2 event whose sender wrote `"version": 2` instead of `"SchemaVersion": 2`."""
    detail = {k: v for k, v in v2_event()["detail"].items() if k != "SchemaVersion"}
    return {**v2_event(), "detail": {"version": 2, **detail}}


# message id -> (body, reason code). Every one of these was stored before issue 15.
MEANINGLESS_EVENTS: dict[str, tuple[str | dict[str, Any], str]] = {
    "negative-count": (first_metric_changed(MetricValue=-5), "MetricValueOutOfRange"),
    "fractional-count": (first_metric_changed(MetricValue=2.5), "MetricValueOutOfRange"),
    "huge-negative-count": (first_metric_changed(MetricValue=-1e30), "MetricValueOutOfRange"),
    "v1-negative-count": (v1_event(MetricValue=-5), "MetricValueOutOfRange"),
    "percent-1000": (percent_metric_changed(MetricValue=1000), "MetricValueOutOfRange"),
    "percent-below-zero": (percent_metric_changed(MetricValue=-0.5), "MetricValueOutOfRange"),
    "unknown-metric-v2": (first_metric_changed(MetricName="Bitcoins"), "UnknownMetric"),
    "unknown-metric-v1": (v1_event(MetricName="Bitcoins"), "UnknownMetric"),
    "unit-not-the-metrics": (first_metric_changed(Unit="Seconds"), "UnitMismatch"),
    "v2-region-not-the-envelopes": (v2_event(Region="us-east-1"), "RegionMismatch"),
    "v2-fake-region": (
        with_envelope(v2_event(Region="zz-fake-9"), region="zz-fake-9"),
        "UnknownRegion",
    ),
    "v1-fake-envelope-region": (with_envelope(v1_event(), region="zz-fake-9"), "UnknownRegion"),
    "lone-surrogate-in-metadata": (
        json.dumps(v1_event()).replace('"ListTrainingJobs"', '"List\\ud800Jobs"'),
        "UnencodableString",
    ),
    "lone-surrogate-in-a-key": (
        json.dumps(v1_event()).replace('"Source"', '"\\udfffSource"'),
        "UnencodableString",
    ),
    "lone-surrogate-in-event-id": (
        json.dumps(v1_event()).replace(
            '"6a7e8feb-b491-4cf7-a9f1-bf3703467718"', '"6a7e8feb-\\ud83d"'
        ),
        "UnencodableString",
    ),
    "version-instead-of-schema-version": (with_version_lookalike(), "UnknownSchemaVersion"),
}


def test_each_meaningless_event_is_quarantined_with_its_reason_and_nothing_is_stored(
    enrolled_hub: Hub,
) -> None:
    batch = sqs_batch(
        [sqs_record(body, message_id) for message_id, (body, _) in MEANINGLESS_EVENTS.items()]
    )

    response = run_ingest(enrolled_hub, batch)

    # Refused for good: none goes back to SQS (and so none ends in the dead-letter queue).
    assert response == {"batchItemFailures": []}
    items = scan_table(enrolled_hub.client)
    assert delivered_rows(enrolled_hub.session) == []
    assert items_under(items, "LATEST#") == []
    quarantined = {
        item["MessageId"]["S"]: item["ReasonCode"]["S"]
        for item in items_under(items, "QUARANTINE#")
    }
    assert quarantined == {message_id: code for message_id, (_, code) in MEANINGLESS_EVENTS.items()}


def test_a_lone_surrogate_is_kept_in_quarantine_as_an_escape(enrolled_hub: Hub) -> None:
    escaped = json.dumps(v1_event(ProjectName="alpha")).replace('"alpha"', '"alp\\ud800ha"')
    record = sqs_record(escaped, "surrogate")
    # SQS carries the JSON escape (ASCII); a body holding the raw surrogate itself cannot be
    # sent, but the quarantine must not fail on it either (defence in depth).
    raw = sqs_record(escaped, "raw-surrogate")
    raw["body"] = json.dumps(json.loads(escaped), ensure_ascii=False)

    response = run_ingest(enrolled_hub, sqs_batch([record, raw]))

    assert response == {"batchItemFailures": []}
    items = items_under(scan_table(enrolled_hub.client), "QUARANTINE#")
    assert [item["ReasonCode"]["S"] for item in items] == ["UnencodableString"] * 2
    for item in items:
        assert "alp\\ud800ha" in item["RawEvent"]["S"]
        assert item["ClaimedProjectName"]["S"] == "alp\\ud800ha"


def test_the_version_lookalike_is_named_for_what_it_is() -> None:
    event = with_version_lookalike()

    with pytest.raises(EventRejected) as raised:
        validate_metric_event(json.dumps(event), now=NOW, retention_days=RETENTION_DAYS)

    assert raised.value.code.value == "UnknownSchemaVersion"
    assert "unknown schema version field `version`" in raised.value.reason
    assert "expected SchemaVersion: 2" in raised.value.reason
    assert "MetricName" not in raised.value.reason


@pytest.mark.parametrize("name", sorted(all_metric_classes()))
def test_every_registered_metric_has_a_range_its_own_unit_allows(name: str) -> None:
    metric = all_metric_classes()[name]
    value_range = metric.value_range()
    # The range is what the hub checks: a metric that can produce 0 must be allowed 0.
    assert value_range.problem_with(0) is None, (name, value_range.describe())
    if metric.unit == "Count":
        assert value_range.whole_numbers and value_range.problem_with(-1) is not None
    if metric.unit == "Percent":
        assert value_range.problem_with(100) is None and value_range.problem_with(100.01)


def test_values_at_the_edges_of_their_range_are_stored(enrolled_hub: Hub) -> None:
    edges = v2_event()
    edges["detail"]["Metrics"][0]["MetricValue"] = 0  # a Count of 0
    edges["detail"]["Metrics"][2]["MetricValue"] = 100  # Percent 100
    response = run_ingest(enrolled_hub, sqs_batch([sqs_record(edges, "edges")]))

    assert response == {"batchItemFailures": []}
    history = delivered_rows(enrolled_hub.session)
    assert sorted(row["metric_value"] for row in history) == [0, 7, 100]


# --------------------------------------------------------------------- conflicting replays


def test_a_replay_with_another_value_is_quarantined_and_history_keeps_the_first(
    enrolled_hub: Hub,
) -> None:
    first = v2_event()
    conflicting = with_envelope(v2_event(), id="another-event-id")
    conflicting["detail"]["Metrics"][0]["MetricValue"] = 4  # was 3

    run_ingest(enrolled_hub, sqs_batch([sqs_record(first, "first")]))
    response = run_ingest(enrolled_hub, sqs_batch([sqs_record(conflicting, "conflicting")]))

    assert response == {"batchItemFailures": []}
    items = scan_table(enrolled_hub.client)
    # History holds the first value only: the conflicting event delivered nothing.
    stored = {
        row["metric_name"]: row["metric_value"] for row in delivered_rows(enrolled_hub.session)
    }
    assert stored["NumberEndPointsInService"] == 3
    assert len(delivered_rows(enrolled_hub.session)) == len(first["detail"]["Metrics"])
    latest = {p.metric_name: p.value for p in enrolled_hub.store.latest_values("alpha")}
    assert latest["NumberEndPointsInService"] == 3
    (quarantined,) = items_under(items, "QUARANTINE#")
    assert quarantined["ReasonCode"]["S"] == "ConflictingReplay"
    assert "NumberEndPointsInService = 4 Count, stored 3 Count" in quarantined["Reason"]["S"]


def test_a_replay_that_agrees_with_history_changes_no_item(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, sqs_batch([sqs_record(v2_event(), "first")]))
    before = scan_table(enrolled_hub.client)

    same_value_other_form = v2_event()
    same_value_other_form["detail"]["Metrics"][0]["MetricValue"] = 3.0  # 3 == 3.0
    response = run_ingest(enrolled_hub, sqs_batch([sqs_record(same_value_other_form, "replayed")]))

    assert response == {"batchItemFailures": []}
    assert scan_table(enrolled_hub.client) == before  # nothing quarantined, nothing moved


def test_an_older_extraction_replayed_is_checked_against_its_digest(enrolled_hub: Hub) -> None:
    """A replay of an extraction the latest values have moved past: the spoke item's digest of
    that extraction tells an identical replay (accepted, nothing written) from a conflicting one
    (quarantined), without reading history."""
    ten = v2_event(ExtractionDate="2025-06-01T10:00:00Z")
    eleven = with_envelope(v2_event(ExtractionDate="2025-06-01T11:00:00Z"), id="eleven")
    conflicting_ten = with_envelope(v2_event(ExtractionDate="2025-06-01T10:00:00Z"), id="x")
    conflicting_ten["detail"]["Metrics"][1]["MetricValue"] = 99
    run_ingest(enrolled_hub, sqs_batch([sqs_record(ten, "ten"), sqs_record(eleven, "eleven")]))
    writes: list[str] = []
    for operation in ("PutItem", "UpdateItem"):
        enrolled_hub.client.meta.events.register(
            f"before-call.dynamodb.{operation}", lambda model, **_: writes.append(model.name)
        )

    identical = run_ingest(enrolled_hub, sqs_batch([sqs_record(ten, "ten-again")]))
    identical_writes = list(writes)
    conflict = run_ingest(enrolled_hub, sqs_batch([sqs_record(conflicting_ten, "ten-other")]))

    assert identical == conflict == {"batchItemFailures": []}
    codes = [r.reason_code for r in enrolled_hub.store.quarantine.recent()]
    assert codes == ["ConflictingReplay"]
    # The identical replay: one conditional update that changed nothing, no freshness write
    # (the registry already holds a newer extraction). The conflict: that update and the
    # quarantine item.
    assert identical_writes == ["UpdateItem"]
    assert writes[len(identical_writes) :] == ["UpdateItem", "PutItem"]
    latest = {p.metric_name: p.extraction_date for p in enrolled_hub.store.latest_values("alpha")}
    assert set(latest.values()) == {"2025-06-01T11:00:00.000Z"}


def test_a_v1_replay_with_another_value_is_quarantined(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, sqs_batch([sqs_record(v1_event(), "first")]))
    response = run_ingest(
        enrolled_hub,
        sqs_batch([sqs_record(with_envelope(v1_event(MetricValue=41), id="x-2"), "second")]),
    )

    assert response == {"batchItemFailures": []}
    items = scan_table(enrolled_hub.client)
    assert [row["metric_value"] for row in delivered_rows(enrolled_hub.session)] == [42]
    assert [item["ReasonCode"]["S"] for item in items_under(items, "QUARANTINE#")] == [
        "ConflictingReplay"
    ]
    assert ALPHA_DEV_ACCOUNT in items_under(items, "QUARANTINE#")[0]["Reason"]["S"]
