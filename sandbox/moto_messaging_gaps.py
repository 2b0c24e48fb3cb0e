"""moto gaps of the messaging resources in dsdash's templates: bus, queue and topic policies,
subscriptions and schedules (registered in `sandbox.moto_gap_registry`, installed by
`sandbox.moto_cloudformation_gaps`; docs/architecture.md §6).

moto gaps filled here (moto 5.2.5's CloudFormation has no model for these types, and skips them):
- moto gap: `AWS::Events::EventBusPolicy`: here a statement of the bus's policy;
- moto gap: `AWS::SQS::QueuePolicy`: here the `Policy` attribute of each queue;
- moto gap: `AWS::SNS::TopicPolicy`: here the `Policy` attribute of each topic (SetTopicAttributes;
  moto stores it and, as for every resource policy, does not enforce it);
- moto gap: `AWS::SNS::Subscription`: here Subscribe in the topic's region, with the topic policy
  checked for a cross-account subscriber as AWS does (an SQS subscriber declared in the config
  really receives what the hub publishes: moto's SNS delivers to SQS in-process);
- moto gap: `AWS::Scheduler::Schedule`: here CreateSchedule (stored, never run).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from moto.events.models import events_backends
from moto.scheduler.exceptions import ScheduleNotFound
from moto.scheduler.models import scheduler_backends
from moto.sns.exceptions import TopicNotFound
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.utilities.arns import parse_arn

from sandbox.moto_gap_registry import GapResource, ResourceCreationError, gap_handler, json_text


@gap_handler
class EventBusPolicy(GapResource):
    """moto gap: AWS::Events::EventBusPolicy is skipped; here it becomes a bus policy statement.

    Both forms CloudFormation documents are covered: `Statement` (merged into the bus's policy
    under `StatementId`, as CloudFormation does) and the older Principal/Action/Condition form
    (PutPermission). https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-events-eventbuspolicy.html
    """

    resource_type = "AWS::Events::EventBusPolicy"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        backend = events_backends[account_id][region]
        bus_name = properties.get("EventBusName") or "default"
        statement_id = properties["StatementId"]
        statement = properties.get("Statement")
        if statement is not None:
            bus = backend.describe_event_bus(bus_name)
            existing = json.loads(bus.policy)["Statement"] if bus.policy else []
            merged = [s for s in existing if s.get("Sid") != statement_id]
            merged.append({**statement, "Sid": statement_id})
            backend.put_permission(
                bus_name, "", "", "", {}, json.dumps({"Version": "2012-10-17", "Statement": merged})
            )
        else:
            backend.put_permission(
                bus_name,
                properties.get("Action", "events:PutEvents"),
                properties["Principal"],
                statement_id,
                properties.get("Condition"),  # type: ignore[arg-type]
                "",
            )
        # Ref returns the statement id.
        return cls(statement_id, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        bus_name = self.properties.get("EventBusName") or "default"
        bus = events_backends[account_id][region_name].event_buses.get(bus_name)
        if bus is not None:
            bus.remove_statement(self.physical_resource_id)


@gap_handler
class QueuePolicy(GapResource):
    """moto gap: AWS::SQS::QueuePolicy is skipped; here each queue gets the `Policy` attribute."""

    resource_type = "AWS::SQS::QueuePolicy"

    @staticmethod
    def _queue_names(properties: Mapping[str, Any]) -> list[str]:
        # `Queues` holds queue URLs (Ref of AWS::SQS::Queue); the name is the last path segment.
        return [str(url).rstrip("/").rsplit("/", 1)[-1] for url in properties.get("Queues", [])]

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        backend = sqs_backends[account_id][region]
        policy = json_text(properties["PolicyDocument"])
        for queue_name in cls._queue_names(properties):
            backend.set_queue_attributes(queue_name, {"Policy": policy})
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for queue_name in self._queue_names(self.properties):
            if queue_name in backend.queues:
                backend.set_queue_attributes(queue_name, {"Policy": ""})


@gap_handler
class SnsTopicPolicy(GapResource):
    """moto gap: AWS::SNS::TopicPolicy is skipped; here each topic gets the `Policy` attribute
    (SetTopicAttributes), which `SnsSubscription` below enforces for cross-account subscribers."""

    resource_type = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        for topic_arn in properties["Topics"]:
            # The backend sets the attribute by this name (the API layer lower-cases it).
            sns_backends[account_id][region].set_topic_attribute(
                str(topic_arn), "policy", json_text(properties["PolicyDocument"])
            )
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        for topic_arn in self.properties["Topics"]:
            if str(topic_arn) in sns_backends[account_id][region_name].topics:
                sns_backends[account_id][region_name].set_topic_attribute(
                    str(topic_arn), "policy", json.dumps({"Statement": []})
                )


def _topic_policy_admits_subscriber(topic: Any, subscriber_account: str) -> bool:
    """What AWS checks on a cross-account Subscribe, for the statements dsdash writes: an Allow
    of sns:Subscribe for the subscriber's account, or for any principal of its organization."""
    from sandbox.event_delivery import organization_id_of  # the same org lookup as the buses

    if parse_arn(topic.arn).account == subscriber_account:
        return True
    policy = json.loads(topic.policy)
    organization_id = organization_id_of(subscriber_account)
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sns:Subscribe", "sns:*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        principals = principal.get("AWS", []) if isinstance(principal, dict) else principal
        principals = [principals] if isinstance(principals, str) else principals
        conditions = statement.get("Condition", {}).get("StringEquals", {})
        if "*" in principals and conditions.get("aws:PrincipalOrgID") == organization_id:
            return organization_id is not None
        if any(subscriber_account in str(item) for item in principals):
            return True
    return False


