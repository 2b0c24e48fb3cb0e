"""Alert evaluation in the ingest Lambda on moto: one SNS notification (read from an SQS
subscriber) when an alert starts and one when it recovers, per alert, spoke and region; none
while the state is unchanged, on a replay, for an older extraction, or for another project."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    BETA_PROD_ACCOUNT,
    NOW,
    RETENTION_DAYS,
    TABLE_NAME,
    Hub,
    sqs_batch,
    sqs_record,
    v2_event,
)

from hub_stack.ingest.runtime import ingest
from hub_stack.ingest.runtime.alert_evaluation import AlertEvaluator, SnsNotificationPublisher
from hub_stack.ingest.runtime.alert_rules import (
    ProjectAlertRule,
    decode_alert_rules,
    encode_alert_rules,
)
from hub_stack.runtime.alert_state import AlertState, AlertStateStore, Transition

DASHBOARD = "https://dsdash.example.com/dashboard.html"
# Alpha's endpoints alert: fewer than 2 in service, two extractions in a row.
ENDPOINTS_ALERT = ProjectAlertRule(
    project="alpha",
    name="few-endpoints",
    metric="NumberEndPointsInService",
    comparison="<",
    threshold=Decimal(2),
    consecutive=2,
    severity="critical",
    environments=("dev",),
)


class Subscriber:
    """An SQS queue subscribed to the alert topic, as a user would attach one."""

    def __init__(self, hub: Hub) -> None:
        sns = hub.session.client("sns")
        sqs = hub.session.client("sqs")
        self.topic_arn = sns.create_topic(Name="dsdash-alerts")["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName="alert-subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self._sqs = sqs

    def receive(self) -> list[dict[str, Any]]:
        """Every SNS envelope waiting in the queue (Subject, Message, MessageAttributes)."""
        envelopes = []
        while True:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                return envelopes
            for message in messages:
                envelopes.append(json.loads(message["Body"]))
                self._sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def subscriber(enrolled_hub: Hub) -> Subscriber:
    return Subscriber(enrolled_hub)


def _evaluator(hub: Hub, subscriber: Subscriber) -> AlertEvaluator:
    return AlertEvaluator(
        [ENDPOINTS_ALERT],
        states=AlertStateStore(TABLE_NAME, hub.client),
        publisher=SnsNotificationPublisher(
            subscriber.topic_arn, sns_client=hub.session.client("sns")
        ),
        retention_days=RETENTION_DAYS,
        dashboard_url=DASHBOARD,
    )


def _extraction(hours_before_now: float, endpoints: int, **detail: Any) -> dict[str, Any]:
    date = (NOW - timedelta(hours=hours_before_now)).isoformat()
    event = v2_event(
        ExtractionDate=date,
        Metrics=[
            {
                "MetricName": "NumberEndPointsInService",
                "MetricValue": endpoints,
                "Unit": "Count",
                "Dimensions": {},
                "Metadata": {},
            }
        ],
        **detail,
    )
    # A spoke's events name the region they were put in, in the envelope and the detail alike.
    event["region"] = event["detail"]["Region"]
    return event


def _ingest(hub: Hub, subscriber: Subscriber, *events: dict[str, Any]) -> None:
    batch = sqs_batch(
        [
            sqs_record(event, f"m-{index}-{event['detail']['ExtractionDate']}")
            for index, event in enumerate(events)
        ]
    )
    response = ingest.ingest_batch(
        batch,
        store=hub.store,
        history=hub.history,
        retention_days=RETENTION_DAYS,
        clock=lambda: NOW,
        alerts=_evaluator(hub, subscriber),
    )
    assert response["batchItemFailures"] == []


def test_one_notification_when_the_alert_starts_and_one_when_it_recovers(
    enrolled_hub: Hub, subscriber: Subscriber
) -> None:
    _ingest(enrolled_hub, subscriber, _extraction(5, endpoints=1))
    assert subscriber.receive() == [], "the first breaching extraction is not yet `for: 2`"

    _ingest(enrolled_hub, subscriber, _extraction(4, endpoints=0))
    [started] = subscriber.receive()
    message = json.loads(started["Message"])
    assert started["Subject"] == (
        "[dsdash ALARM critical] alpha/dev few-endpoints: NumberEndPointsInService < 2"
        f" ({ALPHA_DEV_ACCOUNT})"
    )
    assert message == {
        "source": "dsdash",
        "state": "ALARM",
        "alert": "few-endpoints",
        "severity": "critical",
        "project": "alpha",
        "environment": "dev",
        "account": ALPHA_DEV_ACCOUNT,
        "region": "eu-west-1",
        "metric": "NumberEndPointsInService",
        "dimensions": {},
        "value": 0,
        "comparison": "<",
        "threshold": 2,
        "for": 2,
        # Since the first breaching extraction of the run, not the one that completed it.
        "since": "2025-06-01T07:00:00.000Z",
        "extraction_date": "2025-06-01T08:00:00.000Z",
        "dashboard": DASHBOARD,
    }
    assert started["MessageAttributes"]["severity"]["Value"] == "critical"

    _ingest(enrolled_hub, subscriber, _extraction(3, endpoints=1))
    assert subscriber.receive() == [], "still breaching: no repeat"

    _ingest(enrolled_hub, subscriber, _extraction(2, endpoints=4))
    [recovered] = subscriber.receive()
    assert recovered["Subject"] == (
        f"[dsdash OK] alpha/dev few-endpoints recovered ({ALPHA_DEV_ACCOUNT})"
    )
    assert json.loads(recovered["Message"])["state"] == "OK"
    assert json.loads(recovered["Message"])["since"] == "2025-06-01T10:00:00.000Z"

    _ingest(enrolled_hub, subscriber, _extraction(1, endpoints=5))
    assert subscriber.receive() == [], "still fine: no repeat"


def test_replays_and_late_extractions_send_nothing(
    enrolled_hub: Hub, subscriber: Subscriber
) -> None:
    first, second = _extraction(5, endpoints=0), _extraction(4, endpoints=0)
    _ingest(enrolled_hub, subscriber, first, second)
    assert len(subscriber.receive()) == 1

    _ingest(enrolled_hub, subscriber, first, second)  # EventBridge delivers at least once
    _ingest(enrolled_hub, subscriber, _extraction(6, endpoints=9))  # an older, healthy one
    assert subscriber.receive() == []
    [state] = AlertStateStore(TABLE_NAME, enrolled_hub.client).states_of_project("alpha")
    assert (state.state, state.breach_streak) == (AlertState.ALARM, 2)


def test_a_spoke_of_another_project_or_environment_is_not_judged_by_the_alert(
    enrolled_hub: Hub, subscriber: Subscriber
) -> None:
    beta = {"ProjectName": "beta", "Environment": "prod", "AccountId": BETA_PROD_ACCOUNT}
    _ingest(enrolled_hub, subscriber, _extraction(5, 0, **beta), _extraction(4, 0, **beta))
    assert subscriber.receive() == []
    assert AlertStateStore(TABLE_NAME, enrolled_hub.client).states_of_project("beta") == []


def test_each_region_of_a_spoke_has_its_own_state(
    enrolled_hub: Hub, subscriber: Subscriber
) -> None:
    for region in ("eu-west-1", "us-east-1"):
        _ingest(enrolled_hub, subscriber, _extraction(5, 0, Region=region))
        _ingest(enrolled_hub, subscriber, _extraction(4, 0, Region=region))
    envelopes = subscriber.receive()
    assert sorted(json.loads(e["Message"])["region"] for e in envelopes) == [
        "eu-west-1",
        "us-east-1",
    ]


class RefusingOnce:
    """A publisher SNS throttles once."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.refused = inner, False

    def publish(self, subject: str, message: Any) -> str:
        if not self.refused:
            self.refused = True
            raise ClientError({"Error": {"Code": "Throttled", "Message": "slow down"}}, "Publish")
        return str(self.inner.publish(subject, message))


