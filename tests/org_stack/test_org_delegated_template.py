"""Delegated mode (`organization.stackset_admin: delegated`, docs/architecture.md §7): the org
side moves to the StackSets delegated administrator, the management account keeps only rules
that forward lifecycle events, and the hub's and spokes' enrollment roles trust the delegated
administrator's enrollment function role."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from aws_cdk.aws_events import EventPattern
from org_stack_support import (
    DELEGATED_ADMIN_ACCOUNT,
    HUB_ACCOUNT,
    MANAGEMENT_ACCOUNT,
    REGIONS,
    SynthesizedOrg,
    delegated_org_config,
    render,
    synth_app,
)

import app as dsdash_app
import contracts
from config.model import DsdashConfig
from enrollment.enrollment_function.infrastructure import (
    control_tower_pattern,
    enrollment_organizations_pattern,
)
from enrollment.placement.stackset_names import stackset_name
from org_stack.artifact_buckets import artifact_bucket_name, artifact_bucket_prefix
from org_stack.delegation import MANAGEMENT_ACCOUNT_STATEMENT_ID
from org_stack.management_forwarder import management_forwarder_stack_id
from org_stack.reconciler.infrastructure import reconciler_organizations_pattern
from org_stack.reconciler.runtime.triggers import RECONCILE_TRIGGER_EVENT_NAMES
from spoke_stackset.stack import SpokeParameter

pytestmark = pytest.mark.synth

HOME_REGION = REGIONS[0]
FORWARDER_REGIONS = ("us-east-1", HOME_REGION)
LIFECYCLE_BUS_ARN = (
    f"arn:${{AWS::Partition}}:events:{HOME_REGION}:{DELEGATED_ADMIN_ACCOUNT}:event-bus/"
    f"{contracts.ORG_LIFECYCLE_BUS_NAME}"
)
ENROLLMENT_FUNCTION_ROLE = (
    f"arn:${{AWS::Partition}}:iam::{DELEGATED_ADMIN_ACCOUNT}:role/"
    f"{contracts.ENROLLMENT_FUNCTION_ROLE_NAME}"
)


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    return delegated_org_config()


@pytest.fixture(scope="module")
def synthesized(config: DsdashConfig, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedOrg:
    return synth_app(config, tmp_path_factory.mktemp("org-delegated"))


@pytest.fixture(scope="module")
def org(synthesized: SynthesizedOrg) -> Template:
    return synthesized.template(dsdash_app.ORG_STACK_ID)


def _management_templates(synthesized: SynthesizedOrg) -> dict[str, Template]:
    return {
        stack_id: synthesized.template(stack_id)
        for stack_id in synthesized.stack_ids()
        if synthesized.stack(stack_id).account == MANAGEMENT_ACCOUNT
    }


def test_org_side_runs_in_the_delegated_admin_and_management_keeps_only_forwarders(
    synthesized: SynthesizedOrg,
) -> None:
    manifest = json.loads((synthesized.assembly_directory / "manifest.json").read_text())
    environments = {
        stack_id: manifest["artifacts"][stack_id]["environment"]
        for stack_id in synthesized.stack_ids()
    }
    assert environments == {
        dsdash_app.HUB_STACK_ID: f"aws://{HUB_ACCOUNT}/eu-central-1",
        dsdash_app.ORG_STACK_ID: f"aws://{DELEGATED_ADMIN_ACCOUNT}/{HOME_REGION}",
        **{
            dsdash_app.artifact_stack_id(region): f"aws://{DELEGATED_ADMIN_ACCOUNT}/{region}"
            for region in REGIONS
        },
        # Organizations events arrive in us-east-1; Control Tower's in its home region too.
        **{
            management_forwarder_stack_id(region): f"aws://{MANAGEMENT_ACCOUNT}/{region}"
            for region in FORWARDER_REGIONS
        },
    }


def test_management_account_templates_hold_nothing_that_runs_code(
    synthesized: SynthesizedOrg,
) -> None:
    management = _management_templates(synthesized)
    assert set(management) == {management_forwarder_stack_id(r) for r in FORWARDER_REGIONS}
    for stack_id, template in management.items():
        types = {resource["Type"] for resource in template.to_json()["Resources"].values()}
        assert types == {"AWS::Events::Rule", "AWS::IAM::Role", "AWS::IAM::Policy"}, stack_id
        template.resource_count_is("AWS::Lambda::Function", 0)
        template.resource_count_is("Custom::AWS", 0)


@pytest.mark.parametrize("region", FORWARDER_REGIONS)
def test_management_rules_forward_lifecycle_events_to_the_delegated_admin_bus_with_a_role(
    synthesized: SynthesizedOrg, region: str
) -> None:
    template = synthesized.template(management_forwarder_stack_id(region))
    rules = template.find_resources("AWS::Events::Rule")
    patterns = [render(rule["Properties"]["EventPattern"]) for rule in rules.values()]
    expected = [_as_template_pattern(control_tower_pattern())]
    if region == "us-east-1":
        # Organizations events, the OU tag events the reconciler needs among them.
        expected.append(_as_template_pattern(reconciler_organizations_pattern()))
        assert {"TagResource", "UntagResource"} <= set(RECONCILE_TRIGGER_EVENT_NAMES)
    assert sorted(patterns, key=json.dumps) == sorted(expected, key=json.dumps)
    for rule in rules.values():
        (target,) = render(rule["Properties"]["Targets"])
        assert target["Arn"] == LIFECYCLE_BUS_ARN
        assert "RoleArn" in target
        assert rule["Properties"].get("EventBusName") is None  # the default bus, where AWS emits
    (role,) = template.find_resources("AWS::IAM::Role").values()
    (trust,) = render(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": MANAGEMENT_ACCOUNT}}
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [Match.object_like({"Action": "events:PutEvents", "Effect": "Allow"})]
            }
        },
    )
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = render(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statement["Resource"] == LIFECYCLE_BUS_ARN


def test_lifecycle_bus_admits_only_the_management_account(org: Template) -> None:
    org.has_resource_properties("AWS::Events::EventBus", {"Name": contracts.ORG_LIFECYCLE_BUS_NAME})
    (policy,) = org.find_resources("AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert policy["Properties"]["StatementId"] == MANAGEMENT_ACCOUNT_STATEMENT_ID
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Principal"] == {"AWS": MANAGEMENT_ACCOUNT}
    assert "Condition" not in statement


def test_lifecycle_rules_listen_on_the_lifecycle_bus_and_instance_events_on_the_default_bus(
    org: Template,
) -> None:
    bus_id = next(iter(org.find_resources("AWS::Events::EventBus")))
    for pattern in (
        reconciler_organizations_pattern(),
        enrollment_organizations_pattern(),
        control_tower_pattern(),
    ):
        org.has_resource_properties(
            "AWS::Events::Rule",
            {
                "EventBusName": {"Ref": bus_id},
                "EventPattern": Match.object_like(
                    {"source": pattern.source, "detail": pattern.detail}
                ),
            },
        )
    # CloudFormation emits StackSet instance events where the StackSet is administered.
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": Match.absent(),
            "EventPattern": Match.object_like({"source": ["aws.cloudformation"]}),
        },
    )


def test_every_stackset_and_function_acts_as_delegated_admin(
    config: DsdashConfig, org: Template
) -> None:
    for project in config.projects:
        org.has_resource_properties(
            "AWS::CloudFormation::StackSet",
            {
                "StackSetName": stackset_name(project),
                "PermissionModel": "SERVICE_MANAGED",
                "CallAs": "DELEGATED_ADMIN",
            },
        )
    for function_name in (
        contracts.ORG_RECONCILER_FUNCTION_NAME,
        contracts.ORG_ENROLLMENT_FUNCTION_NAME,
    ):
        (function,) = org.find_resources(
            "AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}}
        ).values()
        assert function["Properties"]["Environment"]["Variables"]["CALL_AS"] == "DELEGATED_ADMIN"


def test_spoke_code_comes_from_the_delegated_admins_artifact_buckets(
    config: DsdashConfig, org: Template, synthesized: SynthesizedOrg
) -> None:
    for region in REGIONS:
        synthesized.template(dsdash_app.artifact_stack_id(region)).has_resource_properties(
            "AWS::S3::Bucket",
            {"BucketName": artifact_bucket_name(DELEGATED_ADMIN_ACCOUNT, region)},
        )
    for stack_set in org.find_resources("AWS::CloudFormation::StackSet").values():
        parameters = {
            parameter["ParameterKey"]: parameter["ParameterValue"]
            for parameter in stack_set["Properties"]["Parameters"]
        }
        assert parameters[SpokeParameter.CODE_BUCKET_PREFIX] == artifact_bucket_prefix(
            DELEGATED_ADMIN_ACCOUNT
        )


def test_organizations_reads_stay_within_the_organization_of_the_management_account(
    org: Template,
) -> None:
    # Organizations ARNs carry the management account's id, whoever reads them.
    resources = json.dumps(render(org.to_json()["Resources"]))
    assert f"organizations::{MANAGEMENT_ACCOUNT}:ou/" in resources
    assert f"organizations::{DELEGATED_ADMIN_ACCOUNT}:" not in resources


def _as_template_pattern(pattern: EventPattern) -> dict[str, Any]:
    return {"source": pattern.source, "detail-type": pattern.detail_type, "detail": pattern.detail}


def _trust_statement(role: dict[str, Any]) -> dict[str, Any]:
    (trust,) = render(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    return dict(trust)


def test_hub_and_spoke_enrollment_roles_trust_only_the_delegated_admins_enrollment_role(
    synthesized: SynthesizedOrg,
) -> None:
    hub = synthesized.template(dsdash_app.HUB_STACK_ID)
    (hub_role,) = hub.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": contracts.HUB_ENROLLMENT_ROLE_NAME}}
    ).values()
    spoke_roles = []
    for project_dir in (synthesized.assembly_directory / "spoke-templates").iterdir():
        (template_path,) = project_dir.glob("*.template.json")
        resources = json.loads(template_path.read_text())["Resources"]
        spoke_roles += [
            resource
            for resource in resources.values()
            if resource["Type"] == "AWS::IAM::Role"
            and "spoke-enrollment" in json.dumps(resource["Properties"].get("RoleName"))
        ]
    assert spoke_roles
    for role in (hub_role, *spoke_roles):
        trust = _trust_statement(role)
        assert trust["Action"] == "sts:AssumeRole"
        # The account root only with the principal-ARN condition naming the function's role.
        assert trust["Principal"] == {
            "AWS": f"arn:${{AWS::Partition}}:iam::{DELEGATED_ADMIN_ACCOUNT}:root"
        }
        assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ENROLLMENT_FUNCTION_ROLE}}
        assert MANAGEMENT_ACCOUNT not in json.dumps(trust)


def test_enrollment_function_runs_as_the_trusted_role_name(org: Template) -> None:
    (function,) = org.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": contracts.ORG_ENROLLMENT_FUNCTION_NAME}},
    ).values()
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = org.to_json()["Resources"][role_id]
    assert role["Properties"]["RoleName"] == contracts.ENROLLMENT_FUNCTION_ROLE_NAME
    # A Lambda execution role, not an administrator's: no managed admin policy is attached.
    managed = json.dumps(render(role["Properties"].get("ManagedPolicyArns", [])))
    assert "AdministratorAccess" not in managed
