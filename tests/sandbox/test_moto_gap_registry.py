"""The sandbox's CloudFormation gap handlers: one per resource type, whichever module registers it
(docs/architecture.md §6). A second handler for a type used to replace the first silently, by
import order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from moto import mock_aws
from moto.sns.models import sns_backends

from sandbox import moto_cloudformation_gaps  # noqa: F401  (installs every handler module)
from sandbox.moto_gap_registry import GAP_HANDLERS, GapResource, ResourceCreationError, gap_handler
from sandbox.moto_messaging_gaps import SnsSubscription

REGION = "eu-west-1"


def test_a_second_handler_for_a_registered_type_is_refused_naming_the_first() -> None:
    class AnotherSubscription(GapResource):
        resource_type = "AWS::SNS::Subscription"

        @classmethod
        def create(
            cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
        ) -> GapResource:
            raise NotImplementedError

    with pytest.raises(ValueError, match=r"sandbox\.moto_messaging_gaps\.SnsSubscription"):
        gap_handler(AnotherSubscription)
    assert GAP_HANDLERS["AWS::SNS::Subscription"] is SnsSubscription


def test_a_cross_account_subscriber_the_topic_policy_does_not_admit_fails_the_resource() -> None:
    # What AWS answers (AuthorizationError), and what the handler registered for the type does.
    topic_account, admitted, stranger = "111111111111", "222222222222", "333333333333"
    with mock_aws():
        topic_arn = sns_backends[topic_account][REGION].create_topic("refresh").arn
        policy = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{admitted}:root"},
                    "Action": "sns:Subscribe",
                    "Resource": topic_arn,
                }
            ]
        }
        handler = GAP_HANDLERS["AWS::SNS::TopicPolicy"]
        handler.create(
            "Policy", {"Topics": [topic_arn], "PolicyDocument": policy}, topic_account, REGION
        )
        subscription = GAP_HANDLERS["AWS::SNS::Subscription"]
        properties = {"TopicArn": topic_arn, "Protocol": "sqs", "Endpoint": _queue_arn(admitted)}
        subscription.create("Admitted", properties, admitted, REGION)
        with pytest.raises(ResourceCreationError, match="AuthorizationError"):
            subscription.create(
                "Stranger", {**properties, "Endpoint": _queue_arn(stranger)}, stranger, REGION
            )


def _queue_arn(account_id: str) -> str:
    return f"arn:aws:sqs:{REGION}:{account_id}:refresh-queue"
