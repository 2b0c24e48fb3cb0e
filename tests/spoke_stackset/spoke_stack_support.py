"""Helpers for the spoke template tests: a config whose largest project selects every metric, and
a renderer that turns CloudFormation intrinsics into readable strings for assertions."""

from __future__ import annotations

from typing import Any

from cdk_template_reading import as_list, render

from config.model import (
    DsdashConfig,
    HubSettings,
    MetricSelection,
    OrganizationSettings,
    ProjectSettings,
)
from metrics.registry import all_metric_classes

HUB_ACCOUNT = "111111111111"
HUB_REGION = "eu-west-1"
MANAGEMENT_ACCOUNT = "999999999999"
ORGANIZATION_ID = "o-a1b2c3d4e5"
ALL_METRICS_PROJECT = "everything"
SMALL_PROJECT = "small"

# Arguments for the metrics whose schema requires some.
REQUIRED_ARGUMENTS: dict[str, dict[str, Any]] = {
    "BestTrainingObjective": {"objective_metric": "validation:auc", "job_name_prefix": "fraud-"},
    "SsmParameterValue": {"parameter_name": "/team/model/quality-threshold"},
}


def every_metric() -> tuple[MetricSelection, ...]:
    return tuple(
        MetricSelection(name, REQUIRED_ARGUMENTS.get(name, {})) for name in all_metric_classes()
    )


def spoke_config(*, event_version: int = 2) -> DsdashConfig:
    return DsdashConfig(
        hub=HubSettings(name="CentralHub", account_id=HUB_ACCOUNT, region=HUB_REGION),
        organization=OrganizationSettings(
            id=ORGANIZATION_ID,
            management_account_id=MANAGEMENT_ACCOUNT,
            regions=("eu-west-1", "us-west-2"),
        ),
        refresh_schedule="rate(1 hour)",
        retention_days=400,
        event_version=event_version,  # type: ignore[arg-type]
        projects={
            ALL_METRICS_PROJECT: ProjectSettings(
                name=ALL_METRICS_PROJECT, environments=("dev", "prod"), metrics=every_metric()
            ),
            SMALL_PROJECT: ProjectSettings(
                name=SMALL_PROJECT,
                environments=("dev",),
                metrics=(
                    MetricSelection("NotebookInstancesInService"),
                    MetricSelection("SsmParameterValue", {"parameter_name": "/small/threshold"}),
                ),
            ),
        },
    )


def granted_pairs(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(action, resource) pairs of Allow statements, rendered."""
    pairs: set[tuple[str, str]] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement or statement["Action"] == "iam:PassRole"
        for action in as_list(statement["Action"]):
            for resource in as_list(render(statement["Resource"])):
                pairs.add((action, str(resource)))
    return pairs


def statements_of_role(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for resource in template["Resources"].values():
        if (
            resource["Type"] == "AWS::IAM::Policy"
            and {"Ref": role_logical_id} in resource["Properties"]["Roles"]
        ):
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    role = template["Resources"][role_logical_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    for policy in role["Properties"].get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def function_named(template: dict[str, Any], name: str) -> dict[str, Any]:
    (function,) = (
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("FunctionName") == name
    )
    return dict(function)


def role_of_function(template: dict[str, Any], name: str) -> str:
    return str(function_named(template, name)["Properties"]["Role"]["Fn::GetAtt"][0])


def role_named(template: dict[str, Any], rendered_name: str) -> str:
    (logical_id,) = (
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and render(resource["Properties"].get("RoleName")) == rendered_name
    )
    return str(logical_id)
