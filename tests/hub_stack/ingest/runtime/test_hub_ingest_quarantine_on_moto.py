"""The ingest Lambda on moto against hostile input: each bad event of a mixed batch is
quarantined with the right reason and its raw event, and a spoke cannot write another
project's numbers."""

from __future__ import annotations

import json

from hub_ingest_support import HOSTILE_EVENTS, history_keys, mixed_batch, run_ingest
from hub_runtime_support import (
    BETA_PROD_ACCOUNT,
    STRANGER_ACCOUNT,
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

from hub_stack.runtime.quarantine import QUARANTINE_RAW_EVENT_MAX_BYTES


def test_mixed_batch_stores_valid_events_once_and_quarantines_each_bad_one(
    enrolled_hub: Hub,
) -> None:
    assert len({code for _, code in HOSTILE_EVENTS.values()}) >= 15

    response = run_ingest(enrolled_hub, mixed_batch())

    assert response == {"batchItemFailures": []}
    items = scan_table(enrolled_hub.client)
    # v1: 1 datapoint, alpha v2: 3, beta v2: 2; one history row each.
    alpha, beta = ("alpha", "dev"), ("beta", "prod")
    alpha_spoke = ("111111111111", "eu-west-1")
    beta_spoke = ("222222222222", "eu-west-1")
    assert history_keys(enrolled_hub) == sorted(
        [
            (*alpha, "TotalCompletedTrainingJobs", "{}", "2025-06-01T10:00:00.000Z", *alpha_spoke),
            (*alpha, "NumberEndPointsInService", "{}", "2025-06-01T11:00:00.250Z", *alpha_spoke),
            (
                *alpha,
                "CompletedTrainingJobsByInstanceType",
                '{"InstanceType":"ml.m5.xlarge"}',
                "2025-06-01T11:00:00.250Z",
                *alpha_spoke,
            ),
            (*alpha, "ManagedSpotSavingsPercent", "{}", "2025-06-01T11:00:00.250Z", *alpha_spoke),
            (*beta, "FailedTrainingJobs", "{}", "2025-06-01T11:30:00.000Z", *beta_spoke),
            (*beta, "BillableTrainingSeconds", "{}", "2025-06-01T11:30:00.000Z", *beta_spoke),
        ]
    )
    # One latest item per spoke, holding all its series.
    assert len(items_under(items, "LATEST#alpha#")) == 1
    assert len(items_under(items, "LATEST#beta#")) == 1
    assert len(enrolled_hub.store.latest_values("alpha")) == 4
    assert len(enrolled_hub.store.latest_values("beta")) == 2

    quarantined = {item["MessageId"]["S"]: item for item in items_under(items, "QUARANTINE#")}
    assert {message_id: item["ReasonCode"]["S"] for message_id, item in quarantined.items()} == {
        message_id: code for message_id, (_, code) in HOSTILE_EVENTS.items()
    }


def test_quarantine_keeps_the_raw_event_and_what_it_claimed(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, mixed_batch())

    records = {r.message_id: r for r in enrolled_hub.store.quarantine.recent(limit=100)}

    spoofed = records["beta-claims-alpha"]
    assert json.loads(spoofed.raw_event) == HOSTILE_EVENTS["beta-claims-alpha"][0]
    assert not spoofed.raw_event_truncated
    assert (spoofed.claimed_account_id, spoofed.claimed_project_name) == (
        BETA_PROD_ACCOUNT,
        "alpha",
    )
    assert "beta/prod" in spoofed.reason and "alpha/dev" in spoofed.reason
    assert spoofed.event_id == v1_event()["id"]
    # An unreadable body has no event id; the SQS message id stands in.
    assert records["truncated-json"].event_id == "truncated-json"

    huge = records["event-bigger-than-quarantine-limit"]
    assert huge.raw_event_truncated
    assert huge.raw_event_bytes > QUARANTINE_RAW_EVENT_MAX_BYTES
    assert len(huge.raw_event.encode("utf-8")) <= QUARANTINE_RAW_EVENT_MAX_BYTES
    assert enrolled_hub.store.quarantine.count() == len(HOSTILE_EVENTS)


def test_a_spoke_cannot_write_another_projects_numbers(enrolled_hub: Hub) -> None:
    spoofed_v2 = with_envelope(
        v2_event(AccountId=BETA_PROD_ACCOUNT), account=BETA_PROD_ACCOUNT
    )  # beta/prod's account, claiming alpha/dev, consistently
    stranger = with_envelope(v1_event(), account=STRANGER_ACCOUNT)

    response = run_ingest(
        enrolled_hub,
        sqs_batch([sqs_record(spoofed_v2, "spoofed"), sqs_record(stranger, "stranger")]),
    )

    assert response == {"batchItemFailures": []}
    items = scan_table(enrolled_hub.client)
    assert not items_under(items, "LATEST#") and not delivered_rows(enrolled_hub.session)
    codes = {r.message_id: r.reason_code for r in enrolled_hub.store.quarantine.recent()}
    assert codes == {"spoofed": "SenderEnrolledElsewhere", "stranger": "SenderNotEnrolled"}
