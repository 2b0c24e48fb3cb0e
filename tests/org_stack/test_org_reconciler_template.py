"""CDK assertions on the reconciler function: its settings, what triggers it and the StackSet
instances it alone may change."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template
from org_stack_support import (
    MANAGEMENT_ACCOUNT,
    actions_by_resource,
    function_role,
    org_config,
    role_statements,
)
from org_template_support import HOME_REGION, organization_org_template

import contracts
from config.model import DsdashConfig
from enrollment.placement.targeting import TargetingSettings
from org_stack.reconciler.runtime.settings import ReconcilerSettings
from org_stack.reconciler.runtime.triggers import RECONCILE_TRIGGER_EVENT_NAMES
from runtime_common.settings import read_settings

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    return org_config()


@pytest.fixture(scope="module")
def org() -> Template:
    return organization_org_template()


def test_reconciler_runs_with_the_config_and_a_timeout_above_its_wait(
    config: DsdashConfig, org: Template
) -> None:
    (function,) = org.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": contracts.ORG_RECONCILER_FUNCTION_NAME}},
    ).values()
    properties = function["Properties"]
    assert properties["Handler"] == "org_stack.reconciler.runtime.handler.handler"
    settings = read_settings(ReconcilerSettings, properties["Environment"]["Variables"]).targeting
    assert settings == TargetingSettings.from_config(config)
    assert properties["Timeout"] > settings.max_wait_seconds


def test_reconciler_runs_on_organizations_changes_on_a_schedule_and_on_deploy(
    org: Template,
) -> None:
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.organizations"],
                "detail-type": ["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"],
                "detail": {"eventName": list(RECONCILE_TRIGGER_EVENT_NAMES)},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^ReconcilerFunction"), "Arn"]
                        }
                    }
                )
            ],
        },
    )
    org.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})
    org.has_resource_properties(
        "Custom::Trigger", {"InvocationType": "Event", "ExecuteOnHandlerChange": True}
    )


def test_reconciler_may_change_instances_of_our_stacksets_only(org: Template) -> None:
    granted = actions_by_resource(
        role_statements(org, function_role(org, contracts.ORG_RECONCILER_FUNCTION_NAME))
    )
    our_stack_sets = (
        f"arn:${{AWS::Partition}}:cloudformation:{HOME_REGION}:{MANAGEMENT_ACCOUNT}:"
        "stackset/dsdash-spoke-*:*"
    )
    writes = {
        "cloudformation:CreateStackInstances",
        "cloudformation:UpdateStackInstances",
        "cloudformation:DeleteStackInstances",
    }
    assert writes <= granted[our_stack_sets]
    for resource, actions in granted.items():
        if actions & writes:
            assert resource in {
                our_stack_sets,
                f"arn:${{AWS::Partition}}:cloudformation:*:{MANAGEMENT_ACCOUNT}:"
                "stackset-target/dsdash-spoke-*",
                "arn:${AWS::Partition}:cloudformation:*::type/resource/*",
            }, resource
    assert granted["*"] == {"organizations:ListRoots"}
    assert not any(action.startswith(("sts:", "iam:")) for a in granted.values() for action in a)
