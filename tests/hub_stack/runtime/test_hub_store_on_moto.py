"""HubStore on moto: batched writes and their retries, queries on known data, the spoke registry
and the quarantine (the spokes' freshness: test_latest_item_on_moto.py)."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import history_file_readers
import pytest
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    BETA_PROD_ACCOUNT,
    HISTORY_BUCKET,
    NOW,
    RETENTION_DAYS,
    TABLE_NAME,
    Hub,
    items_under,
    scan_table,
    v1_event,
)

from contracts import history_parquet, history_table
from hub_stack.ingest.runtime.event_validation import validate_metric_event
from hub_stack.runtime import latest_item_format
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.quarantine import QuarantineRecord
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import InvalidSpokeStateError, SpokeState

OTHER_ALPHA_DEV_ACCOUNT = "555555555555"


def point(
    metric: str = "TotalCompletedTrainingJobs",
    value: str | int = 1,
    at: datetime = NOW,
    *,
    project: str = "alpha",
    environment: str = "dev",
    account: str = ALPHA_DEV_ACCOUNT,
    dimensions: dict[str, str] | None = None,
) -> DatapointRecord:
    return DatapointRecord(
        project_name=project,
        environment=environment,
        metric_name=metric,
        value=Decimal(value),
        unit="Count",
        dimensions=dimensions or {},
        metadata={},
        account_id=account,
        region="eu-west-1",
        extraction_date=at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        schema_version=2,
        event_id=f"event-{metric}-{at:%H%M}",
        expires_at=int((at + timedelta(days=RETENTION_DAYS)).timestamp()),
    )


# ----------------------------------------------------------------------- latest per spoke


def test_one_item_per_spoke_holds_every_series_and_only_moves_forward(hub: Hub) -> None:
    assert hub.store.put_latest(point(value=1, at=NOW - timedelta(hours=1)))
    assert hub.store.put_latest(point("FailedTrainingJobs", value=7))
    assert hub.store.put_latest(point(value=2))
    # Older than what is stored: nothing changes, and that is no error.
    assert not hub.store.put_latest(point(value=99, at=NOW - timedelta(hours=2)))

    latest = items_under(scan_table(hub.client), "LATEST#")
    assert len(latest) == 1, "one item for the spoke (project, environment, account, region)"
    assert latest[0]["SK"]["S"] == f"dev#{ALPHA_DEV_ACCOUNT}#eu-west-1"
    assert sorted((p.metric_name, p.value) for p in hub.store.latest_values("alpha")) == [
        ("FailedTrainingJobs", 7),
        ("TotalCompletedTrainingJobs", 2),
    ]


def test_a_project_burst_spreads_over_several_partitions(hub: Hub) -> None:
    accounts = [f"{100000000000 + n}" for n in range(40)]
    for account in accounts:
        hub.store.put_latest(point(account=account))

    partitions = {item["PK"]["S"] for item in items_under(scan_table(hub.client), "LATEST#alpha")}
    # No single key takes the project's burst, and a project read still finds every spoke.
    assert len(partitions) > 1
    assert all(partition.startswith("LATEST#alpha#") for partition in partitions)
    assert sorted(p.account_id for p in hub.store.latest_values("alpha")) == accounts


# ----------------------------------------------------------------------------------- queries


@pytest.fixture
def known_data(hub: Hub) -> Hub:
    """Hourly values 0..5 of one alpha/dev series from two accounts, plus other series: latest
    items written by the store, history files written in the contract's Parquet layout."""
    hub.store.registry.set_spoke_state(
        ALPHA_DEV_ACCOUNT, SpokeState.ENROLLED, project_name="alpha", environment="dev"
    )
    hub.store.registry.set_spoke_state(
        BETA_PROD_ACCOUNT,
        SpokeState.OFFBOARDED,
        project_name="beta",
        environment="prod",
        reason="left the OU",
    )
    points = []
    for hour in range(6):
        at = NOW - timedelta(hours=5 - hour)
        points.append(point(value=hour, at=at))
        points.append(point(value=100 + hour, at=at, account=OTHER_ALPHA_DEV_ACCOUNT))
        points.append(point("FailedTrainingJobs", value=hour, at=at))
        points.append(
            point(value=hour, at=at, project="beta", environment="prod", account=BETA_PROD_ACCOUNT)
        )
    points.append(
        point("CompletedTrainingJobsByInstanceType", 9, NOW, dimensions={"InstanceType": "ml.p3"})
    )
    for datapoint in points:
        hub.store.put_latest(datapoint)
    # A replayed row (same key, ingested later) must not show twice.
    rows = [p.history_row(NOW) for p in points]
    rows.append(points[0].history_row(NOW + timedelta(minutes=5)))
    _write_history_file(hub, rows, NOW)
    return hub


