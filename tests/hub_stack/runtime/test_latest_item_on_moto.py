"""The spoke's latest item through the real ingest path on moto: its size by DynamoDB's rules (the
write units every event pays), one write call per event in steady state, and what readers get
back when events split, change their series, arrive late or replay."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    NOW,
    RETENTION_DAYS,
    Hub,
    items_under,
    scan_table,
    sqs_batch,
    sqs_record,
    v2_event,
    with_envelope,
)

from bench.publishing import extraction_datapoints
from cli.capacity.dynamodb_units import WRITE_UNIT_BYTES, item_bytes
from hub_stack.ingest.runtime import ingest
from hub_stack.runtime import latest_item_format
from hub_stack.runtime.datapoints import DatapointRecord

WRITES = ("PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem")


def extraction_event(
    at: datetime,
    metrics: list[dict[str, Any]],
    *,
    errors: list[dict[str, str]] | None = None,
    name: str = "",
) -> dict[str, Any]:
    """A v2 event of the alpha/dev spoke extracted `at`, with its own event id."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{at.isoformat()}/{name}"))
    detail = v2_event(
        ExtractionDate=at.isoformat(),
        ExtractionId=event_id,
        Metrics=metrics,
        Errors=errors or [],
    )
    return with_envelope(detail, id=event_id, time=at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def series(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """`count` datapoints as the cost benchmark builds them (catalog scalars, then one
    dimensioned metric by instance type), with values moved by `offset`."""
    points = extraction_datapoints(count)
    for point in points:
        point["MetricValue"] += offset
    return points


def ingest_one(hub: Hub, event: dict[str, Any], message_id: str) -> list[str]:
    """Ingest one event (received at NOW); the DynamoDB write calls it made."""
    writes: list[str] = []

    def count(model: Any, **_: Any) -> None:
        writes.append(model.name)

    for operation in WRITES:
        hub.client.meta.events.register(f"before-call.dynamodb.{operation}", count)
    try:
        response = ingest.ingest_batch(
            sqs_batch([sqs_record(event, message_id)]),
            store=hub.store,
            history=hub.history,
            retention_days=RETENTION_DAYS,
            clock=lambda: NOW,
        )
    finally:
        for operation in WRITES:
            hub.client.meta.events.unregister(f"before-call.dynamodb.{operation}", count)
    assert response == {"batchItemFailures": []}
    return writes


def latest_item(hub: Hub) -> dict[str, Any]:
    (item,) = items_under(scan_table(hub.client), "LATEST#")
    return item


def stored(hub: Hub) -> dict[tuple[str, str], tuple[Decimal, str, str, str, int]]:
    """(metric, dimensions) -> (value, unit, extraction date, event id, schema version)."""
    return {
        (p.metric_name, str(sorted(p.dimensions.items()))): (
            p.value,
            p.unit,
            p.extraction_date,
            p.event_id,
            p.schema_version,
        )
        for p in hub.store.latest_values("alpha")
    }


def expected(event: dict[str, Any]) -> dict[tuple[str, str], tuple[Decimal, str, str, str, int]]:
    at = datetime.fromisoformat(event["detail"]["ExtractionDate"])
    return {
        (m["MetricName"], str(sorted(m["Dimensions"].items()))): (
            Decimal(m["MetricValue"]),
            m["Unit"],
            at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            event["id"],
            2,
        )
        for m in event["detail"]["Metrics"]
    }


def test_a_15_series_item_stays_within_one_write_unit_with_its_digest_ring_full(
    enrolled_hub: Hub,
) -> None:
    sizes = []
    calls = []
    start = NOW - timedelta(hours=latest_item_format.DIGEST_SLOTS + 2)
    for hour in range(latest_item_format.DIGEST_SLOTS + 2):
        event = extraction_event(start + timedelta(hours=hour, milliseconds=470), series(15, hour))
        calls.append(ingest_one(enrolled_hub, event, f"hour-{hour}"))
        sizes.append(item_bytes(latest_item(enrolled_hub)))

    # One UpdateItem per extraction, every hour, and the item, with every digest slot taken,
    # bills 1 write unit (the larger of the item before and after the write).
    assert calls == [["UpdateItem"]] * len(calls)
    assert max(sizes) <= WRITE_UNIT_BYTES, sizes
    assert sizes[-1] == sizes[-2]  # the ring is full: the item no longer grows
    assert stored(enrolled_hub) == expected(event)
    (spoke,) = [
        s for s in enrolled_hub.store.spokes_with_freshness() if s.account_id == ALPHA_DEV_ACCOUNT
    ]
    assert spoke.last_extraction_date == expected(event).popitem()[1][2]
    assert spoke.last_seen_at == "2025-06-01T12:00:00.000Z"


def test_a_45_series_extraction_takes_two_updates_and_reads_back_whole(enrolled_hub: Hub) -> None:
    first = extraction_event(NOW - timedelta(hours=2), series(45))
    second = extraction_event(NOW - timedelta(hours=1), series(45, 50))

    assert ingest_one(enrolled_hub, first, "first") == ["UpdateItem", "UpdateItem"]
    assert ingest_one(enrolled_hub, second, "second") == ["UpdateItem", "UpdateItem"]
    assert stored(enrolled_hub) == expected(second)
    before = latest_item(enrolled_hub)

    # An identical replay changes nothing; a conflicting one is quarantined, nothing written.
    ingest_one(enrolled_hub, second, "replay")
    conflicting = series(45, 50)
    conflicting[44]["MetricValue"] += 1
    ingest_one(
        enrolled_hub, {**second, "detail": {**second["detail"], "Metrics": conflicting}}, "x"
    )

    assert latest_item(enrolled_hub) == before
    assert [q.reason_code for q in enrolled_hub.store.quarantine.recent()] == ["ConflictingReplay"]


def test_series_the_newest_extraction_lacks_keep_their_own_event(enrolled_hub: Hub) -> None:
    fifteen = extraction_event(NOW - timedelta(hours=3), series(15))
    fourteen = extraction_event(NOW - timedelta(hours=2), series(15, 10)[:14])
    again = extraction_event(NOW - timedelta(hours=1), series(15, 20)[:14])

    ingest_one(enrolled_hub, fifteen, "fifteen")
    # The spoke's series changed: the write planned from the stored item is the second call.
    assert ingest_one(enrolled_hub, fourteen, "fourteen") == ["UpdateItem", "UpdateItem"]
    assert ingest_one(enrolled_hub, again, "again") == ["UpdateItem"]

    dropped = dict(list(expected(fifteen).items())[14:])
    assert stored(enrolled_hub) == expected(again) | dropped


def test_parts_of_a_split_extraction_keep_their_events_and_merge_their_errors(
    enrolled_hub: Hub,
) -> None:
    at = NOW - timedelta(hours=1)
    denied = {"MetricName": "FailedTrainingJobs", "ErrorCode": "AccessDenied", "Message": "no"}
    throttled = {"MetricName": "TrainingJobsInProgress", "ErrorCode": "Throttled", "Message": "x"}
    points = series(6)
    part_one = extraction_event(at, points[:3], errors=[denied], name="one")
    part_two = extraction_event(at, points[3:], errors=[throttled, denied], name="two")

    ingest_one(enrolled_hub, part_one, "one")
    ingest_one(enrolled_hub, part_two, "two")
    after_both = latest_item(enrolled_hub)
    ingest_one(enrolled_hub, part_two, "two-again")  # a replay of one part changes nothing

    assert latest_item(enrolled_hub) == after_both
    assert stored(enrolled_hub) == expected(part_one) | expected(part_two)
    (spoke,) = [
        s for s in enrolled_hub.store.spokes_with_freshness() if s.account_id == ALPHA_DEV_ACCOUNT
    ]
    assert [(e.metric_name, e.error_code) for e in spoke.last_errors] == [
        ("FailedTrainingJobs", "AccessDenied"),
        ("TrainingJobsInProgress", "Throttled"),
    ]


def test_a_late_extraction_fills_only_older_series_and_leaves_freshness(enrolled_hub: Hub) -> None:
    newer = extraction_event(NOW - timedelta(hours=1), series(4, 10)[:3], errors=[])
    late = extraction_event(NOW - timedelta(hours=2), series(4), name="late")

    ingest_one(enrolled_hub, newer, "newer")
    ingest_one(enrolled_hub, late, "late")

    assert stored(enrolled_hub) == expected(newer) | dict(list(expected(late).items())[3:])
    (spoke,) = [
        s for s in enrolled_hub.store.spokes_with_freshness() if s.account_id == ALPHA_DEV_ACCOUNT
    ]
    assert spoke.last_extraction_date == expected(newer).popitem()[1][2]


def test_one_snapshot_reads_each_latest_item_once_for_freshness_and_values(
    enrolled_hub: Hub,
) -> None:
    event = extraction_event(NOW - timedelta(minutes=5), series(15))
    ingest_one(enrolled_hub, event, "m-snapshot")
    # A newer item of the same account in a project the registry does not give it (left from
    # a project it moved out of; the config still names the project).
    left_behind = DatapointRecord(
        project_name="gamma",
        environment="dev",
        metric_name="TotalCompletedTrainingJobs",
        value=Decimal(3),
        unit="Count",
        dimensions={},
        metadata={},
        account_id=ALPHA_DEV_ACCOUNT,
        region="eu-west-1",
        extraction_date="2099-01-01T00:00:00.000Z",
        schema_version=2,
        event_id="left-behind",
        expires_at=0,
    )
    assert enrolled_hub.store.put_latest(left_behind)
    queried: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        queried.append(params["ExpressionAttributeValues"][":pk"]["S"])

    enrolled_hub.client.meta.events.register("before-parameter-build.dynamodb.Query", count)
    snapshot = enrolled_hub.store.snapshot(extra_projects=["gamma"])

    # The registry once, then each shard of each project once: the dashboard and its publisher
    # used to read every latest item twice (freshness, then values).
    assert len(queried) == len(set(queried)), queried
    assert queried.count("SPOKE") == 1
    registry_projects = {spoke.project_name for spoke in snapshot.spokes if spoke.project_name}
    assert {key.split("#")[1] for key in queried if key.startswith("LATEST#")} == {
        *registry_projects,
        "gamma",
    }
    # Freshness comes from the spoke's own project only; the values of every project named.
    (alpha_dev,) = [s for s in snapshot.spokes if s.account_id == ALPHA_DEV_ACCOUNT]
    assert alpha_dev.last_extraction_date == expected(event)[next(iter(expected(event)))][2]
    assert sorted(p.metric_name for p in snapshot.latest_values["alpha"]) == sorted(
        metric for metric, _ in expected(event)
    )
    assert [p.event_id for p in snapshot.latest_values["gamma"]] == ["left-behind"]
    # The freshness-only read (health function, `dsdash status`) agrees.
    assert list(snapshot.spokes) == enrolled_hub.store.spokes_with_freshness()
