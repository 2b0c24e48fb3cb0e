"""CDK assertions on what happens to the org functions' failed runs: retries, the encrypted
failed-invocations queue only they write to, and the alarm on the org account's topic."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template
from org_stack_support import (
    MANAGEMENT_ACCOUNT,
    actions_by_resource,
    function_role,
    role_statements,
)
from org_template_support import organization_org_template

import contracts

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def org() -> Template:
    return organization_org_template()


def _function_id(org: Template, function_name: str) -> str:
    (function_id,) = org.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}}
    )
    return str(function_id)


def _failed_invocations_queue_id(org: Template) -> str:
    (queue_id,) = org.find_resources("AWS::SQS::Queue")
    return str(queue_id)


def test_enrollment_runs_one_at_a_time_and_queues_events_for_six_hours(org: Template) -> None:
    # Parallel enrollments would only race on the hub's connection function, which runs one at
    # a time; a burst of accounts waits in Lambda's async queue instead of failing.
    org.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": contracts.ORG_ENROLLMENT_FUNCTION_NAME,
            "ReservedConcurrentExecutions": 1,
        },
    )
    enrollment_id = _function_id(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME)
    org.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": enrollment_id},
            "Qualifier": "$LATEST",
            "MaximumEventAgeInSeconds": 6 * 3600,
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [_failed_invocations_queue_id(org), "Arn"]}
                }
            },
        },
    )


def test_reconciler_failures_go_to_the_failed_invocations_queue(org: Template) -> None:
    reconciler_id = _function_id(org, contracts.ORG_RECONCILER_FUNCTION_NAME)
    org.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": reconciler_id},
            "MaximumEventAgeInSeconds": Match.any_value(),
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [_failed_invocations_queue_id(org), "Arn"]}
                }
            },
        },
    )
    (config,) = org.find_resources(
        "AWS::Lambda::EventInvokeConfig",
        {"Properties": {"FunctionName": {"Ref": reconciler_id}}},
    ).values()
    # A reconcile older than the next scheduled one (hourly) is superseded by it.
    assert 60 <= config["Properties"]["MaximumEventAgeInSeconds"] <= 3600


def test_failed_invocations_queue_is_encrypted_tls_only_and_only_our_functions_send(
    org: Template,
) -> None:
    queue_id = _failed_invocations_queue_id(org)
    org.has_resource_properties(
        "AWS::SQS::Queue",
        {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600},
    )
    org.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )
    queue_arn = f"<{queue_id}.Arn>"
    senders = set()
    for role_id in org.find_resources("AWS::IAM::Role"):
        granted = actions_by_resource(role_statements(org, role_id))
        if "sqs:SendMessage" in granted.get(queue_arn, set()):
            senders.add(role_id)
    assert senders == {
        function_role(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME),
        function_role(org, contracts.ORG_RECONCILER_FUNCTION_NAME),
    }


def test_failed_enrollments_raise_an_alarm_on_the_org_accounts_encrypted_topic(
    org: Template,
) -> None:
    topics = org.find_resources(
        "AWS::SNS::Topic", {"Properties": {"TopicName": contracts.ORG_ALERT_TOPIC_NAME}}
    )
    assert len(topics) == 1
    ((topic_id, topic),) = topics.items()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert org.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    queues = org.find_resources("AWS::SQS::Queue")
    [failed_invocations] = [
        logical_id for logical_id in queues if "FailedInvocations" in logical_id
    ]
    org.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "dsdash-org-enrollment-failures",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": [failed_invocations, "QueueName"]}}
            ],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "AlarmActions": [{"Ref": topic_id}],
            "OKActions": [{"Ref": topic_id}],
        },
    )
    # Only this account's CloudWatch alarms may publish: no role, no wildcard Allow.
    org.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": Match.object_like(
                                    {"StringEquals": {"aws:SourceAccount": MANAGEMENT_ACCOUNT}}
                                ),
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:PrincipalIsAWSService": "false"}},
                            }
                        ),
                    ]
                )
            },
        },
    )
    org.has_output("AlertTopicArn", {"Value": {"Ref": topic_id}})
