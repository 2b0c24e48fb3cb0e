"""The spoke template a StackSet deploys: deployable on its own, least privilege derived from the
project's metrics, the refresh scope enforced by EventBridge, and access only for enrollment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from spoke_stack_support import (
    ALL_METRICS_PROJECT,
    HUB_ACCOUNT,
    HUB_REGION,
    MANAGEMENT_ACCOUNT,
    SMALL_PROJECT,
    every_metric,
    function_named,
    granted_pairs,
    render,
    role_named,
    role_of_function,
    spoke_config,
    statements_of_role,
)

import contracts
from config.loader import load_config
from config.model import DsdashConfig
from enrollment.connection.runtime.bus_policy import EventBus, account_statement
from metrics.registry import all_metric_classes, build_metric, iam_statements_for
from spoke_stackset.extractor.runtime.extractor import DEFAULT_EVENT_VERSION
from spoke_stackset.stack import (
    SPOKE_PARAMETER_NAMES,
    TEMPLATE_BODY_MAX_BYTES,
    SpokeTemplate,
    synthesize_spoke_template,
)

pytestmark = pytest.mark.synth

PARTITION_REGION_ACCOUNT = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}"


def _arn(service: str, rest: str) -> str:
    return PARTITION_REGION_ACCOUNT.replace("{service}", service) + ":" + rest


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    return spoke_config()


@pytest.fixture(scope="module")
def spokes(
    config: DsdashConfig, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, SpokeTemplate]:
    return {
        project: synthesize_spoke_template(
            config,
            project,
            outdir=tmp_path_factory.mktemp(f"spoke-{project}"),
            builtin_validation=False,
        )
        for project in config.projects
    }


@pytest.fixture(scope="module")
def largest(spokes: dict[str, SpokeTemplate]) -> dict[str, Any]:
    return spokes[ALL_METRICS_PROJECT].template


# --- deployable by a service-managed StackSet ---------------------------------------------------


def test_template_needs_no_bootstrap_no_asset_and_no_transform(
    spokes: dict[str, SpokeTemplate],
) -> None:
    for spoke in spokes.values():
        template = spoke.template
        assert set(template["Parameters"]) == set(SPOKE_PARAMETER_NAMES)
        assert "Transform" not in template
        assert "Rules" not in template, "a CDK bootstrap version rule would need SSM in targets"
        assert "CDKMetadata" not in template["Resources"]
        # Nothing may point at a CDK bootstrap bucket or asset hash.
        assert "cdk-hnb659fds" not in spoke.body
        assert "AssetParameters" not in spoke.body
        assert "aws:asset" not in spoke.body


def test_parameters_default_to_the_hub_and_validate_their_values(
    config: DsdashConfig, largest: dict[str, Any]
) -> None:
    parameters = largest["Parameters"]
    assert parameters["ProjectName"]["Default"] == ALL_METRICS_PROJECT
    assert parameters["ProjectName"]["AllowedValues"] == [ALL_METRICS_PROJECT]
    assert parameters["Environment"]["Default"] == "unassigned"
    assert parameters["HubAccountId"]["Default"] == HUB_ACCOUNT
    assert parameters["HubRegion"]["Default"] == HUB_REGION
    assert parameters["HubName"]["Default"] == config.hub.name
    # The code location has no default: the StackSet always says where the code is.
    for name in ("CodeBucketPrefix", "ExtractorCodeKey", "ConnectionCodeKey"):
        assert "Default" not in parameters[name]
    environment = re.compile(parameters["Environment"]["AllowedPattern"])
    assert environment.fullmatch("prod")
    assert not environment.fullmatch("Prod; rm -rf")


def test_lambda_code_comes_from_the_regional_artifact_bucket(largest: dict[str, Any]) -> None:
    for name, key_parameter in (
        (contracts.SPOKE_EXTRACTOR_FUNCTION_NAME, "ExtractorCodeKey"),
        (contracts.SPOKE_CONNECTION_FUNCTION_NAME, "ConnectionCodeKey"),
    ):
        code = render(function_named(largest, name)["Properties"]["Code"])
        assert code == {
            "S3Bucket": "${CodeBucketPrefix}-${AWS::Region}",
            "S3Key": f"${{{key_parameter}}}",
        }


def test_template_fits_the_stackset_template_body_limit_with_every_metric(
    spokes: dict[str, SpokeTemplate],
) -> None:
    largest = spokes[ALL_METRICS_PROJECT]
    selected = json.loads(
        function_named(largest.template, contracts.SPOKE_EXTRACTOR_FUNCTION_NAME)["Properties"][
            "Environment"
        ]["Variables"]["METRICS"]
    )
    assert {entry["name"] for entry in selected} == set(all_metric_classes())
    # Measured as CloudFormation receives it: minified JSON, in bytes.
    assert largest.body_bytes == len(json.dumps(largest.template, separators=(",", ":")).encode())
    assert largest.body_bytes < TEMPLATE_BODY_MAX_BYTES, (
        f"{largest.body_bytes} bytes: switch the StackSet to TemplateURL"
    )
    # Headroom for growth: a warning sign long before the hard limit.
    assert largest.body_bytes < TEMPLATE_BODY_MAX_BYTES // 2


# --- extraction ---------------------------------------------------------------------------------


def test_extractor_policy_is_the_union_of_the_metrics_permissions_plus_fixed_extras(
    config: DsdashConfig, spokes: dict[str, SpokeTemplate]
) -> None:
    for project_name, spoke in spokes.items():
        template = spoke.template
        project = config.project(project_name)
        expected_metric_pairs = {
            (action, resource)
            for statement in iam_statements_for(
                build_metric(selection.name, selection.args) for selection in project.metrics
            )
            for action in statement.actions
            for resource in statement.resources
        }
        bus_id = next(
            logical_id
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Events::EventBus"
        )
        role_id = role_of_function(template, contracts.SPOKE_EXTRACTOR_FUNCTION_NAME)
        granted = granted_pairs(statements_of_role(template, role_id))
        log_group = render(
            function_named(template, contracts.SPOKE_EXTRACTOR_FUNCTION_NAME)["Properties"][
                "LoggingConfig"
            ]["LogGroup"]
        )
        log_group_arn = f"<{log_group.strip('${}')}.Arn>"
        fixed_extras = {
            ("events:PutEvents", f"<{bus_id}.Arn>"),
            ("logs:CreateLogStream", log_group_arn),
            ("logs:PutLogEvents", log_group_arn),
        }
        assert granted == expected_metric_pairs | fixed_extras, project_name


def test_ssm_metric_is_scoped_to_its_parameter_in_the_spoke_account(
    spokes: dict[str, SpokeTemplate],
) -> None:
    template = spokes[SMALL_PROJECT].template
    role_id = role_of_function(template, contracts.SPOKE_EXTRACTOR_FUNCTION_NAME)
    granted = granted_pairs(statements_of_role(template, role_id))
    assert ("ssm:GetParameter", _arn("ssm", "parameter/small/threshold")) in granted
    # The small project selects no SageMaker Search metric, so it gets no Search permission.
    assert not any(action == "sagemaker:Search" for action, _ in granted)


def test_extractor_environment_bakes_in_the_project_selection(
    config: DsdashConfig, largest: dict[str, Any]
) -> None:
    variables = render(
        function_named(largest, contracts.SPOKE_EXTRACTOR_FUNCTION_NAME)["Properties"][
            "Environment"
        ]["Variables"]
    )
    assert variables["PROJECT_NAME"] == "${ProjectName}"
    assert variables["ENVIRONMENT"] == "${Environment}"
    # Written only when it is not the function's default (`environment_of`).
    assert variables.get("EVENT_VERSION", str(DEFAULT_EVENT_VERSION)) == str(config.event_version)
    # Each selected metric with its arguments as the function reads them (defaults filled in,
    # as the config loader fills them).
    assert json.loads(variables["METRICS"]) == [
        {"name": selection.name, "args": dict(build_metric(selection.name, selection.args).args)}
        for selection in every_metric()
    ]


def test_a_loaded_config_reaches_the_extractor_with_its_own_arguments() -> None:
    """The environment holds each selection's arguments as the function reads them (above). For
    a config read by the loader, which fills in the defaults, that is the config's own arguments:
    the shipped example's METRICS did not change when the environment came to be written from
    the settings class."""
    shipped = load_config(Path(__file__).parents[2] / "config" / "projects.yaml")
    for project in shipped.projects.values():
        for selection in project.metrics:
            assert dict(build_metric(selection.name, selection.args).args) == dict(
                selection.args
            ), (project.name, selection.name)


def test_refresh_rule_runs_the_extractor_only_for_this_spokes_scope(
    largest: dict[str, Any],
) -> None:
    template = Template.from_json(largest)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": [contracts.REFRESH_EVENT_SOURCE],
                "detail-type": [contracts.REFRESH_EVENT_DETAIL_TYPE],
                "detail": {
                    "ProjectName": [{"exists": False}, {"Ref": "ProjectName"}],
                    "Environment": [{"exists": False}, {"Ref": "Environment"}],
                    "AccountId": [{"exists": False}, {"Ref": "AWS::AccountId"}],
                },
            },
            "Targets": [
                Match.object_like(
                    {"Arn": {"Fn::GetAtt": [Match.string_like_regexp("^ExtractorFunction"), "Arn"]}}
                )
            ],
        },
    )


def test_the_spoke_runs_its_own_staggered_schedule_and_hears_the_hub_refresh_topic(
    largest: dict[str, Any],
) -> None:
    # docs/architecture.md §7: nothing per spoke in the hub. The schedule is the config's, spread
    # over a flexible window (half the hourly period, at most 15 min).
    template = Template.from_json(largest)
    extractor_arn = {"Fn::GetAtt": [Match.string_like_regexp("^ExtractorFunction"), "Arn"]}
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
            "Target": Match.object_like({"Arn": extractor_arn}),
        },
    )
    topic_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:sns:${HubRegion}:${HubAccountId}:"
        + contracts.REFRESH_TOPIC_NAME
    }
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "lambda",
            "TopicArn": topic_arn,
            "Endpoint": extractor_arn,
            "Region": {"Fn::Sub": "${HubRegion}"},
            # No filter policy: SNS allows 200 per topic; the extractor checks the scope.
            "FilterPolicy": Match.absent(),
        },
    )
    # Only that topic may invoke the extractor through SNS.
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Principal": "sns.amazonaws.com",
            "SourceArn": topic_arn,
            "Action": "lambda:InvokeFunction",
        },
    )


# --- bus and connection ---------------------------------------------------------------------------


def test_spoke_bus_admits_the_hub_with_the_statement_ebput_writes(
    largest: dict[str, Any],
) -> None:
    template = Template.from_json(largest)
    template.has_resource_properties("AWS::Events::EventBus", {"Name": contracts.SPOKE_BUS_NAME})
    (policy,) = template.find_resources("AWS::Events::EventBusPolicy").values()
    bus_id = next(iter(template.find_resources("AWS::Events::EventBus")))
    # What the connection function's EBPut would write for the hub: if they differ, EBPut
    # rewrites the statement and CloudFormation's copy drifts.
    bus = EventBus(
        name=contracts.SPOKE_BUS_NAME,
        arn=f"<{bus_id}.Arn>",
        partition="${AWS::Partition}",
        region="${AWS::Region}",
        account_id="${AWS::AccountId}",
        policy=None,
    )
    expected = account_statement(bus, "${HubAccountId}")
    assert render(policy["Properties"]["Statement"]) == expected
    assert render(policy["Properties"]["StatementId"]) == expected["Sid"]


def test_spoke_declares_its_hub_under_monitors_as_enrollment_writes_it(
    config: DsdashConfig, largest: dict[str, Any]
) -> None:
    template = Template.from_json(largest)
    template.resource_count_is("AWS::SSM::Parameter", 1)
    # Neither retained nor snapshotted: deleting the stack instance removes the parameter.
    template.has_resource(
        "AWS::SSM::Parameter",
        {
            "Properties": {
                "Name": {"Fn::Sub": "/monitors/${HubName}"},
                "Type": "String",
                "Value": {"Ref": "HubAccountId"},
            },
            "DeletionPolicy": Match.absent(),
            "UpdateReplacePolicy": Match.absent(),
        },
    )
    # With the parameters' defaults, the name and value are those enrollment writes, so its
    # read-before-write finds them in place and leaves them alone.
    parameters = largest["Parameters"]
    (parameter,) = template.find_resources("AWS::SSM::Parameter").values()
    name = parameter["Properties"]["Name"]["Fn::Sub"].replace(
        "${HubName}", parameters["HubName"]["Default"]
    )
    assert name == contracts.monitor_parameter_name(config.hub.name)
    assert parameters["HubAccountId"]["Default"] == config.hub.account_id


def test_connection_function_runs_as_the_spoke_unit(largest: dict[str, Any]) -> None:
    function = function_named(largest, contracts.SPOKE_CONNECTION_FUNCTION_NAME)
    variables = render(function["Properties"]["Environment"]["Variables"])
    forwarder_id = role_named(largest, contracts.spoke_metric_forwarder_role_name("${AWS::Region}"))
    assert variables["DSDASH_UNIT"] == "spoke"
    assert variables["HUB_REGION"] == "${HubRegion}"
    assert variables["FORWARDER_ROLE_ARN"] == f"<{forwarder_id}.Arn>"
    assert variables["BUS_NAME"].startswith("${SpokeBus")


def test_connection_function_manages_only_its_bus_and_forward_rules(
    largest: dict[str, Any],
) -> None:
    role_id = role_of_function(largest, contracts.SPOKE_CONNECTION_FUNCTION_NAME)
    granted = granted_pairs(statements_of_role(largest, role_id))
    resources = {resource for _, resource in granted}
    forward_rules = _arn("events", f"rule/dsdash/{contracts.FORWARD_METRICS_RULE_PREFIX}*")
    assert forward_rules in resources
    assert {action for action, resource in granted if resource == "*"} == {
        "events:ListRules",
        "events:PutPermission",
        "events:RemovePermission",
    }
    assert {action for action, resource in granted if resource == forward_rules} >= {
        "events:PutRule",
        "events:PutTargets",
        "events:DeleteRule",
    }
    assert not any(action.startswith("ssm:Put") for action, _ in granted)


def test_forwarder_role_may_only_put_events_on_the_hub_bus(largest: dict[str, Any]) -> None:
    role_id = role_named(largest, "dsdash-spoke-metric-forwarder-${AWS::Region}")
    role = largest["Resources"][role_id]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert render(trust["Condition"]) == {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}
    }
    assert granted_pairs(statements_of_role(largest, role_id)) == {
        (
            "events:PutEvents",
            "arn:${AWS::Partition}:events:${HubRegion}:${HubAccountId}:event-bus/"
            + contracts.HUB_BUS_NAME,
        )
    }


# --- enrollment access --------------------------------------------------------------------------


def test_enrollment_role_trusts_only_the_management_accounts_enrollment_function(
    largest: dict[str, Any],
) -> None:
    role_id = role_named(largest, "dsdash-spoke-enrollment-${AWS::Region}")
    (trust,) = largest["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert render(trust["Principal"]) == {
        "AWS": f"arn:${{AWS::Partition}}:iam::{MANAGEMENT_ACCOUNT}:root"
    }
    assert render(trust["Condition"]) == {
        "ArnEquals": {
            "aws:PrincipalArn": f"arn:${{AWS::Partition}}:iam::{MANAGEMENT_ACCOUNT}:role/"
            f"{contracts.ENROLLMENT_FUNCTION_ROLE_NAME}"
        }
    }


def test_enrollment_role_may_only_write_monitors_and_invoke_connection(
    largest: dict[str, Any],
) -> None:
    role_id = role_named(largest, "dsdash-spoke-enrollment-${AWS::Region}")
    connection_id = next(
        logical_id
        for logical_id, resource in largest["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"]["FunctionName"] == contracts.SPOKE_CONNECTION_FUNCTION_NAME
    )
    monitors = _arn("ssm", "parameter/monitors/*")
    assert granted_pairs(statements_of_role(largest, role_id)) == {
        ("ssm:PutParameter", monitors),
        ("ssm:DeleteParameter", monitors),
        ("ssm:GetParameter", monitors),
        ("lambda:InvokeFunction", f"<{connection_id}.Arn>"),
    }


def test_function_and_role_names_carry_the_unit_and_region(largest: dict[str, Any]) -> None:
    names = {
        resource["Properties"]["FunctionName"]
        for resource in largest["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert names == {
        contracts.SPOKE_EXTRACTOR_FUNCTION_NAME,
        contracts.SPOKE_CONNECTION_FUNCTION_NAME,
    }
    assert all("-spoke-" in name for name in names)
    named_roles = {
        render(resource["Properties"]["RoleName"])
        for resource in largest["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role" and "RoleName" in resource["Properties"]
    }
    assert named_roles == {
        contracts.spoke_enrollment_role_name("${AWS::Region}"),
        contracts.spoke_metric_forwarder_role_name("${AWS::Region}"),
    }


def test_outputs_name_what_enrollment_and_operators_read(largest: dict[str, Any]) -> None:
    assert set(largest["Outputs"]) == {
        "ExtractorFunctionName",
        "ConnectionFunctionName",
        "SpokeBusArn",
        "EnrollmentRoleArn",
    }


def test_spoke_template_is_written_where_the_synth_put_it(spokes: dict[str, SpokeTemplate]) -> None:
    for spoke in spokes.values():
        written = json.loads(
            (
                Path(spoke.assembly_directory) / f"DsdashSpoke-{spoke.project}.template.json"
            ).read_text()
        )
        assert written == spoke.template


def test_the_cost_model_prices_the_extractor_memory_this_template_sets(
    largest: dict[str, Any],
) -> None:
    """`dsdash plan` prices the extractor at the memory `python -m bench --only cost` read from
    the synthesized template; a memory change without re-running it would price another size."""
    from cli.capacity.measured import load_measured

    extractor = function_named(largest, contracts.SPOKE_EXTRACTOR_FUNCTION_NAME)
    measured = load_measured()["lambda"]["extractor"]
    assert extractor["Properties"]["MemorySize"] == measured["memory_mb"]
    assert extractor["Properties"]["Timeout"] == measured["timeout_seconds"]
