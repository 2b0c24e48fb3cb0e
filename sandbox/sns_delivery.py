"""SNS delivery for the sandbox, at moto's backend seam (docs/architecture.md §6).

moto gaps this module fills, by replacing `moto.sns.models.Topic.publish`:

- moto delivers a notification only to subscriptions stored in the topic's own account and
  region. A spoke subscribes to the hub refresh topic from its own account (its stack's
  `AWS::SNS::Subscription`), so moto stores the subscription in the spoke's backend and never
  delivers to it. Here a publish reaches every subscription to the topic, in any account.
- moto delivers to a `lambda` subscription through its Lambda backend, which needs Docker. Here the
  function runs through the sandbox's `LambdaRuntime`, queued (SNS invokes Lambda
  asynchronously), with the event shape SNS uses
  (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html).

Filter policies are moto's own matcher. Other protocols (SQS, HTTP) keep moto's delivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.moto_api._internal import mock_random
from moto.sns.models import Subscription, Topic, sns_backends
from moto.utilities.arns import parse_arn

from sandbox.lambda_runtime import LambdaRuntime
from sandbox.moto_patching import MotoPatches


def _subscriptions_to(topic_arn: str) -> Iterator[Subscription]:
    for _, regions in sns_backends.items():
        for _, backend in regions.items():
            for subscription in list(backend.subscriptions.values()):
                if subscription.topic.arn == topic_arn:
                    yield subscription


def _lambda_event(
    subscription: Subscription,
    message_id: str,
    message: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in (message_attributes or {}).items()
                    },
                },
            }
        ]
    }


@dataclass
class SnsDelivery:
    runtime: LambdaRuntime
    delivered: int = 0

    def publish(
        self,
        topic: Topic,
        message: str,
        *,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> str:
        message_id = str(mock_random.uuid4())
        for subscription in _subscriptions_to(topic.arn):
            matcher = subscription._filter_policy_matcher
            if matcher is not None and not matcher.matches(message_attributes, message):
                continue
            if subscription.protocol == "lambda":
                self.deliver_to_function(
                    subscription.endpoint,
                    _lambda_event(subscription, message_id, message, subject, message_attributes),
                )
            else:
                subscription.publish(
                    message,
                    message_id,
                    subject=subject,
                    message_attributes=message_attributes,
                    group_id=group_id,
                    deduplication_id=deduplication_id,
                    message_structure=message_structure,
                )
            self.delivered += 1
        topic.sent_notifications.append(
            (message_id, message, subject, message_attributes, group_id)
        )
        return message_id

    def deliver_to_function(self, function_arn: str, event: dict[str, Any]) -> None:
        """Queue the function's invocation, as SNS invokes Lambda asynchronously."""
        arn = parse_arn(function_arn)
        function = lambda_backends[arn.account][arn.region].get_function(function_arn)
        self.runtime.invoke_async(function, event)


@contextmanager
def patched_sns_delivery(delivery: SnsDelivery) -> Iterator[SnsDelivery]:
    def publish(self: Topic, message: str, **kwargs: Any) -> str:
        return delivery.publish(self, message, **kwargs)

    with MotoPatches([(Topic, "publish", publish)]).applied():
        yield delivery