def test_a_failed_publish_is_retried_by_the_redelivery_and_then_sent_once(
    enrolled_hub: Hub, subscriber: Subscriber
) -> None:
    evaluator = _evaluator(enrolled_hub, subscriber)
    evaluator._publisher = RefusingOnce(evaluator._publisher)
    batch = sqs_batch([sqs_record(_extraction(5, 0), "a"), sqs_record(_extraction(4, 0), "b")])
    arguments: dict[str, Any] = {
        "store": enrolled_hub.store,
        "history": enrolled_hub.history,
        "retention_days": RETENTION_DAYS,
        "clock": lambda: NOW,
        "alerts": evaluator,
    }
    first = ingest.ingest_batch(batch, **arguments)
    assert [f["itemIdentifier"] for f in first["batchItemFailures"]] == ["b"]
    assert subscriber.receive() == []
    # SQS redelivers "b" alone.
    second = ingest.ingest_batch(sqs_batch([sqs_record(_extraction(4, 0), "b")]), **arguments)
    assert second["batchItemFailures"] == []
    assert len(subscriber.receive()) == 1
    ingest.ingest_batch(sqs_batch([sqs_record(_extraction(4, 0), "b")]), **arguments)
    assert subscriber.receive() == []
    [logged] = AlertStateStore(TABLE_NAME, enrolled_hub.client).notifications_between(
        NOW - timedelta(days=1), NOW
    )
    assert logged.transition is Transition.ALARM and logged.message_id