def _write_history_file(hub: Hub, rows: list[dict[str, Any]], delivered: datetime) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "part.parquet"
        history_parquet.write_parquet(rows, path)
        hub.session.client("s3").put_object(
            Bucket=HISTORY_BUCKET,
            Key=f"{history_table.partition_folder(delivered)}part.parquet",
            Body=path.read_bytes(),
        )


def test_series_history_between_two_times_includes_both_ends(known_data: Hub) -> None:
    store = HubStore(TABLE_NAME, known_data.session, history_bucket=HISTORY_BUCKET)
    history = history_file_readers.series_history(
        store,
        "alpha",
        "dev",
        "TotalCompletedTrainingJobs",
        since=NOW - timedelta(hours=3),
        until=NOW - timedelta(hours=1),
    )

    # 09:00, 10:00 and 11:00, each from both accounts, oldest first.
    assert [(p.extraction_date[11:16], p.account_id, p.value) for p in history] == [
        ("09:00", ALPHA_DEV_ACCOUNT, 2),
        ("09:00", OTHER_ALPHA_DEV_ACCOUNT, 102),
        ("10:00", ALPHA_DEV_ACCOUNT, 3),
        ("10:00", OTHER_ALPHA_DEV_ACCOUNT, 103),
        ("11:00", ALPHA_DEV_ACCOUNT, 4),
        ("11:00", OTHER_ALPHA_DEV_ACCOUNT, 104),
    ]
    whole = history_file_readers.series_history(store, "alpha", "dev", "TotalCompletedTrainingJobs")
    assert [p.value for p in whole if p.account_id == ALPHA_DEV_ACCOUNT] == list(range(6))
    dimensioned = history_file_readers.series_history(
        store, "alpha", "dev", "CompletedTrainingJobsByInstanceType", {"InstanceType": "ml.p3"}
    )
    assert [p.value for p in dimensioned] == [9]


def test_latest_values_of_a_project_hold_one_newest_value_per_series_and_account(
    known_data: Hub,
) -> None:
    latest = known_data.store.latest_values("alpha")

    assert sorted(
        (p.metric_name, dict(p.dimensions).get("InstanceType"), p.account_id, p.value)
        for p in latest
    ) == [
        ("CompletedTrainingJobsByInstanceType", "ml.p3", ALPHA_DEV_ACCOUNT, 9),
        ("FailedTrainingJobs", None, ALPHA_DEV_ACCOUNT, 5),
        ("TotalCompletedTrainingJobs", None, ALPHA_DEV_ACCOUNT, 5),
        ("TotalCompletedTrainingJobs", None, OTHER_ALPHA_DEV_ACCOUNT, 105),
    ]


def test_latest_values_of_everything_cover_registry_projects_in_any_state(
    known_data: Hub,
) -> None:
    everything = known_data.store.latest_values_all(extra_projects=["gamma"])

    assert sorted(everything) == ["alpha", "beta", "gamma"]  # beta's spoke is offboarded
    assert [p.value for p in everything["beta"]] == [5]
    assert everything["gamma"] == []


