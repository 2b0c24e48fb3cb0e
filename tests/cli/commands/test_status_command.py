"""`dsdash status` and `dsdash quarantine list` against a moto hub with known spokes."""

from __future__ import annotations

import json

from operator_cli_support import (
    CHURN_DEV_OFFBOARDED,
    CHURN_DEV_PENDING,
    CHURN_PROD_FRESH,
    FRAUD_DEV_FRESH,
    FRAUD_DEV_STALE,
    FRAUD_PROD_SILENT,
    QUARANTINE_REASON,
    STALE_ACCOUNTS,
)

ALL_ACCOUNTS = {
    FRAUD_DEV_FRESH,
    FRAUD_DEV_STALE,
    FRAUD_PROD_SILENT,
    CHURN_PROD_FRESH,
    CHURN_DEV_PENDING,
    CHURN_DEV_OFFBOARDED,
}


def test_status_json_flags_exactly_the_stale_spokes(hub):
    result = hub.run("status", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    spokes = {spoke["account_id"]: spoke for spoke in document["spokes"]}
    assert set(spokes) == ALL_ACCOUNTS
    assert {account for account, spoke in spokes.items() if spoke["stale"]} == STALE_ACCOUNTS
    assert document["stale_count"] == 2
    # rate(1 hour) in config/projects.yaml: stale after two hours.
    assert document["refresh_period_seconds"] == 3600
    assert document["stale_after_seconds"] == 7200


def test_status_json_carries_state_reason_last_seen_and_failed_metrics(hub):
    document = json.loads(hub.run("status", "--json").stdout)
    spokes = {spoke["account_id"]: spoke for spoke in document["spokes"]}

    stale = spokes[FRAUD_DEV_STALE]
    assert (stale["project"], stale["environment"]) == ("fraud-detection", "dev")
    assert stale["state"] == "enrolled"
    assert stale["reason"] == "account in a tagged OU"
    assert stale["last_seen_at"] == "2025-06-01T09:00:00.000Z"
    assert stale["failed_metrics"] == [
        {
            "metric_name": "FailedTrainingJobs",
            "error_code": "AccessDeniedException",
            "message": "not authorized to perform sagemaker:ListTrainingJobs",
        }
    ]
    assert spokes[FRAUD_PROD_SILENT]["last_seen_at"] is None
    assert spokes[CHURN_DEV_PENDING]["state"] == "pending"
    assert spokes[CHURN_DEV_OFFBOARDED]["state"] == "offboarded"
    assert spokes[CHURN_DEV_OFFBOARDED]["reason"] == "account closed"
    assert spokes[FRAUD_DEV_FRESH]["failed_metrics"] == []
    # Two of the three quarantined events are within the last seven days.
    assert document["quarantine_count"] == 2


def test_status_table_marks_the_stale_rows_and_counts_quarantine(hub):
    result = hub.run("status")

    assert result.exit_code == 0, result.output
    rows = {
        account: line
        for line in result.stdout.splitlines()
        for account in ALL_ACCOUNTS
        if account in line
    }
    assert set(rows) == ALL_ACCOUNTS
    assert {account for account, line in rows.items() if "STALE" in line} == STALE_ACCOUNTS
    assert "FailedTrainingJobs: AccessDeniedException" in rows[FRAUD_DEV_STALE]
    assert "Quarantined events (last 7 days): 2" in result.stdout
    # Not a terminal: no colour codes in the output.
    assert "\x1b[" not in result.stdout


def test_fail_on_stale_exits_1_naming_the_stale_spokes(hub):
    result = hub.run("status", "--fail-on-stale")

    assert result.exit_code == 1
    assert "2 stale spoke(s)" in result.stderr
    for account in STALE_ACCOUNTS:
        assert account in result.stderr
    assert FRAUD_DEV_FRESH not in result.stderr


def test_fail_on_stale_exits_0_when_every_enrolled_spoke_is_fresh(empty_hub):
    from operator_cli_support import NOW, record_seen

    from hub_stack.spoke_registry.records import SpokeState

    empty_hub.store.registry.set_spoke_state(
        FRAUD_DEV_FRESH, SpokeState.ENROLLED, project_name="fraud-detection", environment="dev"
    )
    record_seen(empty_hub.store, FRAUD_DEV_FRESH, NOW.replace(hour=11))

    result = empty_hub.run("status", "--fail-on-stale")

    assert result.exit_code == 0, result.output
    assert "0 stale" in result.stdout


def test_quarantine_list_shows_what_was_refused_and_why(hub):
    result = hub.run("quarantine", "list", "--json")

    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    # Newest first, and only the last seven days by default.
    assert [event["event_id"] for event in events] == [
        "quarantined-event-0",
        "quarantined-event-1",
    ]
    assert all(event["reason"] == QUARANTINE_REASON for event in events)
    assert events[0]["claimed_account_id"] == "444444444444"

    wider = json.loads(hub.run("quarantine", "list", "--json", "--days", "30").stdout)
    assert len(wider) == 3
    table = hub.run("quarantine", "list", "--limit", "1")
    assert table.exit_code == 0, table.output
    assert "quarantined-event-0" in table.stdout
    assert "quarantined-event-1" not in table.stdout
    assert "NotEnrolled" in table.stdout
