"""The ingest Lambda on moto receiving events again (SQS and EventBridge deliver at least
once): a replay changes nothing."""

from __future__ import annotations

from datetime import timedelta

from hub_ingest_support import VALID_RECORDS, history_keys, mixed_batch, run_ingest
from hub_runtime_support import NOW, Hub, scan_table, sqs_batch, sqs_record


def test_replaying_the_batch_leaves_the_table_unchanged(enrolled_hub: Hub) -> None:
    batch = mixed_batch()
    run_ingest(enrolled_hub, batch)
    before = scan_table(enrolled_hub.client)
    rows_before = history_keys(enrolled_hub)

    response = run_ingest(enrolled_hub, batch)

    assert response == {"batchItemFailures": []}
    assert scan_table(enrolled_hub.client) == before
    # The replay's rows are the same datapoints again, recognisable by their key (queries keep
    # one row per key), and nothing was quarantined for them.
    assert history_keys(enrolled_hub) == sorted(rows_before * 2)


def test_the_same_events_in_new_messages_add_no_datapoint(enrolled_hub: Hub) -> None:
    """EventBridge may deliver an event twice (at-least-once): a new SQS message, same event."""
    run_ingest(enrolled_hub, mixed_batch())
    before = scan_table(enrolled_hub.client)

    later = NOW + timedelta(minutes=5)
    records = [sqs_record(body, f"again-{mid}", later) for mid, body in VALID_RECORDS.items()]
    run_ingest(enrolled_hub, sqs_batch(records))

    after = scan_table(enrolled_hub.client)
    assert [i for i in after if not i["PK"]["S"].startswith("QUARANTINE#")] == [
        i for i in before if not i["PK"]["S"].startswith("QUARANTINE#")
    ]
    assert len(set(history_keys(enrolled_hub))) == 6  # no new datapoint key
