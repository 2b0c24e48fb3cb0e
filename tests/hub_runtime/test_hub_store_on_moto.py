"""HubStore on moto: batched writes and their retries, queries on known data, the spoke registry,
freshness and the quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    BETA_PROD_ACCOUNT,
    NOW,
    RETENTION_DAYS,
    TABLE_NAME,
    Hub,
    items_under,
    scan_table,
    v1_event,
)

from hub_stack.runtime.event_validation import validate_metric_event
from hub_stack.runtime.store import (
    DatapointRecord,
    HubStore,
    InvalidSpokeStateError,
    QuarantineRecord,
    SpokeErrorEntry,
    SpokeState,
    UnprocessedWritesError,
)

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


# ------------------------------------------------------------------------------ batch writes


def test_unprocessed_items_are_retried_until_written(hub: Hub) -> None:
    held_back: list[Any] = []
    calls: list[int] = []

    def hold_back_three_on_first_call(params: dict[str, Any], **_: Any) -> None:
        requests = params["RequestItems"][TABLE_NAME]
        calls.append(len(requests))
        if len(calls) == 1:
            held_back.extend(requests[-3:])
            del requests[-3:]

    def report_held_back(parsed: dict[str, Any], **_: Any) -> None:
        if held_back:
            parsed["UnprocessedItems"] = {TABLE_NAME: list(held_back)}
            held_back.clear()

    events = hub.client.meta.events
    events.register("before-parameter-build.dynamodb.BatchWriteItem", hold_back_three_on_first_call)
    events.register("after-call.dynamodb.BatchWriteItem", report_held_back)
    points = [point(value=i, at=NOW - timedelta(minutes=i)) for i in range(10)]

    written = hub.store.put_datapoints(points)

    assert written == 10
    assert calls == [10, 3]  # the retry sends exactly the unprocessed items
    assert len(hub.sleeps) == 1  # with a backoff before it
    stored = hub.store.series_history("alpha", "dev", "TotalCompletedTrainingJobs")
    assert sorted(p.value for p in stored) == list(range(10))


def test_items_that_stay_unprocessed_raise_a_precise_error(hub: Hub) -> None:
    def nothing_processed(parsed: dict[str, Any], model: Any, context: Any, **_: Any) -> None:
        parsed["UnprocessedItems"] = {TABLE_NAME: context["hub_requests"]}

    def remember(params: dict[str, Any], context: Any, **_: Any) -> None:
        context["hub_requests"] = params["RequestItems"][TABLE_NAME]

    hub.client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", remember)
    hub.client.meta.events.register("after-call.dynamodb.BatchWriteItem", nothing_processed)

    with pytest.raises(UnprocessedWritesError, match="2 item") as raised:
        hub.store.put_datapoints([point(value=1), point("FailedTrainingJobs", value=2)])

    assert (
        "SERIES#alpha#dev#FailedTrainingJobs#-",
        "2025-06-01T12:00:00.000Z#111111111111#eu-west-1",
    ) in (raised.value.remaining_keys)
    assert len(hub.sleeps) == 7  # 8 attempts, a growing pause between each
    assert hub.sleeps == sorted(hub.sleeps) and hub.sleeps[0] < hub.sleeps[-1]


def test_duplicate_keys_in_one_batch_are_written_once(hub: Hub) -> None:
    written = hub.store.put_datapoints([point(value=1), point(value=2)])

    assert written == 1
    (stored,) = hub.store.series_history("alpha", "dev", "TotalCompletedTrainingJobs")
    assert stored.value == 2


# ----------------------------------------------------------------------------------- queries


@pytest.fixture
def known_data(hub: Hub) -> Hub:
    """Hourly values 0..5 of one alpha/dev series from two accounts, plus other series."""
    hub.store.set_spoke_state(
        ALPHA_DEV_ACCOUNT, SpokeState.ENROLLED, project_name="alpha", environment="dev"
    )
    hub.store.set_spoke_state(
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
    hub.store.put_datapoints(points)
    for datapoint in points:
        hub.store.put_latest(datapoint)
    return hub


def test_series_history_between_two_times_includes_both_ends(known_data: Hub) -> None:
    history = known_data.store.series_history(
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
    since_only = known_data.store.series_history(
        "alpha", "dev", "TotalCompletedTrainingJobs", since=NOW - timedelta(minutes=30)
    )
    assert [p.value for p in since_only] == [5, 105]
    dimensioned = known_data.store.series_history(
        "alpha", "dev", "CompletedTrainingJobsByInstanceType", {"InstanceType": "ml.p3"}
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
    queries: list[dict[str, Any]] = []
    known_data.client.meta.events.register(
        "before-parameter-build.dynamodb.Query", lambda params, **_: queries.append(dict(params))
    )

    found = known_data.store.datapoints_by_metric(
        "FailedTrainingJobs", since=NOW - timedelta(hours=1), until=NOW
    )

    # History only: the latest item of the series carries the same attributes but is left out.
    assert sorted((p.extraction_date[11:16], p.value) for p in found) == [
        ("11:00", 4),
        ("12:00", 5),
    ]
    assert queries[0]["IndexName"] == "ByMetricName"


# ----------------------------------------------------------------------------- spoke registry


def test_registry_tracks_states_and_only_enrolled_accounts_authenticate(hub: Hub) -> None:
    hub.store.set_spoke_state(ALPHA_DEV_ACCOUNT, "pending", project_name="alpha", environment="dev")
    hub.store.set_spoke_state(
        BETA_PROD_ACCOUNT, "enrolled", project_name="beta", environment="prod"
    )
    assert hub.store.enrolled_accounts() == {BETA_PROD_ACCOUNT: ("beta", "prod")}

    hub.store.set_spoke_state(
        ALPHA_DEV_ACCOUNT, "enrolled", project_name="alpha", environment="dev"
    )
    offboarded = hub.store.set_spoke_state(BETA_PROD_ACCOUNT, "offboarded", reason="account closed")

    assert hub.store.enrolled_accounts() == {ALPHA_DEV_ACCOUNT: ("alpha", "dev")}
    # Offboarding keeps the project it belonged to, so its history stays attributable.
    assert (offboarded.state, offboarded.project_name, offboarded.reason) == (
        SpokeState.OFFBOARDED,
        "beta",
        "account closed",
    )
    assert {s.account_id: s.state for s in hub.store.list_spokes()} == {
        ALPHA_DEV_ACCOUNT: SpokeState.ENROLLED,
        BETA_PROD_ACCOUNT: SpokeState.OFFBOARDED,
    }


def test_registry_refuses_unknown_states_and_enrollment_without_scope(hub: Hub) -> None:
    with pytest.raises(InvalidSpokeStateError, match="unknown spoke state 'active'"):
        hub.store.set_spoke_state(ALPHA_DEV_ACCOUNT, "active", project_name="a", environment="b")
    with pytest.raises(InvalidSpokeStateError, match="needs a project and an environment"):
        hub.store.set_spoke_state(ALPHA_DEV_ACCOUNT, SpokeState.ENROLLED)
    assert hub.store.list_spokes() == []


def test_registry_listing_follows_every_page(hub: Hub) -> None:
    for index in range(30):
        hub.store.set_spoke_state(
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

    assert len(hub.store.enrolled_accounts()) == 30
    assert len(pages) > 1  # DynamoDB pages at 1 MB


def test_freshness_only_moves_forward_and_merges_parts_of_one_extraction(hub: Hub) -> None:
    hub.store.set_spoke_state(
        ALPHA_DEV_ACCOUNT, "enrolled", project_name="alpha", environment="dev"
    )
    part_one = [SpokeErrorEntry("FailedTrainingJobs", "ThrottlingException", "slow down")]
    part_two = [SpokeErrorEntry("ModelPackagesPendingApproval", "AccessDeniedException", "no")]
    ten, eleven = "2025-06-01T10:00:00.000Z", "2025-06-01T11:00:00.000Z"

    assert hub.store.record_spoke_freshness(
        ALPHA_DEV_ACCOUNT, extraction_date=ten, errors=[], seen_at=NOW - timedelta(hours=2)
    )
    assert hub.store.record_spoke_freshness(
        ALPHA_DEV_ACCOUNT, extraction_date=eleven, errors=part_one, seen_at=NOW - timedelta(hours=1)
    )
    assert hub.store.record_spoke_freshness(
        ALPHA_DEV_ACCOUNT, extraction_date=eleven, errors=part_two, seen_at=NOW
    )
    snapshot = scan_table(hub.client)
    # Replaying a part, or a late older extraction, changes nothing.
    assert not hub.store.record_spoke_freshness(
        ALPHA_DEV_ACCOUNT, extraction_date=eleven, errors=part_two, seen_at=NOW
    )
    assert not hub.store.record_spoke_freshness(
        ALPHA_DEV_ACCOUNT, extraction_date=ten, errors=[], seen_at=NOW
    )
    assert scan_table(hub.client) == snapshot

    spoke = hub.store.get_spoke(ALPHA_DEV_ACCOUNT)
    assert spoke is not None
    assert spoke.last_extraction_date == eleven
    assert spoke.last_errors == tuple(part_one + part_two)
    assert spoke.last_seen_at == "2025-06-01T11:00:00.000Z"


def test_freshness_never_creates_a_registry_entry(hub: Hub) -> None:
    changed = hub.store.record_spoke_freshness(
        BETA_PROD_ACCOUNT, extraction_date="2025-06-01T10:00:00.000Z", errors=[], seen_at=NOW
    )

    assert not changed
    assert hub.store.get_spoke(BETA_PROD_ACCOUNT) is None


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
        hub.store.quarantine(quarantined(NOW - timedelta(hours=hours_ago), message_id))

    assert [r.message_id for r in hub.store.recent_quarantine()] == [
        "today-0",
        "today-1",
        "today-2",
        "yesterday",
    ]
    assert [r.message_id for r in hub.store.recent_quarantine(limit=3)] == [
        "today-0",
        "today-1",
        "today-2",
    ]
    assert hub.store.count_quarantine() == 4
    assert hub.store.count_quarantine(days=9) == 5


def test_quarantine_items_stay_out_of_history_and_the_metric_index(hub: Hub) -> None:
    hub.store.quarantine(quarantined(NOW, "m"))

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

    hub.store.put_datapoints([point(value=event.metrics[0].value)])

    (item,) = items_under(scan_table(hub.client), "SERIES#")
    assert Decimal(item["MetricValue"]["N"]) == Decimal(stored)


def test_store_builds_its_client_from_an_injected_session(hub: Hub) -> None:
    store = HubStore(TABLE_NAME, hub.session)
    store.set_spoke_state(ALPHA_DEV_ACCOUNT, "enrolled", project_name="alpha", environment="dev")

    assert hub.store.enrolled_accounts() == {ALPHA_DEV_ACCOUNT: ("alpha", "dev")}
    assert datetime.fromisoformat(store.list_spokes()[0].updated_at or "").tzinfo == UTC
