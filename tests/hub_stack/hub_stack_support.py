"""Helpers shared by the hub stack tests: a config built from the model, synths, and a renderer
that turns CloudFormation intrinsic functions into readable strings for assertions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from cdk_support.synthesis import dsdash_stack_synthesizer
from config.model import (
    BusPolicyMode,
    DsdashConfig,
    HubSettings,
    MetricSelection,
    OrganizationSettings,
    ProjectSettings,
)
from hub_stack.stack import HubStack

HUB_ACCOUNT = "111111111111"
HUB_REGION = "eu-west-1"
MANAGEMENT_ACCOUNT = "999999999999"
ORGANIZATION_ID = "o-a1b2c3d4e5"


def hub_config(
    *,
    bus_policy: BusPolicyMode = "organization",
    refresh_schedule: str = "cron(0/30 * * * ? *)",
    retention_days: int = 400,
    regions: tuple[str, ...] = ("eu-west-1", "us-east-1"),
) -> DsdashConfig:
    return DsdashConfig(
        hub=HubSettings(
            name="CentralHub", account_id=HUB_ACCOUNT, region=HUB_REGION, bus_policy=bus_policy
        ),
        organization=OrganizationSettings(
            id=ORGANIZATION_ID, management_account_id=MANAGEMENT_ACCOUNT, regions=regions
        ),
        refresh_schedule=refresh_schedule,
        retention_days=retention_days,
        event_version=2,
        projects={
            "fraud-detection": ProjectSettings(
                name="fraud-detection",
                environments=("dev", "prod"),
                metrics=(MetricSelection("TotalCompletedTrainingJobs"),),
            )
        },
    )


def synth_hub_template(config: DsdashConfig, outdir: Path) -> Template:
    """A unit-test synth: the CDK's built-in CloudFormation validation off (CDK_VALIDATION=false
    has the same effect, but the jsii Node process reads the environment only once)."""
    app = cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    stack = HubStack(app, "DsdashHub", config=config, synthesizer=dsdash_stack_synthesizer())
    return Template.from_stack(stack)


def render(value: Any) -> Any:
    """Fn::Join/Ref/GetAtt to readable strings: `${AWS::Partition}`, `<Logical.Attr>`, `<Ref Logical>`."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Fn::Join":
            separator, parts = argument
            return separator.join(str(render(part)) for part in parts)
        if key == "Ref":
            return f"${{{argument}}}" if str(argument).startswith("AWS::") else f"<Ref {argument}>"
        if key == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item) for item in value]
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: dict(resource)
        for logical_id, resource in template.find_resources(resource_type).items()
    }


def logical_id_of_function(template: Template, function_name: str) -> str:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}}
    )
    assert len(functions) == 1, f"expected one function named {function_name}, got {functions}"
    return next(iter(functions))


def role_logical_id_of_function(template: Template, function_name: str) -> str:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}}
    )
    (function,) = functions.values()
    role_reference = function["Properties"]["Role"]["Fn::GetAtt"]
    return str(role_reference[0])


def statements_attached_to_role(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every identity-policy statement attached to a role: inline policies and AWS::IAM::Policy."""
    statements: list[dict[str, Any]] = []
    role = template.find_resources("AWS::IAM::Role")[role_logical_id]
    for policy in role["Properties"].get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for policy in template.find_resources("AWS::IAM::ManagedPolicy").values():
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return [render(statement) for statement in statements]


def actions_by_resource(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            granted.setdefault(str(resource), set()).update(as_list(statement["Action"]))
    return granted
