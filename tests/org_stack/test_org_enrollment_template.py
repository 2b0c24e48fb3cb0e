"""CDK assertions on the enrollment function: the role hub and spokes trust, its environment,
the roles it may assume, and the rules and sweep that run it."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template
from org_stack_support import (
    HUB_ACCOUNT,
    MANAGEMENT_ACCOUNT,
    REGIONS,
    actions_by_resource,
    function_role,
    org_config,
    render,
    role_statements,
)
from org_template_support import HOME_REGION, organization_org_template

import contracts
from config.model import DsdashConfig
from enrollment.enrollment_function.runtime.lifecycle_events import OperatorRequest
from enrollment.enrollment_function.runtime.lifecycle_triggers import parse_lifecycle_event
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from enrollment.placement.targeting import TargetingSettings
from runtime_common.settings import read_settings

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    return org_config()


@pytest.fixture(scope="module")
def org() -> Template:
    return organization_org_template()


def test_enrollment_function_runs_as_the_role_hub_and_spokes_trust(org: Template) -> None:
    role_id = function_role(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME)
    role = org.find_resources("AWS::IAM::Role")[role_id]
    assert role["Properties"]["RoleName"] == contracts.ENROLLMENT_FUNCTION_ROLE_NAME
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]


def test_enrollment_environment_names_the_hub_and_the_targeting(
    config: DsdashConfig, org: Template
) -> None:
    (function,) = org.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": contracts.ORG_ENROLLMENT_FUNCTION_NAME}},
    ).values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert (
        function["Properties"]["Handler"]
        == "enrollment.enrollment_function.runtime.handler.handler"
    )
    assert variables["HUB_ACCOUNT_ID"] == HUB_ACCOUNT
    assert variables["HUB_REGION"] == "eu-central-1"
    assert variables["HUB_NAME"] == config.hub.name
    assert variables["SPOKE_REGIONS"].split(",") == list(REGIONS)
    # The contract's table name and CALL_AS=SELF are the settings' defaults: not written.
    settings = read_settings(EnrollmentSettings, variables)
    assert (settings.hub_table_name, settings.targeting.call_as) == (
        contracts.HUB_TABLE_NAME,
        "SELF",
    )
    assert settings.targeting == TargetingSettings.from_config(config)


def test_enrollment_assumes_only_our_narrow_roles(org: Template) -> None:
    statements = role_statements(org, function_role(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME))
    assumable = {
        resource
        for statement in statements
        if "sts:AssumeRole" in statement["Action"]
        for resource in statement["Resource"]
    }
    assert assumable == {
        f"arn:${{AWS::Partition}}:iam::{HUB_ACCOUNT}:role/{contracts.HUB_ENROLLMENT_ROLE_NAME}",
        "arn:${AWS::Partition}:iam::*:role/dsdash-spoke-enrollment-*",
    }
    granted = actions_by_resource(statements)
    reconciler_id = next(
        iter(
            org.find_resources(
                "AWS::Lambda::Function",
                {"Properties": {"FunctionName": contracts.ORG_RECONCILER_FUNCTION_NAME}},
            )
        )
    )
    assert granted[f"<{reconciler_id}.Arn>"] == {"lambda:InvokeFunction"}
    # Enrollment reads instances; only the reconciler writes them.
    assert not any(
        action.endswith(("CreateStackInstances", "DeleteStackInstances", "UpdateStackInstances"))
        for actions in granted.values()
        for action in actions
    )


def test_enrollment_rules_cover_our_stackset_instances_and_account_lifecycle(
    config: DsdashConfig, org: Template
) -> None:
    stack_set_ids = sorted(org.find_resources("AWS::CloudFormation::StackSet"), key=str)
    (rule,) = org.find_resources(
        "AWS::Events::Rule",
        {
            "Properties": {
                "EventPattern": {
                    "source": ["aws.cloudformation"],
                    "detail-type": ["CloudFormation StackSet StackInstance Status Change"],
                }
            }
        },
    ).values()
    arns = render(rule["Properties"]["EventPattern"]["detail"]["stack-set-arn"])
    assert sorted(arns) == sorted(
        f"arn:${{AWS::Partition}}:cloudformation:{HOME_REGION}:{MANAGEMENT_ACCOUNT}:stackset/"
        f"${{{stack_set_id}}}"
        for stack_set_id in stack_set_ids
    )
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.controltower"],
                "detail-type": ["AWS Service Event via CloudTrail"],
                "detail": {"eventName": ["CreateManagedAccount"]},
            }
        },
    )
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": ["aws.organizations"],
                    "detail": {"eventName": ["CreateAccountResult", "MoveAccount", "CloseAccount"]},
                }
            ),
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^EnrollmentFunction"), "Arn"]
                        }
                    }
                )
            ],
        },
    )


def test_enrollment_sweeps_unfinished_enrollments_every_30_minutes(org: Template) -> None:
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(30 minutes)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^EnrollmentFunction"), "Arn"]
                        },
                        "Input": Match.serialized_json(Match.exact({"dsdash": "sweep"})),
                    }
                )
            ],
        },
    )
    (rule,) = org.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(30 minutes)"}}
    ).values()
    (target,) = rule["Properties"]["Targets"]
    # The enrollment handler reads the constant input as its sweep request.
    request = parse_lifecycle_event(json.loads(target["Input"]))
    assert isinstance(request, OperatorRequest)
    assert request.action == "sweep"
