"""`dsdash refresh`: the event it puts on the hub bus, and `--wait` with a fake clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from moto.sns.models import sns_backends
from operator_cli_support import (
    FRAUD_DEV_FRESH,
    FRAUD_DEV_STALE,
    FRAUD_PROD_SILENT,
    NOW,
    REGION,
    record_seen,
)

import contracts
from contracts import dashboard_page

HUB_ACCOUNT = "111111111111"  # config/projects.yaml


@pytest.fixture
def captured_refreshes(hub):
    """A rule on the hub bus that copies every refresh event into an SQS queue."""
    events = hub.session.client("events")
    sqs = hub.session.client("sqs")
    events.create_event_bus(Name=contracts.HUB_BUS_NAME)
    queue_url = sqs.create_queue(QueueName="refresh-capture")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="capture-refresh",
        EventBusName=contracts.HUB_BUS_NAME,
        EventPattern=json.dumps({"source": [contracts.REFRESH_EVENT_SOURCE]}),
    )
    events.put_targets(
        Rule="capture-refresh",
        EventBusName=contracts.HUB_BUS_NAME,
        Targets=[{"Id": "queue", "Arn": queue_arn}],
    )
    # The hub stack's refresh topic, in the configured hub account (organization mode).
    sns_backends[HUB_ACCOUNT][REGION].create_topic(contracts.REFRESH_TOPIC_NAME)

    def receive() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(message["Body"]) for message in messages]

    return receive


def test_refresh_emits_a_schema_valid_event_with_the_scope(hub, captured_refreshes):
    result = hub.run("refresh", "--project", "fraud-detection", "--environment", "dev")

    assert result.exit_code == 0, result.output
    (event,) = captured_refreshes()
    assert event["source"] == contracts.REFRESH_EVENT_SOURCE
    assert event["detail-type"] == contracts.REFRESH_EVENT_DETAIL_TYPE
    detail = event["detail"]
    validator = Draft202012Validator(
        contracts.load_schema("refresh-event"), format_checker=FormatChecker()
    )
    assert list(validator.iter_errors(detail)) == []
    assert detail["ProjectName"] == "fraud-detection"
    assert detail["Environment"] == "dev"
    assert "AccountId" not in detail
    assert detail["RequestedAt"] == "2025-06-01T12:00:00.000Z"
    assert detail["RefreshId"] in result.stdout


def test_unscoped_refresh_names_no_scope(hub, captured_refreshes):
    result = hub.run("refresh")

    assert result.exit_code == 0, result.output
    (event,) = captured_refreshes()
    assert set(event["detail"]) == {"RefreshId", "RequestedAt"}
    assert "every spoke" in result.stdout


def test_an_invalid_scope_is_refused_before_anything_is_sent(hub, captured_refreshes):
    result = hub.run("refresh", "--account", "not-an-account")

    assert result.exit_code == 2
    assert "AccountId" in result.stderr
    assert captured_refreshes() == []


def test_wait_times_out_naming_the_spokes_that_did_not_report(hub, captured_refreshes):
    def only_one_spoke_reports(time):
        record_seen(hub.store, FRAUD_DEV_FRESH, time.now)

    hub.time.on_sleep = only_one_spoke_reports

    result = hub.run("refresh", "--project", "fraud-detection", "--wait", "--timeout", "60")

    assert result.exit_code == 1
    assert "2 of 3 spoke(s) did not report" in result.stderr
    assert FRAUD_DEV_STALE in result.stderr
    assert FRAUD_PROD_SILENT in result.stderr
    assert FRAUD_DEV_FRESH not in result.stderr
    # It waited the whole timeout on the fake clock, in poll-interval steps.
    assert sum(hub.time.sleeps) == pytest.approx(60)
    assert hub.time.now == NOW + timedelta(seconds=60)


def test_wait_succeeds_once_every_spoke_in_scope_reports(hub, captured_refreshes):
    def spokes_report_after_ten_seconds(time):
        if time.now >= NOW + timedelta(seconds=10):
            for account in (FRAUD_DEV_FRESH, FRAUD_DEV_STALE):
                record_seen(hub.store, account, time.now)

    hub.time.on_sleep = spokes_report_after_ten_seconds

    result = hub.run("refresh", "--project", "fraud-detection", "--environment", "dev", "--wait")

    assert result.exit_code == 0, result.output
    assert "All 2 spoke(s) in scope reported." in result.stdout
    # Two polls of 5 s, then the spokes had reported.
    assert hub.time.sleeps == [5.0, 5.0]


def test_a_report_older_than_the_request_does_not_count(hub, captured_refreshes):
    # The fresh spoke last reported 30 minutes before the refresh: that is not an answer.
    result = hub.run("refresh", "--account", FRAUD_DEV_FRESH, "--wait", "--timeout", "10")

    assert result.exit_code == 1
    assert FRAUD_DEV_FRESH in result.stderr


def test_refresh_also_publishes_once_to_the_hub_refresh_topic(hub, captured_refreshes):
    result = hub.run("refresh", "--account", "222222222222")

    assert result.exit_code == 0, result.output
    (event,) = captured_refreshes()
    arn = contracts.refresh_topic_arn("aws", REGION, HUB_ACCOUNT)
    [(_, message, *_)] = sns_backends[HUB_ACCOUNT][REGION].get_topic(arn).sent_notifications
    published = json.loads(message)
    assert (published["source"], published["detail-type"]) == ("metric_fetch", "metric_fetch")
    assert published["detail"] == event["detail"]
    assert published["detail"]["AccountId"] == "222222222222"


def test_refresh_schedules_the_hub_page_render_for_when_it_has_completed(hub, captured_refreshes):
    result = hub.run("refresh", "--account", "111111111101")

    assert result.exit_code == 0, result.output
    (event,) = captured_refreshes()
    scheduler = hub.session.client("scheduler")
    (summary,) = scheduler.list_schedules()["Schedules"]
    schedule = scheduler.get_schedule(Name=summary["Name"])
    assert schedule["Name"].endswith(event["detail"]["RefreshId"])
    # 12:00:00 plus the burst window, in the hub account's publisher, run once then deleted.
    assert schedule["ScheduleExpression"] == "at(2025-06-01T12:02:00)"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == (
        f"arn:aws:lambda:{REGION}:{HUB_ACCOUNT}:function:"
        f"{dashboard_page.DASHBOARD_PUBLISHER_FUNCTION_NAME}"
    )
    assert schedule["Target"]["RoleArn"].endswith(
        f":{HUB_ACCOUNT}:role/{dashboard_page.DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME}"
    )