def test_datapoints_by_metric_name_and_time_use_the_sample_pattern(known_data: Hub) -> None:
    store = HubStore(TABLE_NAME, known_data.session, history_bucket=HISTORY_BUCKET)

    found = history_file_readers.datapoints_by_metric(
        store, "FailedTrainingJobs", since=NOW - timedelta(hours=1), until=NOW
    )

    assert sorted((p.extraction_date[11:16], p.value) for p in found) == [
        ("11:00", 4),
        ("12:00", 5),
    ]


# ----------------------------------------------------------------------------- spoke registry


def test_registry_tracks_states_and_only_enrolled_accounts_authenticate(hub: Hub) -> None:
    hub.store.registry.set_spoke_state(
        ALPHA_DEV_ACCOUNT, "pending", project_name="alpha", environment="dev"
    )
    hub.store.registry.set_spoke_state(
        BETA_PROD_ACCOUNT, "enrolled", project_name="beta", environment="prod"
    )
    assert hub.store.registry.enrolled_accounts() == {BETA_PROD_ACCOUNT: ("beta", "prod")}

    hub.store.registry.set_spoke_state(
        ALPHA_DEV_ACCOUNT, "enrolled", project_name="alpha", environment="dev"
    )
    offboarded = hub.store.registry.set_spoke_state(
        BETA_PROD_ACCOUNT, "offboarded", reason="account closed"
    )

    assert hub.store.registry.enrolled_accounts() == {ALPHA_DEV_ACCOUNT: ("alpha", "dev")}
    # Offboarding keeps the project it belonged to, so its history stays attributable.
    assert (offboarded.state, offboarded.project_name, offboarded.reason) == (
        SpokeState.OFFBOARDED,
        "beta",
        "account closed",
    )
    assert {s.account_id: s.state for s in hub.store.registry.list_spokes()} == {
        ALPHA_DEV_ACCOUNT: SpokeState.ENROLLED,
        BETA_PROD_ACCOUNT: SpokeState.OFFBOARDED,
    }


def test_registry_refuses_unknown_states_and_enrollment_without_scope(hub: Hub) -> None:
    with pytest.raises(InvalidSpokeStateError, match="unknown spoke state 'active'"):
        hub.store.registry.set_spoke_state(
            ALPHA_DEV_ACCOUNT, "active", project_name="a", environment="b"
        )
    with pytest.raises(InvalidSpokeStateError, match="needs a project and an environment"):
        hub.store.registry.set_spoke_state(ALPHA_DEV_ACCOUNT, SpokeState.ENROLLED)
    assert hub.store.registry.list_spokes() == []


def test_registry_listing_follows_every_page(hub: Hub) -> None:
    for index in range(30):
        hub.store.registry.set_spoke_state(
            f"{index:012d}",
            "enrolled",
            project_name="alpha",
            environment="dev",
            reason="x" * 40_000,
        )  # ~1.2 MB in all

    pages: list[int] = []
    hub.client.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: pages.append(parsed["Count"])
    )

    assert len(hub.store.registry.enrolled_accounts()) == 30
    assert len(pages) > 1  # DynamoDB pages at 1 MB


def test_registry_lookup_reads_the_distinct_accounts_asked_and_retries_unprocessed(
    hub: Hub,
) -> None:
    for index in range(120):
        hub.store.registry.set_spoke_state(
            f"{index:012d}", "enrolled", project_name="alpha", environment="dev"
        )
    asked: list[int] = []
    held_back: list[Any] = []

    def hold_back_two(params: dict[str, Any], **_: Any) -> None:
        keys = params["RequestItems"][TABLE_NAME]["Keys"]
        asked.append(len(keys))
        if len(asked) == 1:
            held_back.extend(keys[-2:])
            del keys[-2:]

    def report_held_back(parsed: dict[str, Any], **_: Any) -> None:
        if held_back:
            parsed["UnprocessedKeys"] = {TABLE_NAME: {"Keys": list(held_back)}}
            held_back.clear()

    hub.client.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", hold_back_two)
    hub.client.meta.events.register("after-call.dynamodb.BatchGetItem", report_held_back)
    wanted = [f"{index:012d}" for index in range(0, 110)] * 2 + ["999999999999"]

    found = hub.store.registry.get_spokes(wanted)

    # 111 distinct accounts: 100 keys, then 11; the retry asks exactly the 2 held back.
    assert asked == [100, 2, 11]
    assert sorted(found) == sorted(set(wanted) - {"999999999999"})
    assert len(hub.sleeps) == 1


