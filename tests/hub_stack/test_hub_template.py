"""CDK assertions on the hub template: what the stack promises platform engineers and operators."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from hub_stack_support import (
    HUB_ACCOUNT,
    HUB_REGION,
    MANAGEMENT_ACCOUNT,
    ORGANIZATION_ID,
    actions_by_resource,
    as_list,
    hub_config,
    logical_id_of_function,
    render,
    role_logical_id_of_function,
    statements_attached_to_role,
    synth_hub_template,
)

import contracts
from config.model import DsdashConfig
from contracts import history_table
from contracts.dashboard_page import (
    DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME,
    DASHBOARD_PUBLISHER_FUNCTION_NAME,
)
from enrollment.connection.runtime.connection import ConnectionSettings
from hub_stack import table_design
from hub_stack.ingest.runtime.ingest_settings import IngestSettings
from runtime_common.settings import read_settings

pytestmark = pytest.mark.synth

SCHEDULE = "cron(0/30 * * * ? *)"
SPOKE_REGIONS = ("eu-west-1", "us-east-1")


@pytest.fixture(scope="module")
def org_config() -> DsdashConfig:
    return hub_config(bus_policy="organization", refresh_schedule=SCHEDULE, regions=SPOKE_REGIONS)


@pytest.fixture(scope="module")
def template(org_config: DsdashConfig, tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synth_hub_template(org_config, tmp_path_factory.mktemp("hub-org"))


@pytest.fixture(scope="module")
def per_account_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    # An operator who raised "Rules per event bus" in Service Quotas sets it in the config.
    config = hub_config(bus_policy="per-account", retention_days=30, rules_per_bus_quota=1200)
    return synth_hub_template(config, tmp_path_factory.mktemp("hub-per-account"))


def _single(
    template: Template, resource_type: str, properties: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type, {"Properties": properties})
    assert len(found) == 1, f"expected exactly one {resource_type} matching, found {len(found)}"
    ((logical_id, resource),) = found.items()
    return logical_id, dict(resource)


# --- event bus ------------------------------------------------------------------------------


def test_hub_bus_admits_the_whole_organization_with_one_statement(template: Template) -> None:
    template.has_resource_properties("AWS::Events::EventBus", {"Name": contracts.HUB_BUS_NAME})
    template.resource_count_is("AWS::Events::EventBusPolicy", 1)
    (policy,) = template.find_resources("AWS::Events::EventBusPolicy").values()
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    assert policy["Properties"]["EventBusName"] == {"Ref": bus_id}
    assert policy["Properties"]["StatementId"] == "dsdash-organization"
    assert render(policy["Properties"]["Statement"]) == {
        "Sid": "dsdash-organization",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": f"<{bus_id}.Arn>",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}},
    }


def test_per_account_mode_leaves_the_bus_policy_to_the_connection_function(
    per_account_template: Template,
) -> None:
    per_account_template.resource_count_is("AWS::Events::EventBusPolicy", 0)
    per_account_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": contracts.HUB_CONNECTION_FUNCTION_NAME,
            "Environment": {"Variables": Match.object_like({"BUS_POLICY_MODE": "per-account"})},
        },
    )


# --- ingest path ----------------------------------------------------------------------------


def test_metric_events_v1_and_v2_go_from_the_hub_bus_to_the_ingest_queue(
    template: Template,
) -> None:
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    queue_id, _ = _single(template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})
    rule_id, rule = _single(
        template,
        "AWS::Events::Rule",
        {
            "EventBusName": {"Ref": bus_id},
            "EventPattern": {
                "source": [contracts.METRIC_EVENT_SOURCE],
                "detail-type": [contracts.METRIC_EVENT_DETAIL_TYPE],
            },
        },
    )
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # Only this rule may send to the queue.
    queue_policy = template.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": queue_id}]}}
    )
    (policy,) = queue_policy.values()
    allows = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert allows, "the ingest queue must let EventBridge deliver"
    for statement in allows:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
        }


def test_ingest_queue_has_a_dead_letter_queue_and_both_are_encrypted_and_tls_only(
    template: Template,
) -> None:
    queue_id, queue = _single(template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})
    redrive = queue["Properties"]["RedrivePolicy"]
    dead_letter_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert 1 < redrive["maxReceiveCount"] <= 10
    dead_letter = template.find_resources("AWS::SQS::Queue")[dead_letter_id]
    assert dead_letter["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    for logical_id in (queue_id, dead_letter_id):
        properties = template.find_resources("AWS::SQS::Queue")[logical_id]["Properties"]
        assert properties["SqsManagedSseEnabled"] is True
        template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": logical_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_ingest_function_reads_the_queue_in_batches_with_partial_failures(
    template: Template,
) -> None:
    function_id = logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    queue_id, queue = _single(template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})
    _, mapping = _single(
        template,
        "AWS::Lambda::EventSourceMapping",
        {"FunctionName": {"Ref": function_id}, "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]}},
    )
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] >= 50, (
        "a refresh of many spokes must not cost one call per event"
    )
    assert 0 < properties["MaximumBatchingWindowInSeconds"] <= 300
    function_timeout = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"][
        "Timeout"
    ]
    # Otherwise SQS re-delivers messages that a running invocation is still processing.
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * function_timeout


# --- table ----------------------------------------------------------------------------------


def test_table_is_on_demand_recoverable_protected_retained_with_ttl_and_no_index(
    template: Template,
) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BillingMode": "PAY_PER_REQUEST",
                    "DeletionProtectionEnabled": True,
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                    "TimeToLiveSpecification": {
                        "AttributeName": table_design.TTL_ATTRIBUTE,
                        "Enabled": True,
                    },
                    "KeySchema": [
                        {"AttributeName": table_design.PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": table_design.SORT_KEY, "KeyType": "RANGE"},
                    ],
                }
            ),
        },
    )
    (table,) = template.find_resources("AWS::DynamoDB::Table").values()
    # History is Parquet (the Glue table serves the sample's MetricName/ExtractionDate pattern):
    # no index doubles every write any more.
    assert "GlobalSecondaryIndexes" not in table["Properties"]
    attribute_types = {
        a["AttributeName"]: a["AttributeType"] for a in table["Properties"]["AttributeDefinitions"]
    }
    assert attribute_types == {
        table_design.PARTITION_KEY: "S",
        table_design.SORT_KEY: "S",
    }


# --- functions ------------------------------------------------------------------------------


def test_the_hub_owns_no_periodic_refresh_the_spokes_schedule_their_own(
    template: Template,
) -> None:
    # docs/architecture.md §7: each spoke runs the configured schedule itself (staggered), so
    # the scheduled path costs the hub nothing per spoke; the hub's refresh is on demand only.
    refresh_function_id, _ = _single(
        template, "AWS::Lambda::Function", {"FunctionName": contracts.HUB_REFRESH_FUNCTION_NAME}
    )
    schedules = template.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}}
    )
    # The only schedule in the hub is the platform-health function's (alerting), never refresh.
    assert schedules, "expected the platform-health schedule"
    for rule in schedules.values():
        assert refresh_function_id not in json.dumps(rule["Properties"]["Targets"]), rule
    assert template.find_resources("AWS::Scheduler::Schedule") == {}


def test_the_refresh_topic_admits_only_lambda_subscriptions_from_the_organization(
    template: Template, per_account_template: Template
) -> None:
    topic_id, _ = _single(template, "AWS::SNS::Topic", {"TopicName": contracts.REFRESH_TOPIC_NAME})
    (policy,) = template.find_resources(
        "AWS::SNS::TopicPolicy", {"Properties": {"Topics": [{"Ref": topic_id}]}}
    ).values()
    allows = [
        statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    assert allows == [
        {
            "Sid": "OrganizationSpokesSubscribeTheirExtractor",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sns:Subscribe",
            "Resource": {"Ref": topic_id},
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalOrgID": ORGANIZATION_ID,
                    "sns:Protocol": "lambda",
                }
            },
        }
    ]
    # Only the refresh function publishes.
    refresh_role = template.find_resources(
        "AWS::IAM::Policy",
        {
            "Properties": {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {"Action": "sns:Publish", "Resource": {"Ref": topic_id}}
                            )
                        ]
                    )
                }
            }
        },
    )
    assert len(refresh_role) == 1
    # Per-account mode serves accounts outside the organization: no topic, fan-out rules instead.
    assert (
        per_account_template.find_resources(
            "AWS::SNS::Topic", {"Properties": {"TopicName": contracts.REFRESH_TOPIC_NAME}}
        )
        == {}
    )


@pytest.mark.parametrize(
    ("function_name", "handler"),
    [
        (contracts.HUB_INGEST_FUNCTION_NAME, "hub_stack.ingest.runtime.ingest.handler"),
        (contracts.HUB_REFRESH_FUNCTION_NAME, "hub_stack.refresh.runtime.refresh.handler"),
        (
            contracts.HUB_CONNECTION_FUNCTION_NAME,
            "enrollment.connection.runtime.connection.handler",
        ),
    ],
)
def test_functions_run_python_3_11_on_x86_64_with_a_retained_log_group(
    template: Template, function_name: str, handler: str
) -> None:
    function_id = logical_id_of_function(template, function_name)
    properties = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"]
    assert properties["Handler"] == handler
    assert properties["Runtime"] == "python3.11"
    # The bundled compiled wheels are x86_64 builds.
    assert properties["Architectures"] == ["x86_64"]
    log_group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = template.find_resources("AWS::Logs::LogGroup")[log_group_id]
    assert log_group["Properties"]["RetentionInDays"] > 0


def test_function_environments_match_the_runtime_contracts(
    template: Template, per_account_template: Template
) -> None:
    def variables(source: Template, name: str) -> dict[str, Any]:
        function_id = logical_id_of_function(source, name)
        function = source.find_resources("AWS::Lambda::Function")[function_id]
        return dict(render(function["Properties"]["Environment"]["Variables"]))

    table_id = next(iter(template.find_resources("AWS::DynamoDB::Table")))
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    forwarder_id = next(
        iter(
            template.find_resources(
                "AWS::IAM::Role",
                {"Properties": {"RoleName": contracts.HUB_REFRESH_FORWARDER_ROLE_NAME}},
            )
        )
    )
    topic_id, _ = _single(
        template, "AWS::SNS::Topic", {"TopicName": contracts.HUB_ALERT_TOPIC_NAME}
    )
    assert variables(template, contracts.HUB_INGEST_FUNCTION_NAME) == {
        "TABLE_NAME": f"${{{table_id}}}",
        "RETENTION_DAYS": "400",
        # Project names and aliases, for v1 events of the original sample's spokes.
        "PROJECT_ALIASES": '{"fraud-detection":[]}',
        "POWERTOOLS_SERVICE_NAME": contracts.HUB_INGEST_FUNCTION_NAME,
        # This config declares no alerts and no dashboard address: the settings' defaults, which
        # `environment_of` does not write (ALERT_RULES, DASHBOARD_URL).
        "ALERT_TOPIC_ARN": f"${{{topic_id}}}",
    }
    ingest_settings = read_settings(
        IngestSettings, variables(template, contracts.HUB_INGEST_FUNCTION_NAME)
    )
    assert (ingest_settings.alerts.rules, ingest_settings.alerts.dashboard_url) == ((), None)
    assert (
        variables(per_account_template, contracts.HUB_INGEST_FUNCTION_NAME)["RETENTION_DAYS"]
        == "30"
    )
    topic_id, _ = _single(template, "AWS::SNS::Topic", {"TopicName": contracts.REFRESH_TOPIC_NAME})
    publisher_id = logical_id_of_function(template, DASHBOARD_PUBLISHER_FUNCTION_NAME)
    schedule_role_id = next(
        iter(
            template.find_resources(
                "AWS::IAM::Role",
                {"Properties": {"RoleName": DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME}},
            )
        )
    )
    assert variables(template, contracts.HUB_REFRESH_FUNCTION_NAME) == {
        "HUB_BUS_NAME": f"${{{bus_id}}}",
        "REFRESH_TOPIC_ARN": f"${{{topic_id}}}",
        "POWERTOOLS_SERVICE_NAME": contracts.HUB_REFRESH_FUNCTION_NAME,
        # The page render each refresh schedules (docs/architecture.md §7, "Dashboard").
        "PAGE_PUBLISHER_ARN": f"<{publisher_id}.Arn>",
        "PAGE_PUBLISH_ROLE_ARN": f"<{schedule_role_id}.Arn>",
    }
    assert variables(template, contracts.HUB_CONNECTION_FUNCTION_NAME) == {
        "DSDASH_UNIT": "hub",
        "BUS_NAME": f"${{{bus_id}}}",
        "FORWARDER_ROLE_ARN": f"<{forwarder_id}.Arn>",
        # The organization mode and the default quota (300) are ConnectionSettings' defaults,
        # which environment_of leaves out.
        "ORGANIZATION_ID": ORGANIZATION_ID,
        "SPOKE_REGIONS": ",".join(SPOKE_REGIONS),
        "REFRESH_FANOUT": "topic",
        "POWERTOOLS_SERVICE_NAME": contracts.HUB_CONNECTION_FUNCTION_NAME,
    }
    # The quota an operator had raised reaches the function from the config, no code change;
    # per-account mode (outside the organization) keeps the fan-out rules (bus-rules, the
    # default, so not written).
    per_account = variables(per_account_template, contracts.HUB_CONNECTION_FUNCTION_NAME)
    assert (per_account["BUS_POLICY_MODE"], per_account["RULES_PER_BUS_QUOTA"]) == (
        "per-account",
        "1200",
    )
    assert "REFRESH_FANOUT" not in per_account
    assert ConnectionSettings.refresh_fanout == "bus-rules"


# --- least privilege ------------------------------------------------------------------------


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
    role_id, role = _single(
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
    _, role = _single(template, "AWS::IAM::Role", {"RoleName": contracts.HUB_ENROLLMENT_ROLE_NAME})
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
    role_id, _ = _single(
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


# --- outputs --------------------------------------------------------------------------------


def test_outputs_for_the_cli_and_enrollment_exist_without_exports(template: Template) -> None:
    outputs = template.find_outputs("*")
    expected = {
        "TableName",
        "HubBusArn",
        "HubBusName",
        "IngestQueueUrl",
        "DeadLetterQueueUrl",
        "RefreshFunctionName",
        "ConnectionFunctionName",
        "EnrollmentRoleArn",
    }
    assert expected <= set(outputs)
    assert all("Export" not in outputs[name] for name in expected)
    table_id = next(iter(template.find_resources("AWS::DynamoDB::Table")))
    assert outputs["TableName"]["Value"] == {"Ref": table_id}


def test_synth_writes_no_bootstrap_version_parameter(template: Template) -> None:
    # The sandbox deploys this template into moto, which has no CDK bootstrap SSM parameter.
    assert "BootstrapVersion" not in template.to_json().get("Parameters", {})
    assert "CheckBootstrapVersion" not in template.to_json().get("Rules", {})


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


def test_connection_function_runs_one_action_at_a_time(template: Template) -> None:
    # Its actions read-modify-write the bus policy and fan-out rules; concurrent runs would
    # overwrite each other's edits.
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": contracts.HUB_CONNECTION_FUNCTION_NAME,
            "ReservedConcurrentExecutions": 1,
        },
    )


def test_table_has_the_fixed_name_enrollment_and_the_cli_address(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"TableName": contracts.HUB_TABLE_NAME}
    )


# --- history storage (docs/architecture.md §7, "Hub data plane (issue 10)") -------------------


def _history_bucket_id(template: Template) -> str:
    name = history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION)
    bucket_id, _ = _single(template, "AWS::S3::Bucket", {"BucketName": name})
    return bucket_id


@pytest.mark.parametrize(
    ("bucket_name", "expiry_days"),
    [
        (history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION), 400),
        (history_table.athena_results_bucket_name(HUB_ACCOUNT, HUB_REGION), 7),
    ],
)
def test_history_and_results_buckets_are_private_encrypted_tls_only_and_expire(
    template: Template, bucket_name: str, expiry_days: int
) -> None:
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BucketName": bucket_name,
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
                    "LifecycleConfiguration": {
                        "Rules": Match.array_with(
                            [
                                Match.object_like(
                                    {"ExpirationInDays": expiry_days, "Status": "Enabled"}
                                )
                            ]
                        )
                    },
                }
            ),
        },
    )
    bucket_id, _ = _single(template, "AWS::S3::Bucket", {"BucketName": bucket_name})
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_history_retention_follows_the_config(per_account_template: Template) -> None:
    # retention_days is 30 in this config: the history bucket's objects expire with it.
    template = per_account_template
    bucket_id = _history_bucket_id(template)
    bucket = template.find_resources("AWS::S3::Bucket")[bucket_id]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [rule["ExpirationInDays"] for rule in rules] == [30]


def test_glue_table_is_the_contract_columns_partition_and_projection(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Glue::Database",
        {
            "DatabaseInput": {
                "Name": history_table.GLUE_DATABASE_NAME,
                "Description": Match.any_value(),
            }
        },
    )
    (table,) = template.find_resources("AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    assert table["Properties"]["DatabaseName"] == history_table.GLUE_DATABASE_NAME
    assert table_input["Name"] == history_table.GLUE_TABLE_NAME
    storage = table_input["StorageDescriptor"]
    # The columns, in file order, and the partition key are the contract's (the files' schema
    # and the reader's SQL derive from the same definition).
    assert storage["Columns"] == history_table.glue_columns()
    assert table_input["PartitionKeys"] == history_table.glue_partition_keys()
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    bucket = history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION)
    rendered_parameters = render(table_input["Parameters"])
    assert rendered_parameters == history_table.partition_projection_parameters(bucket)
    assert storage["Location"] == f"s3://{bucket}/history/"
    assert rendered_parameters["projection.enabled"] == "true"
    assert not template.find_resources("AWS::Glue::Crawler")


def test_athena_workgroup_enforces_encrypted_results_in_its_own_bucket(template: Template) -> None:
    results = history_table.athena_results_bucket_name(HUB_ACCOUNT, HUB_REGION)
    (workgroup,) = template.find_resources("AWS::Athena::WorkGroup").values()
    configuration = render(workgroup["Properties"]["WorkGroupConfiguration"])
    assert workgroup["Properties"]["Name"] == history_table.ATHENA_WORKGROUP_NAME
    assert configuration["EnforceWorkGroupConfiguration"] is True
    result = configuration["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    results_id, _ = _single(template, "AWS::S3::Bucket", {"BucketName": results})
    assert result["OutputLocation"] == f"s3://{results}/results/"
    assert template.find_resources("AWS::S3::Bucket")[results_id]


def test_delivery_stream_converts_json_to_parquet_with_the_glue_table(template: Template) -> None:
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    properties = stream["Properties"]
    assert properties["DeliveryStreamName"] == history_table.HISTORY_DELIVERY_STREAM_NAME
    destination = render(properties["ExtendedS3DestinationConfiguration"])
    assert destination["Prefix"] == "history/dt=!{timestamp:yyyy-MM-dd}/"
    assert destination["ErrorOutputPrefix"].startswith("errors/")
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert "OpenXJsonSerDe" in conversion["InputFormatConfiguration"]["Deserializer"]
    assert conversion["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"] == {
        "Compression": "SNAPPY"
    }
    schema = conversion["SchemaConfiguration"]
    assert (schema["DatabaseName"], schema["TableName"]) == (
        history_table.GLUE_DATABASE_NAME,
        history_table.GLUE_TABLE_NAME,
    )
    assert destination["BucketARN"] == f"<{_history_bucket_id(template)}.Arn>"
    assert schema["RoleARN"] == destination["RoleARN"]


def test_delivery_role_reads_the_one_glue_table_and_writes_two_prefixes(template: Template) -> None:
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    role_id = stream["Properties"]["ExtendedS3DestinationConfiguration"]["RoleARN"]["Fn::GetAtt"][0]
    granted = actions_by_resource(statements_attached_to_role(template, role_id))
    bucket = history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION)
    glue_resources = {
        r for r, actions in granted.items() if any(a.startswith("glue:") for a in actions)
    }
    assert {r.rsplit(":", 1)[-1] for r in glue_resources} == {
        "catalog",
        f"database/{history_table.GLUE_DATABASE_NAME}",
        f"table/{history_table.GLUE_DATABASE_NAME}/{history_table.GLUE_TABLE_NAME}",
    }
    for resource in glue_resources:
        assert granted[resource] <= {
            "glue:GetTable",
            "glue:GetTableVersion",
            "glue:GetTableVersions",
        }
    object_grants = {r for r, actions in granted.items() if "s3:PutObject" in actions}
    assert object_grants == {
        f"arn:${{AWS::Partition}}:s3:::{bucket}/history/*",
        f"arn:${{AWS::Partition}}:s3:::{bucket}/errors/*",
    }
    every_action = {a for actions in granted.values() for a in actions}
    assert not any(a.endswith("*") for a in every_action), every_action


def test_ingest_function_may_put_records_on_the_history_stream_only(template: Template) -> None:
    role_id = role_logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    granted = actions_by_resource(statements_attached_to_role(template, role_id))
    (stream_id,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream")
    firehose_grants = {
        r: a for r, a in granted.items() if any(x.startswith("firehose:") for x in a)
    }
    assert firehose_grants == {f"<{stream_id}.Arn>": {"firehose:PutRecordBatch"}}


def test_the_cost_model_prices_the_ingest_memory_this_template_sets(template: Template) -> None:
    """`dsdash plan` prices ingest at the memory `python -m bench --only cost` read from the
    synthesized template; a memory change without re-running it would price another function."""
    from cli.capacity.measured import load_measured

    (ingest,) = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": contracts.HUB_INGEST_FUNCTION_NAME}},
    ).values()
    measured = load_measured()["lambda"]["ingest"]
    assert ingest["Properties"]["MemorySize"] == measured["memory_mb"]
    assert ingest["Properties"]["Timeout"] == measured["timeout_seconds"]
