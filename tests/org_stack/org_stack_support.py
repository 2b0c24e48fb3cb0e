"""Helpers for the org stack tests: a two-region config, a synth of the whole app, readable
rendering of CloudFormation intrinsics."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_template_reading import (  # noqa: F401 (re-exported for the tests)
    actions_by_resource,
    as_list,
    render,
)
from cdk_template_reading import (  # noqa: F401 (re-exported for the tests)
    statements_attached_to_role as role_statements,
)

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
# The StackSets delegated administrator of the delegated-mode config: a member account.
DELEGATED_ADMIN_ACCOUNT = "444444444444"


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


def delegated_org_config() -> DsdashConfig:
    """`org_config()` with `stackset_admin: delegated` (docs/architecture.md §7)."""
    config = org_config()
    return dataclasses.replace(
        config,
        organization=dataclasses.replace(
            config.organization,
            stackset_admin="delegated",
            delegated_admin_account_id=DELEGATED_ADMIN_ACCOUNT,
        ),
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


def function_role(template: Template, function_name: str) -> str:
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}}
    ).values()
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])
