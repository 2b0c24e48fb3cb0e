"""The refresh Lambda on moto: the event it puts on the hub bus satisfies the refresh contract,
carries the requested scope, and a spoke-style rule pattern honours that scope."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from hub_runtime_support import BETA_PROD_ACCOUNT, REGION, load_event
from jsonschema import Draft202012Validator, FormatChecker
from moto import mock_aws

import contracts
from hub_stack.refresh.runtime import refresh
from runtime_common.timestamps import parse_timestamp

ALL_SPOKES_PATTERN = {"source": ["metric_fetch"], "detail-type": ["metric_fetch"]}


def scope_pattern(project: str, environment: str, account: str) -> dict[str, Any]:
    """A pattern of the kind a spoke's rule uses: absent scope fields mean everyone."""
    return {
        **ALL_SPOKES_PATTERN,
        "detail": {
            "ProjectName": [{"exists": False}, project],
            "Environment": [{"exists": False}, environment],
            "AccountId": [{"exists": False}, account],
        },
    }


class Capture:
    """A rule on the hub bus delivering to an SQS queue, so tests see what was emitted."""

    def __init__(self, session: boto3.Session, name: str, pattern: dict[str, Any]) -> None:
        self.sqs = session.client("sqs")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = session.client("events")
        events.put_rule(
            Name=name, EventBusName=contracts.HUB_BUS_NAME, EventPattern=json.dumps(pattern)
        )
        events.put_targets(
            Rule=name, EventBusName=contracts.HUB_BUS_NAME, Targets=[{"Id": "queue", "Arn": arn}]
        )

    def events(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def session() -> Any:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        session.client("events").create_event_bus(Name=contracts.HUB_BUS_NAME)
        yield session


def assert_valid_refresh_event(event: dict[str, Any]) -> dict[str, Any]:
    assert (event["source"], event["detail-type"]) == ("metric_fetch", "metric_fetch")
    validator = Draft202012Validator(
        contracts.load_schema("refresh-event"), format_checker=FormatChecker()
    )
    assert list(validator.iter_errors(event["detail"])) == []
    detail: dict[str, Any] = event["detail"]
    return detail


def test_emitted_refresh_validates_and_carries_its_scope(session: boto3.Session) -> None:
    capture = Capture(session, "capture-all", ALL_SPOKES_PATTERN)

    refresh_id = refresh.emit_refresh(
        session, contracts.HUB_BUS_NAME, {"ProjectName": "alpha", "Environment": "dev"}
    )

    (event,) = capture.events()
    detail = assert_valid_refresh_event(event)
    assert detail["RefreshId"] == refresh_id
    assert uuid.UUID(refresh_id).version == 4
    assert (detail["ProjectName"], detail["Environment"]) == ("alpha", "dev")
    assert "AccountId" not in detail


def test_spoke_patterns_receive_only_refreshes_in_their_scope(session: boto3.Session) -> None:
    alpha_dev = Capture(session, "alpha-dev", scope_pattern("alpha", "dev", "111111111111"))
    beta_prod = Capture(session, "beta-prod", scope_pattern("beta", "prod", BETA_PROD_ACCOUNT))

    everyone = refresh.emit_refresh(session, contracts.HUB_BUS_NAME)
    only_beta = refresh.emit_refresh(session, contracts.HUB_BUS_NAME, {"ProjectName": "beta"})
    one_account = refresh.emit_refresh(
        session, contracts.HUB_BUS_NAME, {"AccountId": BETA_PROD_ACCOUNT}
    )

    assert [e["detail"]["RefreshId"] for e in alpha_dev.events()] == [everyone]
    assert sorted(e["detail"]["RefreshId"] for e in beta_prod.events()) == sorted(
        [everyone, only_beta, one_account]
    )


def test_scheduled_invocation_refreshes_everyone(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = Capture(session, "capture-all", ALL_SPOKES_PATTERN)
    monkeypatch.setenv("HUB_BUS_NAME", contracts.HUB_BUS_NAME)

    result = refresh.handler(load_event("hub_scheduled_event.json"), None)

    (event,) = capture.events()
    detail = assert_valid_refresh_event(event)
    assert result == {"RefreshId": detail["RefreshId"], "Scope": {}}
    assert set(detail) == {"RefreshId", "RequestedAt"}


def test_on_demand_invocation_passes_its_payload_as_scope(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = Capture(session, "capture-all", ALL_SPOKES_PATTERN)
    monkeypatch.setenv("HUB_BUS_NAME", contracts.HUB_BUS_NAME)

    result = refresh.handler({"AccountId": BETA_PROD_ACCOUNT, "Environment": None}, None)

    (event,) = capture.events()
    assert assert_valid_refresh_event(event)["AccountId"] == BETA_PROD_ACCOUNT
    assert result["Scope"] == {"AccountId": BETA_PROD_ACCOUNT}


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ({"Project": "alpha"}, r"unknown refresh scope field\(s\) Project; allowed"),
        ({"ProjectName": "Alpha Project"}, "ProjectName"),
        ({"AccountId": "12345"}, "AccountId"),
        ({"AccountId": 222222222222}, "AccountId"),
    ],
)
def test_an_invalid_scope_is_refused_before_anything_is_sent(
    session: boto3.Session, scope: dict[str, Any], message: str
) -> None:
    capture = Capture(session, "capture-all", ALL_SPOKES_PATTERN)

    with pytest.raises(refresh.RefreshScopeError, match=message):
        refresh.emit_refresh(session, contracts.HUB_BUS_NAME, scope)

    assert capture.events() == []


def test_handler_without_a_bus_name_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_BUS_NAME", raising=False)

    with pytest.raises(refresh.RefreshConfigurationError, match="HUB_BUS_NAME"):
        refresh.handler({}, None)


def test_one_publish_to_the_refresh_topic_carries_the_same_scoped_event(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A queue subscribed to the topic sees what a subscribed spoke extractor would be handed.
    sns = session.client("sns")
    topic_arn = sns.create_topic(Name=contracts.REFRESH_TOPIC_NAME)["TopicArn"]
    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName="topic-capture")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    bus_capture = Capture(session, "capture-all", ALL_SPOKES_PATTERN)
    monkeypatch.setenv("HUB_BUS_NAME", contracts.HUB_BUS_NAME)
    monkeypatch.setenv("REFRESH_TOPIC_ARN", topic_arn)

    result = refresh.handler({"ProjectName": "beta", "Environment": "prod"}, None)

    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    detail = assert_valid_refresh_event(json.loads(message["Body"]))
    assert detail["RefreshId"] == result["RefreshId"]
    assert (detail["ProjectName"], detail["Environment"]) == ("beta", "prod")
    # The sample's route still carries it too (per-account mode's fan-out rules).
    assert [event["detail"] for event in bus_capture.events()] == [detail]


PUBLISHER_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:dsdash-dashboard-publisher"
SCHEDULE_ROLE_ARN = "arn:aws:iam::123456789012:role/dsdash-dashboard-publish-schedule"


def test_a_refresh_schedules_one_page_render_for_when_it_has_completed(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_BUS_NAME", contracts.HUB_BUS_NAME)
    monkeypatch.setenv("PAGE_PUBLISHER_ARN", PUBLISHER_ARN)
    monkeypatch.setenv("PAGE_PUBLISH_ROLE_ARN", SCHEDULE_ROLE_ARN)
    capture = Capture(session, "capture-all", ALL_SPOKES_PATTERN)

    result = refresh.handler({"ProjectName": "beta"}, None)

    (event,) = capture.events()
    requested_at = parse_timestamp(event["detail"]["RequestedAt"])
    scheduler = session.client("scheduler")
    (summary,) = scheduler.list_schedules()["Schedules"]
    schedule = scheduler.get_schedule(Name=summary["Name"])
    assert schedule["Name"] == refresh.publish_schedule_name(result["RefreshId"])
    due = (requested_at + refresh.PUBLISH_AFTER_REFRESH).replace(microsecond=0)
    assert schedule["ScheduleExpression"] == f"at({due:%Y-%m-%dT%H:%M:%S})"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ActionAfterCompletion"] == "DELETE"  # one run, then gone
    assert (schedule["Target"]["Arn"], schedule["Target"]["RoleArn"]) == (
        PUBLISHER_ARN,
        SCHEDULE_ROLE_ARN,
    )
    assert json.loads(schedule["Target"]["Input"])["RefreshId"] == result["RefreshId"]


def test_a_refresh_whose_render_cannot_be_scheduled_still_happened(
    session: boto3.Session,
) -> None:
    capture = Capture(session, "capture-all", ALL_SPOKES_PATTERN)
    publish = refresh.PagePublish(PUBLISHER_ARN, SCHEDULE_ROLE_ARN)
    refresh_id = refresh.emit_refresh(session, contracts.HUB_BUS_NAME, publish=publish)
    # The same name again (a RefreshId is unique, so only a replayed schedule collides):
    # Scheduler refuses it, and the refresh is neither failed nor repeated.
    again = refresh.schedule_page_publish(
        session,
        publish,
        refresh_id=refresh_id,
        requested_at=parse_timestamp("2026-01-01T00:00:00Z"),
    )

    assert again is None
    assert [event["detail"]["RefreshId"] for event in capture.events()] == [refresh_id]
    assert len(session.client("scheduler").list_schedules()["Schedules"]) == 1
