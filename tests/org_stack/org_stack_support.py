"""Helpers for the org stack tests: a two-region config, a synth of the whole app, readable
rendering of CloudFormation intrinsics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

import app as dsdash_app
from config.model import (
    DsdashConfig,
    HubSettings,
    MetricSelection,
    OrganizationSettings,
    ProjectSettings,
)

HUB_ACCOUNT = "111111111111"
MANAGEMENT_ACCOUNT = "999999999999"
ORGANIZATION_ID = "o-a1b2c3d4e5"
REGIONS = ("eu-west-1", "us-west-2")


def org_config() -> DsdashConfig:
    return DsdashConfig(
        hub=HubSettings(name="CentralHub", account_id=HUB_ACCOUNT, region="eu-central-1"),
        organization=OrganizationSettings(
            id=ORGANIZATION_ID, management_account_id=MANAGEMENT_ACCOUNT, regions=REGIONS
        ),
        refresh_schedule="rate(1 hour)",
        retention_days=400,
        event_version=2,
        projects={
            "fraud-detection": ProjectSettings(
                name="fraud-detection",
                environments=("dev", "prod"),
                metrics=(MetricSelection("TotalCompletedTrainingJobs"),),
            ),
            "churn": ProjectSettings(
                name="churn",
                environments=("prod",),
                metrics=(MetricSelection("NotebookInstancesInService"),),
                accounts={"prod": ("333333333333",)},
            ),
        },
    )


@dataclass
class SynthesizedOrg:
    app: cdk.App
    assembly_directory: Path

    def stack(self, stack_id: str) -> cdk.Stack:
        stack = self.app.node.find_child(stack_id)
        assert isinstance(stack, cdk.Stack)
        return stack

    def template(self, stack_id: str) -> Template:
        return Template.from_stack(self.stack(stack_id))

    def stack_ids(self) -> set[str]:
        return {child.node.id for child in self.app.node.children if isinstance(child, cdk.Stack)}


def synth_app(
    config: DsdashConfig, outdir: Path, *, context: dict[str, Any] | None = None
) -> SynthesizedOrg:
    """A unit-test synth of the whole app (CloudFormation validation off, cdk-nag on)."""
    app = cdk.App(
        outdir=str(outdir), builtin_cloud_formation_validation=False, context=context or {}
    )
    dsdash_app.build_app(config, app)
    app.synth()
    return SynthesizedOrg(app, outdir)


def render(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Fn::Sub" and isinstance(argument, str):
            return argument
        if key == "Fn::Join":
            separator, parts = argument
            return separator.join(str(render(part)) for part in parts)
        if key == "Ref":
            return f"${{{argument}}}"
        if key == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item) for item in value]
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return [render(statement) for statement in statements]


def function_role(template: Template, function_name: str) -> str:
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}}
    ).values()
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


def actions_by_resource(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            granted.setdefault(str(resource), set()).update(as_list(statement["Action"]))
    return granted
