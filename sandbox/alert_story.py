"""The demo's alert: one spoke breaches a KPI threshold, a subscriber hears it start, the
activity changes, and the subscriber hears it recover (docs/architecture.md §7, "Alerts").

Everything on the way is the product's: the config's alert, the ingest function judging it,
the hub stack's encrypted topic. The subscriber is what a user attaches: an SQS queue in the hub
account, subscribed to the topic (moto's SNS delivers to SQS in-process). What the story changes
in the spoke is SageMaker activity, through the SageMaker API (new model packages awaiting
approval, then their approval), and the seeded plan follows, so the comparison with the truth
still holds.

The story needs an alert on `ModelPackagesPendingApproval` with `>` or `>=` (the example config's
`approval-backlog`) and a spoke in its scope; without one it is skipped, and says so.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from config.alert_model import AlertRule
from sandbox.organization import SpokeAccount

if TYPE_CHECKING:
    from sandbox.demo_world import Demo

BACKLOG_METRIC: Final = "ModelPackagesPendingApproval"
PENDING: Final = "PendingManualApproval"
APPROVED: Final = "Approved"
SUBSCRIBER_QUEUE_NAME: Final = "dsdash-demo-alert-subscriber"
MODEL_PACKAGE_GROUP: Final = "sandbox-models"  # sandbox.seed's group


@dataclass(frozen=True)
class ReceivedNotification:
    subject: str
    message: Mapping[str, Any]

    @property
    def state(self) -> str:
        return str(self.message.get("state"))


@dataclass
class AlertStoryResult:
    skipped: str | None = None
    alert: str | None = None
    account_id: str | None = None
    subscriber_queue_url: str | None = None
    on_breach: list[ReceivedNotification] = field(default_factory=list)
    on_recovery: list[ReceivedNotification] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Exactly one ALARM for the breaching spoke, then exactly one OK."""
        if self.skipped is not None:
            return True
        return [(n.state, n.message.get("account")) for n in self.on_breach] == [
            ("ALARM", self.account_id)
        ] and [(n.state, n.message.get("account")) for n in self.on_recovery] == [
            ("OK", self.account_id)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "skipped": self.skipped,
            "alert": self.alert,
            "account_id": self.account_id,
            "subscriber_queue_url": self.subscriber_queue_url,
            "on_breach": [{"subject": n.subject, **n.message} for n in self.on_breach],
            "on_recovery": [{"subject": n.subject, **n.message} for n in self.on_recovery],
        }


def backlog_alert_target(demo: Demo) -> tuple[SpokeAccount, AlertRule] | None:
    """The first spoke in scope of an alert on the approval backlog that a backlog can breach."""
    for spoke in demo.layout.spokes:
        project = demo.config.projects[spoke.project]
        for rule in project.alerts:
            if (
                rule.metric == BACKLOG_METRIC
                and rule.comparison in (">", ">=")
                and not rule.dimensions
                and rule.applies_to(spoke.environment)
            ):
                return spoke, rule
    return None


def attach_subscriber(demo: Demo) -> str:
    """An SQS queue in the hub account, subscribed to the hub's alert topic; its URL."""
    session = demo.hub_session()
    sqs = session.client("sqs")
    topic_arn = demo.stacks["hub"].outputs["AlertTopicArn"]
    queue_url = sqs.create_queue(QueueName=SUBSCRIBER_QUEUE_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    # What AWS needs for SNS to deliver to a queue: the queue admits this topic only.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    session.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return str(queue_url)


def receive_notifications(demo: Demo, queue_url: str) -> list[ReceivedNotification]:
    """Every notification waiting in the subscriber queue (consumed)."""
    sqs = demo.hub_session().client("sqs")
    received: list[ReceivedNotification] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return received
        for message in messages:
            envelope = json.loads(message["Body"])
            received.append(
                ReceivedNotification(envelope["Subject"], json.loads(envelope["Message"]))
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def seed_backlog(demo: Demo, account_id: str, rule: AlertRule) -> int:
    """Add model packages awaiting approval until the backlog breaches `rule`; returns how many
    were added."""
    plan = demo.plans[account_id]
    pending = sum(status == PENDING for status in plan.model_package_statuses)
    breaching = (
        math.floor(rule.threshold) + 1 if rule.comparison == ">" else math.ceil(rule.threshold)
    )
    added = max(0, breaching - pending)
    for region in demo.config.organization.regions:
        sagemaker = demo.world.session(account_id, region).client("sagemaker")
        for _ in range(added):
            sagemaker.create_model_package(
                ModelPackageGroupName=MODEL_PACKAGE_GROUP,
                ModelApprovalStatus=PENDING,
                InferenceSpecification={
                    "Containers": [{"Image": "xgboost:1"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )
    demo.plans[account_id] = dataclasses.replace(
        plan, model_package_statuses=(*plan.model_package_statuses, *[PENDING] * added)
    )
    return added


def approve_backlog(demo: Demo, account_id: str) -> int:
    """A reviewer approves every package awaiting approval; returns how many."""
    approved = 0
    for region in demo.config.organization.regions:
        sagemaker = demo.world.session(account_id, region).client("sagemaker")
        paginator = sagemaker.get_paginator("list_model_packages")
        for page in paginator.paginate(ModelApprovalStatus=PENDING, ModelPackageType="Both"):
            for package in page["ModelPackageSummaryList"]:
                sagemaker.update_model_package(
                    ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus=APPROVED
                )
                approved += 1
    plan = demo.plans[account_id]
    demo.plans[account_id] = dataclasses.replace(
        plan,
        model_package_statuses=tuple(
            APPROVED if status == PENDING else status for status in plan.model_package_statuses
        ),
    )
    return approved
