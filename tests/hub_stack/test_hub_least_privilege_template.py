"""CDK assertions on the hub template's roles and policies: no wildcard grants, each role only
what its function calls, trust only where it is needed, only hub resources named."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from hub_stack_support import (
    HUB_ACCOUNT,
    HUB_REGION,
    MANAGEMENT_ACCOUNT,
    actions_by_resource,
    as_list,
    logical_id_of_function,
    render,
    role_logical_id_of_function,
    statements_attached_to_role,
)
from hub_template_support import (
    SPOKE_REGIONS,
    organization_hub_template,
    per_account_hub_template,
    single_resource,
)

import contracts
from hub_stack import table_design

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def template() -> Template:
    return organization_hub_template()


@pytest.fixture(scope="module")
def per_account_template() -> Template:
    return per_account_hub_template()


def _all_allow_statements(template: Template) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for role in template.find_resources("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            statements.extend(policy["PolicyDocument"]["Statement"])
    for resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SQS::QueuePolicy"):
        for policy in template.find_resources(resource_type).values():
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for policy in template.find_resources("AWS::Events::EventBusPolicy").values():
        statements.append(policy["Properties"]["Statement"])
    return [render(s) for s in statements if s["Effect"] == "Allow"]


def test_no_allow_statement_grants_wildcard_actions_or_resources(
    template: Template, per_account_template: Template
) -> None:
    for source in (template, per_account_template):
        statements = _all_allow_statements(source)
        assert statements
        for statement in statements:
            for action in as_list(statement["Action"]):
                service_action = action.split(":", 1)[-1]
                assert "*" not in service_action, f"wildcard action {action} in {statement}"
            if "*" in as_list(statement["Resource"]):
                # The actions without resource-level permissions (IAM definitions);
                # PutMetricData only in the dsdash namespace.
                actions = set(as_list(statement["Action"]))
                assert actions in (
                    {"events:ListRules", "events:PutPermission", "events:RemovePermission"},
                    {"cloudwatch:PutMetricData"},
                ), statement
                if actions == {"cloudwatch:PutMetricData"}:
                    assert statement["Condition"] == {
                        "StringEquals": {"cloudwatch:namespace": "dsdash"}
                    }


def test_ingest_function_writes_only_the_table_without_scan_or_delete(template: Template) -> None:
    role_id = role_logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    table_id = next(iter(template.find_resources("AWS::DynamoDB::Table")))
    granted = actions_by_resource(statements_attached_to_role(template, role_id))
    dynamodb_resources = {
        r for r, a in granted.items() if any(x.startswith("dynamodb:") for x in a)
    }
    assert dynamodb_resources == {f"<{table_id}.Arn>"}
    table_actions = granted[f"<{table_id}.Arn>"]
    # Exactly what hub_stack.runtime.store calls: the batch's senders (BatchGetItem), no
    # BatchWriteItem (history is Parquet, delivered by Firehose), no transactions.
    assert table_actions == {
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    assert not table_actions & {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:DeleteTable"}


def test_refresh_function_may_only_put_events_on_the_hub_bus(template: Template) -> None:
    role_id = role_logical_id_of_function(template, contracts.HUB_REFRESH_FUNCTION_NAME)
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    granted = actions_by_resource(statements_attached_to_role(template, role_id))
    event_grants = {r: a for r, a in granted.items() if any(x.startswith("events:") for x in a)}
    assert event_grants == {f"<{bus_id}.Arn>": {"events:PutEvents"}}


def test_connection_function_manages_only_fanout_rules_and_passes_only_the_forwarder_role(
    template: Template,
) -> None:
    role_id = role_logical_id_of_function(template, contracts.HUB_CONNECTION_FUNCTION_NAME)
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    forwarder_id = next(
        iter(
            template.find_resources(
                "AWS::IAM::Role",
                {"Properties": {"RoleName": contracts.HUB_REFRESH_FORWARDER_ROLE_NAME}},
            )
        )
    )
    statements = statements_attached_to_role(template, role_id)
    granted = actions_by_resource(statements)
    arn_prefix = f"arn:${{AWS::Partition}}:events:{HUB_REGION}:{HUB_ACCOUNT}"
    fanout_rules = f"{arn_prefix}:rule/{contracts.HUB_BUS_NAME}/dsdash-refresh-fanout-*"
    assert granted[fanout_rules] == {
        "events:PutRule",
        "events:DeleteRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:ListTargetsByRule",
    }
    assert granted[f"<{bus_id}.Arn>"] == {"events:DescribeEventBus"}
    # No resource type exists for these (IAM definitions): a bus ARN would never match.
    assert granted["*"] == {"events:ListRules", "events:PutPermission", "events:RemovePermission"}
    ssm_prefix = f"arn:${{AWS::Partition}}:ssm:{HUB_REGION}:{HUB_ACCOUNT}:parameter"
    assert granted[f"{ssm_prefix}/monitored_projects/*"] == {"ssm:GetParametersByPath"}
    (pass_role,) = [s for s in statements if "iam:PassRole" in as_list(s["Action"])]
    assert pass_role["Resource"] == f"<{forwarder_id}.Arn>"
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "events.amazonaws.com"}
    }


def test_refresh_forwarder_role_is_for_eventbridge_of_this_account_and_spoke_buses_only(
    template: Template,
) -> None:
    role_id, role = single_resource(
        template, "AWS::IAM::Role", {"RoleName": contracts.HUB_REFRESH_FORWARDER_ROLE_NAME}
    )
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": HUB_ACCOUNT}}
    granted = actions_by_resource(statements_attached_to_role(template, role_id))
    assert granted == {
        f"arn:${{AWS::Partition}}:events:{region}:*:event-bus/{contracts.SPOKE_BUS_NAME}": {
            "events:PutEvents"
        }
        for region in SPOKE_REGIONS
    }


def test_enrollment_role_trusts_only_the_management_accounts_enrollment_function_role(
    template: Template,
) -> None:
    _, role = single_resource(
        template, "AWS::IAM::Role", {"RoleName": contracts.HUB_ENROLLMENT_ROLE_NAME}
    )
    (trust,) = render(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": f"arn:${{AWS::Partition}}:iam::{MANAGEMENT_ACCOUNT}:root"}
    assert trust["Condition"] == {
        "ArnEquals": {
            "aws:PrincipalArn": f"arn:${{AWS::Partition}}:iam::{MANAGEMENT_ACCOUNT}:role/"
            f"{contracts.ENROLLMENT_FUNCTION_ROLE_NAME}"
        }
    }


def test_enrollment_role_may_only_touch_parameters_connection_and_spoke_registry(
    template: Template,
) -> None:
    role_id, _ = single_resource(
        template, "AWS::IAM::Role", {"RoleName": contracts.HUB_ENROLLMENT_ROLE_NAME}
    )
    table_id = next(iter(template.find_resources("AWS::DynamoDB::Table")))
    connection_id = logical_id_of_function(template, contracts.HUB_CONNECTION_FUNCTION_NAME)
    statements = statements_attached_to_role(template, role_id)
    granted = actions_by_resource(statements)
    ssm_prefix = f"arn:${{AWS::Partition}}:ssm:{HUB_REGION}:{HUB_ACCOUNT}:parameter"
    assert set(granted) == {
        f"{ssm_prefix}/monitored_projects",
        f"{ssm_prefix}/monitored_projects/*",
        f"<{connection_id}.Arn>",
        f"<{table_id}.Arn>",
    }
    assert granted[f"{ssm_prefix}/monitored_projects/*"] <= {
        "ssm:PutParameter",
        "ssm:DeleteParameter",
        "ssm:DeleteParameters",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParametersByPath",
    }
    assert granted[f"<{connection_id}.Arn>"] == {"lambda:InvokeFunction"}
    assert granted[f"<{table_id}.Arn>"] == {
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
    }
    (table_statement,) = [s for s in statements if s["Resource"] == f"<{table_id}.Arn>"]
    assert table_statement["Condition"] == {
        "ForAllValues:StringEquals": {
            "dynamodb:LeadingKeys": [table_design.SPOKE_REGISTRY_PARTITION]
        }
    }


def test_permissions_name_only_hub_resources_besides_the_spoke_buses(template: Template) -> None:
    # Every account or region written into a granted ARN is the hub's, except the spoke buses
    # the refresh forwarder writes to: any account, but only in the configured regions.
    allowed_accounts = {HUB_ACCOUNT, "*", ""}
    for statement in _all_allow_statements(template):
        for resource in as_list(statement["Resource"]):
            if isinstance(resource, str) and resource.startswith("arn:"):
                parts = resource.replace("${AWS::Partition}", "aws").split(":")
                assert parts[3] in {HUB_REGION, *SPOKE_REGIONS, ""}, resource
                assert parts[4] in allowed_accounts, resource
                if parts[4] == "*":
                    assert resource.endswith(f":event-bus/{contracts.SPOKE_BUS_NAME}"), resource