@gap_handler
class SnsSubscription(GapResource):
    """moto gap: AWS::SNS::Subscription is skipped; here it is Subscribe in the subscriber's
    account and in the topic's region (the `Region` property), as CloudFormation does. moto
    does not check the topic policy of a cross-account Subscribe; here a subscriber the policy
    does not admit fails the resource, as AWS answers AuthorizationError. Delivery across
    accounts is `sandbox.sns_delivery`'s."""

    resource_type = "AWS::SNS::Subscription"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        topic_arn = str(properties["TopicArn"])
        topic_region = str(properties.get("Region") or parse_arn(topic_arn).region)
        backend = sns_backends[account_id][topic_region]
        try:
            topic = backend.get_topic(topic_arn)
        except TopicNotFound:
            raise ResourceCreationError(
                generated_name, cls.resource_type, f"topic {topic_arn} does not exist"
            ) from None
        if not _topic_policy_admits_subscriber(topic, account_id):
            raise ResourceCreationError(
                generated_name,
                cls.resource_type,
                f"AuthorizationError: the policy of {topic_arn} does not let account "
                f"{account_id} subscribe",
            )
        subscription = backend.subscribe(
            topic_arn, str(properties["Endpoint"]), str(properties["Protocol"])
        )
        if properties.get("FilterPolicy"):
            backend.set_subscription_attributes(
                subscription.arn, "FilterPolicy", json_text(properties["FilterPolicy"])
            )
        return cls(subscription.arn, {**properties, "Region": topic_region}, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][str(self.properties["Region"])].unsubscribe(
            self.physical_resource_id
        )


@gap_handler
class SchedulerSchedule(GapResource):
    """moto gap: AWS::Scheduler::Schedule is skipped; here it is CreateSchedule in moto's
    EventBridge Scheduler backend (stored, never run: the sandbox triggers refreshes itself)."""

    resource_type = "AWS::Scheduler::Schedule"
    name_property = "Name"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        name = str(properties.get("Name") or generated_name)[:64]
        scheduler_backends[account_id][region].create_schedule(
            description=str(properties.get("Description", "")),
            end_date=properties.get("EndDate"),  # type: ignore[arg-type]
            flexible_time_window=dict(properties["FlexibleTimeWindow"]),
            group_name=str(properties.get("GroupName") or "default"),
            kms_key_arn=properties.get("KmsKeyArn"),  # type: ignore[arg-type]
            name=name,
            schedule_expression=str(properties["ScheduleExpression"]),
            schedule_expression_timezone=properties.get("ScheduleExpressionTimezone"),  # type: ignore[arg-type]
            start_date=properties.get("StartDate"),  # type: ignore[arg-type]
            state=str(properties.get("State") or "ENABLED"),
            target=dict(properties["Target"]),
            action_after_completion=None,
        )
        return cls(name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(ScheduleNotFound):
            scheduler_backends[account_id][region_name].delete_schedule(
                str(self.properties.get("GroupName") or "default"), self.physical_resource_id
            )
