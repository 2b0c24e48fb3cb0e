"""CDK assertions on the hub's dashboard publisher: a private, encrypted, TLS-only bucket named by
the contract; the function on an hourly schedule with the environment its handler reads; a role
that can read what the page needs and write the page alone; the refresh function allowed to
schedule the publisher after a refresh, and nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from hub_stack_support import (
    HUB_ACCOUNT,
    HUB_REGION,
    actions_by_resource,
    hub_config,
    logical_id_of_function,
    role_logical_id_of_function,
    statements_attached_to_role,
    synth_hub_template,
)

import contracts
from contracts import dashboard_page, history_table
from hub_stack.dashboard_publisher import infrastructure
from hub_stack.dashboard_publisher.runtime import publisher
from hub_stack.refresh.runtime import refresh

pytestmark = pytest.mark.synth

BUCKET = dashboard_page.dashboard_bucket_name(HUB_ACCOUNT, HUB_REGION)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synth_hub_template(hub_config(), Path(tmp_path_factory.mktemp("cdk-out")))


@pytest.fixture(scope="module")
def statements(template: Template) -> list[dict[str, Any]]:
    role = role_logical_id_of_function(template, dashboard_page.DASHBOARD_PUBLISHER_FUNCTION_NAME)
    return statements_attached_to_role(template, role)


def test_the_dashboard_bucket_is_private_encrypted_and_tls_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": BUCKET,
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_the_function_runs_the_page_handler_hourly(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": dashboard_page.DASHBOARD_PUBLISHER_FUNCTION_NAME,
            "Handler": "hub_stack.dashboard_publisher.runtime.publisher.handler",
            "ReservedConcurrentExecutions": 1,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "DASHBOARD_BUCKET": Match.any_value(),
                        "TABLE_NAME": Match.any_value(),
                        "REFRESH_SCHEDULE": "cron(0/30 * * * ? *)",
                        "PROJECT_NAMES": Match.string_like_regexp("fraud-detection"),
                        "HISTORY_DAYS": str(infrastructure.HOSTED_HISTORY_DAYS),
                    }
                )
            },
        },
    )
    function = logical_id_of_function(template, dashboard_page.DASHBOARD_PUBLISHER_FUNCTION_NAME)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "Targets": Match.array_with(
                [Match.object_like({"Arn": {"Fn::GetAtt": [function, "Arn"]}})]
            ),
        },
    )
    # The rule's rate is the handler's own number (its unit's construct reads it from the runtime).
    assert infrastructure.PUBLISH_BACKSTOP_MINUTES is publisher.PUBLISH_BACKSTOP_MINUTES
    assert publisher.PUBLISH_BACKSTOP_MINUTES == 60


def test_the_role_reads_what_the_page_needs_and_writes_the_page_alone(
    statements: list[dict[str, Any]],
) -> None:
    granted = actions_by_resource(statements)
    page = f"arn:${{AWS::Partition}}:s3:::{BUCKET}/{dashboard_page.DASHBOARD_OBJECT_KEY}"
    writes = {
        resource
        for resource, actions in granted.items()
        if actions & {"s3:PutObject", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    }
    results = history_table.athena_results_bucket_name(HUB_ACCOUNT, HUB_REGION)
    assert writes == {page, f"arn:${{AWS::Partition}}:s3:::{results}/*"}, granted
    workgroup = [
        r for r in granted if r.endswith(f":workgroup/{history_table.ATHENA_WORKGROUP_NAME}")
    ]
    assert granted[workgroup[0]] == {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
    }
    history = history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION)
    history_objects = f"arn:${{AWS::Partition}}:s3:::{history}/{history_table.HISTORY_PREFIX}*"
    assert granted[history_objects] == {"s3:GetObject"}
    (query,) = [s for s in statements if "dynamodb:Query" in s["Action"]]
    assert query["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == [
        "SPOKE",
        "LATEST#*",
        "QUARANTINE#*",
    ]
    every_action = {action for actions in granted.values() for action in actions}
    assert not {a for a in every_action if a.endswith("*")}, every_action


def test_the_refresh_may_only_schedule_the_publisher_through_its_schedule_role(
    template: Template,
) -> None:
    function = logical_id_of_function(template, dashboard_page.DASHBOARD_PUBLISHER_FUNCTION_NAME)
    roles = template.find_resources(
        "AWS::IAM::Role",
        {"Properties": {"RoleName": dashboard_page.DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME}},
    )
    ((schedule_role, role),) = roles.items()
    (principal_statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert principal_statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in principal_statement["Condition"]["StringEquals"]
    # The schedule role invokes the publisher, nothing else.
    assert actions_by_resource(statements_attached_to_role(template, schedule_role)) == {
        f"<{function}.Arn>": {"lambda:InvokeFunction"}
    }
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": contracts.HUB_REFRESH_FUNCTION_NAME,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "PAGE_PUBLISHER_ARN": {"Fn::GetAtt": [function, "Arn"]},
                        "PAGE_PUBLISH_ROLE_ARN": {"Fn::GetAtt": [schedule_role, "Arn"]},
                    }
                )
            },
        },
    )
    refresh_role = role_logical_id_of_function(template, contracts.HUB_REFRESH_FUNCTION_NAME)
    statements = statements_attached_to_role(template, refresh_role)
    granted = actions_by_resource(statements)
    schedules = (
        f"arn:${{AWS::Partition}}:scheduler:{HUB_REGION}:{HUB_ACCOUNT}:schedule/"
        f"{refresh.PUBLISH_SCHEDULE_GROUP}/{refresh.PUBLISH_SCHEDULE_PREFIX}*"
    )
    assert granted[schedules] == {"scheduler:CreateSchedule"}
    assert granted[f"<{schedule_role}.Arn>"] == {"iam:PassRole"}
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    scheduling = {a for actions in granted.values() for a in actions if a.startswith("scheduler:")}
    assert scheduling == {"scheduler:CreateSchedule"}
    assert not any(a.startswith("lambda:") for actions in granted.values() for a in actions)
