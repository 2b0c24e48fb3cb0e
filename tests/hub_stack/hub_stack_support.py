"""Helpers shared by the hub stack tests: a config built from the model, synths, and a renderer
that turns CloudFormation intrinsic functions into readable strings for assertions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_template_reading import (  # noqa: F401 (re-exported for the tests)
    actions_by_resource,
    as_list,
    render,
    statements_attached_to_role,
)

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
    accept_sample_spokes: bool = False,
    aliases: tuple[str, ...] = (),
    rules_per_bus_quota: int = 300,
) -> DsdashConfig:
    return DsdashConfig(
        hub=HubSettings(
            name="CentralHub",
            account_id=HUB_ACCOUNT,
            region=HUB_REGION,
            bus_policy=bus_policy,
            accept_sample_spokes=accept_sample_spokes,
            rules_per_bus_quota=rules_per_bus_quota,
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
                aliases=aliases,
            )
        },
    )


def synth_hub_template(config: DsdashConfig, outdir: Path) -> Template:
    """A unit-test synth: the CDK's built-in CloudFormation validation off (CDK_VALIDATION=false
    has the same effect, but the jsii Node process reads the environment only once)."""
    app = cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    stack = HubStack(app, "DsdashHub", config=config, synthesizer=dsdash_stack_synthesizer())
    return Template.from_stack(stack)


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
