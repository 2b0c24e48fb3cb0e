"""CDK assertions on the hub template's way in: the event bus and who may put events on it,
the rule to the ingest queue, the queue and its dead letters, and how ingest reads them."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template
from hub_stack_support import ORGANIZATION_ID, logical_id_of_function, render
from hub_template_support import (
    organization_hub_template,
    per_account_hub_template,
    single_resource,
)

import contracts

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def template() -> Template:
    return organization_hub_template()


@pytest.fixture(scope="module")
def per_account_template() -> Template:
    return per_account_hub_template()


def test_hub_bus_admits_the_whole_organization_with_one_statement(template: Template) -> None:
    template.has_resource_properties("AWS::Events::EventBus", {"Name": contracts.HUB_BUS_NAME})
    template.resource_count_is("AWS::Events::EventBusPolicy", 1)
    (policy,) = template.find_resources("AWS::Events::EventBusPolicy").values()
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    assert policy["Properties"]["EventBusName"] == {"Ref": bus_id}
    assert policy["Properties"]["StatementId"] == "dsdash-organization"
    assert render(policy["Properties"]["Statement"]) == {
        "Sid": "dsdash-organization",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": f"<{bus_id}.Arn>",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}},
    }


def test_per_account_mode_leaves_the_bus_policy_to_the_connection_function(
    per_account_template: Template,
) -> None:
    per_account_template.resource_count_is("AWS::Events::EventBusPolicy", 0)
    per_account_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": contracts.HUB_CONNECTION_FUNCTION_NAME,
            "Environment": {"Variables": Match.object_like({"BUS_POLICY_MODE": "per-account"})},
        },
    )


def test_metric_events_v1_and_v2_go_from_the_hub_bus_to_the_ingest_queue(
    template: Template,
) -> None:
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    queue_id, _ = single_resource(template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})
    rule_id, rule = single_resource(
        template,
        "AWS::Events::Rule",
        {
            "EventBusName": {"Ref": bus_id},
            "EventPattern": {
                "source": [contracts.METRIC_EVENT_SOURCE],
                "detail-type": [contracts.METRIC_EVENT_DETAIL_TYPE],
            },
        },
    )
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # Only this rule may send to the queue.
    queue_policy = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": queue_id}]}}
    )
    (policy,) = queue_policy.values()
    allows = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert allows, "the ingest queue must let EventBridge deliver"
    for statement in allows:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
        }


def test_ingest_queue_has_a_dead_letter_queue_and_both_are_encrypted_and_tls_only(
    template: Template,
) -> None:
    queue_id, queue = single_resource(
        template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()}
    )
    redrive = queue["Properties"]["RedrivePolicy"]
    dead_letter_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert 1 < redrive["maxReceiveCount"] <= 10
    dead_letter = template.find_resources("AWS::SQS::Queue")[dead_letter_id]
    assert dead_letter["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    for logical_id in (queue_id, dead_letter_id):
        properties = template.find_resources("AWS::SQS::Queue")[logical_id]["Properties"]
        assert properties["SqsManagedSseEnabled"] is True
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": logical_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_ingest_function_reads_the_queue_in_batches_with_partial_failures(
    template: Template,
) -> None:
    function_id = logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    queue_id, queue = single_resource(
        template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()}
    )
    _, mapping = single_resource(
        template,
        "AWS::Lambda::EventSourceMapping",
        {"FunctionName": {"Ref": function_id}, "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]}},
    )
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] >= 50, (
        "a refresh of many spokes must not cost one call per event"
    )
    assert 0 < properties["MaximumBatchingWindowInSeconds"] <= 300
    function_timeout = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"][
        "Timeout"
    ]
    # Otherwise SQS re-delivers messages that a running invocation is still processing.
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * function_timeout
