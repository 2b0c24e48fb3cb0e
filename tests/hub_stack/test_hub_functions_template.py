"""CDK assertions on the hub template's functions: runtime, handlers, environments (read back
with the runtime settings), concurrency, memory, and what triggers a refresh."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from hub_stack_support import ORGANIZATION_ID, logical_id_of_function, render
from hub_template_support import (
    SPOKE_REGIONS,
    organization_hub_template,
    per_account_hub_template,
    single_resource,
)

import contracts
from contracts.dashboard_page import (
    DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME,
    DASHBOARD_PUBLISHER_FUNCTION_NAME,
)
from enrollment.connection.runtime.connection import ConnectionSettings
from hub_stack.ingest.runtime.ingest_settings import IngestSettings
from runtime_common.settings import read_settings

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def template() -> Template:
    return organization_hub_template()


@pytest.fixture(scope="module")
def per_account_template() -> Template:
    return per_account_hub_template()


def test_the_hub_owns_no_periodic_refresh_the_spokes_schedule_their_own(
    template: Template,
) -> None:
    # docs/architecture.md §7: each spoke runs the configured schedule itself (staggered), so
    # the scheduled path costs the hub nothing per spoke; the hub's refresh is on demand only.
    refresh_function_id, _ = single_resource(
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
    topic_id, _ = single_resource(
        template, "AWS::SNS::Topic", {"TopicName": contracts.REFRESH_TOPIC_NAME}
    )
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
    topic_id, _ = single_resource(
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
    topic_id, _ = single_resource(
        template, "AWS::SNS::Topic", {"TopicName": contracts.REFRESH_TOPIC_NAME}
    )
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