# -------------------------------------------------------------------------------- quarantine


def quarantined(
    received_at: datetime, message_id: str, code: str = "SchemaViolation"
) -> QuarantineRecord:
    return QuarantineRecord.build(
        received_at=received_at,
        event_id="e",
        reason_code=code,
        reason="because",
        raw_event="{}",
        message_id=message_id,
        claimed_account_id=None,
        claimed_project_name=None,
        claimed_environment=None,
        retention_days=RETENTION_DAYS,
    )


def test_recent_quarantine_is_newest_first_across_days_with_a_limit(hub: Hub) -> None:
    for hours_ago, message_id in [
        (1, "today-1"),
        (30, "yesterday"),
        (2, "today-2"),
        (0, "today-0"),
        (24 * 8, "too-old"),
    ]:
        hub.store.quarantine.add(quarantined(NOW - timedelta(hours=hours_ago), message_id))

    assert [r.message_id for r in hub.store.quarantine.recent()] == [
        "today-0",
        "today-1",
        "today-2",
        "yesterday",
    ]
    assert [r.message_id for r in hub.store.quarantine.recent(limit=3)] == [
        "today-0",
        "today-1",
        "today-2",
    ]
    assert hub.store.quarantine.count() == 4
    assert hub.store.quarantine.count(days=9) == 5


def test_quarantine_items_stay_out_of_the_latest_values(hub: Hub) -> None:
    hub.store.quarantine.add(quarantined(NOW, "m"))

    (item,) = items_under(scan_table(hub.client), "QUARANTINE#2025-06-01")
    assert "MetricName" not in item and "ExtractionDate" not in item
    assert item["SK"]["S"] == "2025-06-01T12:00:00.000Z#m"


# ------------------------------------------------------------------ DynamoDB's number limits


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        (
            "9.9999999999999999999999999999999999999E+125",
            "9.9999999999999999999999999999999999999E+125",
        ),
        ("-1E-130", "-1E-130"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        # 43 digits, but only trailing zeros beyond 38: exact, so accepted.
        ("1.000000000000000000000000000000000000000000", "1"),
        ("0.1", "0.1"),
    ],
)
def test_numbers_at_dynamodbs_limits_are_stored_exactly(hub: Hub, text: str, stored: str) -> None:
    # A metric of unit None takes any finite number: only DynamoDB's limits apply here (a Count
    # such as the sample event's would refuse -1E-130 and 0.1 for its own range).
    body = json.dumps(v1_event(MetricName="BestTrainingObjective")).replace(
        '"MetricValue": 42', f'"MetricValue": {text}'
    )
    event = validate_metric_event(body, now=NOW, retention_days=RETENTION_DAYS)

    stored_point = point(value=event.metrics[0].value)
    hub.store.put_latest(stored_point)

    (item,) = items_under(scan_table(hub.client), "LATEST#")
    value = item[latest_item_format.series_attribute(stored_point)]["L"][0]["N"]
    assert Decimal(value) == Decimal(stored)


def test_store_builds_its_client_from_an_injected_session(hub: Hub) -> None:
    store = HubStore(TABLE_NAME, hub.session)
    store.registry.set_spoke_state(
        ALPHA_DEV_ACCOUNT, "enrolled", project_name="alpha", environment="dev"
    )

    assert hub.store.registry.enrolled_accounts() == {ALPHA_DEV_ACCOUNT: ("alpha", "dev")}
    assert datetime.fromisoformat(store.registry.list_spokes()[0].updated_at or "").tzinfo == UTC