def test_a_failed_publish_is_sent_by_a_newer_extraction_arriving_before_the_redelivery(
    enrolled_hub: Hub, subscriber: Subscriber
) -> None:
    evaluator = _evaluator(enrolled_hub, subscriber)
    evaluator._publisher = RefusingOnce(evaluator._publisher)
    arguments: dict[str, Any] = {
        "store": enrolled_hub.store,
        "history": enrolled_hub.history,
        "retention_days": RETENTION_DAYS,
        "clock": lambda: NOW,
        "alerts": evaluator,
    }
    batch = sqs_batch([sqs_record(_extraction(5, 0), "a"), sqs_record(_extraction(4, 0), "b")])
    assert len(ingest.ingest_batch(batch, **arguments)["batchItemFailures"]) == 1
    # The next extraction (still breaching) arrives before SQS redelivers "b".
    ingest.ingest_batch(sqs_batch([sqs_record(_extraction(3, 0), "c")]), **arguments)
    [started] = subscriber.receive()
    assert json.loads(started["Message"])["extraction_date"] == "2025-06-01T08:00:00.000Z"
    ingest.ingest_batch(sqs_batch([sqs_record(_extraction(4, 0), "b")]), **arguments)
    assert subscriber.receive() == []


def test_rules_survive_the_environment_variable_round_trip() -> None:
    assert decode_alert_rules(encode_alert_rules([ENDPOINTS_ALERT])) == (ENDPOINTS_ALERT,)
    assert encode_alert_rules([ENDPOINTS_ALERT]).startswith("[{")  # readable when short
    assert decode_alert_rules("") == ()


def test_many_rules_are_compressed_to_fit_the_functions_environment() -> None:
    rules = [
        dataclasses.replace(ENDPOINTS_ALERT, project=f"project-{index:03d}", name=name)
        for index in range(60)
        for name in ("few-endpoints", "no-endpoint")
    ]
    encoded = encode_alert_rules(rules)
    assert encoded.startswith("gzip:")
    assert len(encoded) < 3 * 1024  # what hub_stack.alerting leaves for the rules
    assert decode_alert_rules(encoded) == tuple(rules)
