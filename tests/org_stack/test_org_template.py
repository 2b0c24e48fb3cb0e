"""The management-account stacks: StackSet definitions without instances, the org-readable
artifact buckets, the reconciler and enrollment functions, their rules and their permissions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template
from org_stack_support import (
    HUB_ACCOUNT,
    MANAGEMENT_ACCOUNT,
    ORGANIZATION_ID,
    REGIONS,
    SynthesizedOrg,
    actions_by_resource,
    function_role,
    org_config,
    render,
    role_statements,
    synth_app,
)

import app as dsdash_app
import contracts
from config.model import DsdashConfig
from enrollment.enrollment_function.runtime.lifecycle_events import OperatorRequest
from enrollment.enrollment_function.runtime.lifecycle_triggers import parse_lifecycle_event
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import TargetingSettings
from org_stack.artifact_buckets import artifact_bucket_name, build_spoke_code_artifacts
from org_stack.reconciler.runtime.settings import ReconcilerSettings
from org_stack.reconciler.runtime.triggers import RECONCILE_TRIGGER_EVENT_NAMES
from runtime_common.settings import read_settings
from spoke_stackset.stack import synthesize_spoke_template

pytestmark = pytest.mark.synth

HOME_REGION = REGIONS[0]


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    return org_config()


@pytest.fixture(scope="module")
def synthesized(config: DsdashConfig, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedOrg:
    return synth_app(config, tmp_path_factory.mktemp("org"))


@pytest.fixture(scope="module")
def org(synthesized: SynthesizedOrg) -> Template:
    return synthesized.template(dsdash_app.ORG_STACK_ID)


# --- stacks and where they go ---------------------------------------------------------------------


def test_app_places_every_stack_in_its_account_and_region(synthesized: SynthesizedOrg) -> None:
    manifest = json.loads((synthesized.assembly_directory / "manifest.json").read_text())
    environments = {
        stack_id: manifest["artifacts"][stack_id]["environment"]
        for stack_id in synthesized.stack_ids()
    }
    assert environments == {
        dsdash_app.HUB_STACK_ID: f"aws://{HUB_ACCOUNT}/eu-central-1",
        dsdash_app.ORG_STACK_ID: f"aws://{MANAGEMENT_ACCOUNT}/{HOME_REGION}",
        # Organizations events arrive in us-east-1 only: forwarded to the home region.
        dsdash_app.ORG_EVENTS_STACK_ID: f"aws://{MANAGEMENT_ACCOUNT}/us-east-1",
        **{
            dsdash_app.artifact_stack_id(region): f"aws://{MANAGEMENT_ACCOUNT}/{region}"
            for region in REGIONS
        },
    }
    # The code is uploaded before the StackSets that point at it.
    dependencies = set(manifest["artifacts"][dsdash_app.ORG_STACK_ID].get("dependencies", []))
    assert {dsdash_app.artifact_stack_id(region) for region in REGIONS} <= dependencies


def test_home_region_us_east_1_needs_no_forwarder(
    config: DsdashConfig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    synthesized = synth_app(
        config,
        tmp_path_factory.mktemp("org-us-east-1"),
        context={dsdash_app.ORG_REGION_CONTEXT_KEY: "us-east-1"},
    )
    assert dsdash_app.ORG_EVENTS_STACK_ID not in synthesized.stack_ids()
    assert synthesized.stack(dsdash_app.ORG_STACK_ID).region == "us-east-1"


# --- StackSets ------------------------------------------------------------------------------------


def test_one_service_managed_stackset_per_project_without_instances(
    config: DsdashConfig, org: Template
) -> None:
    org.resource_count_is("AWS::CloudFormation::StackSet", len(config.projects))
    for project in config.projects:
        org.has_resource_properties(
            "AWS::CloudFormation::StackSet",
            {
                "StackSetName": stackset_name(project),
                "PermissionModel": "SERVICE_MANAGED",
                "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
                "ManagedExecution": {"Active": True},
                "Capabilities": ["CAPABILITY_NAMED_IAM"],
                "CallAs": "SELF",
                "OperationPreferences": {
                    "RegionConcurrencyType": "PARALLEL",
                    "MaxConcurrentPercentage": 25,
                    "FailureTolerancePercentage": 10,
                },
                # The reconciler owns the instances; the template owns the definition.
                "StackInstancesGroup": Match.absent(),
                "TemplateURL": Match.absent(),
            },
        )


def test_stackset_template_is_the_projects_spoke_template(
    config: DsdashConfig, org: Template, tmp_path: Path
) -> None:
    for project in config.projects:
        (stack_set,) = org.find_resources(
            "AWS::CloudFormation::StackSet",
            {"Properties": {"StackSetName": stackset_name(project)}},
        ).values()
        body = stack_set["Properties"]["TemplateBody"]
        separately = synthesize_spoke_template(
            config, project, outdir=tmp_path / project, builtin_validation=False
        )
        assert json.loads(body) == separately.template


def test_stackset_parameters_point_at_the_hub_and_the_uploaded_code(
    config: DsdashConfig, org: Template
) -> None:
    artifacts = build_spoke_code_artifacts()
    for project in config.projects:
        (stack_set,) = org.find_resources(
            "AWS::CloudFormation::StackSet",
            {"Properties": {"StackSetName": stackset_name(project)}},
        ).values()
        parameters = {
            p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Properties"]["Parameters"]
        }
        assert parameters == {
            "ProjectName": project,
            "HubAccountId": HUB_ACCOUNT,
            "HubRegion": "eu-central-1",
            "HubName": config.hub.name,
            "CodeBucketPrefix": f"dsdash-artifacts-{MANAGEMENT_ACCOUNT}",
            "ExtractorCodeKey": artifacts.extractor.key,
            "ConnectionCodeKey": artifacts.connection.key,
        }
        # Environment is left to the template default and the reconciler's overrides.
        assert "Environment" not in parameters


# --- artifact buckets -----------------------------------------------------------------------------


@pytest.mark.parametrize("region", REGIONS)
def test_artifact_bucket_is_private_versioned_encrypted_and_org_readable(
    synthesized: SynthesizedOrg, region: str
) -> None:
    template = synthesized.template(dsdash_app.artifact_stack_id(region))
    bucket_id, _ = next(
        iter(
            template.find_resources(
                "AWS::S3::Bucket",
                {"Properties": {"BucketName": artifact_bucket_name(MANAGEMENT_ACCOUNT, region)}},
            ).items()
        )
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": artifact_bucket_name(MANAGEMENT_ACCOUNT, region),
            "VersioningConfiguration": {"Status": "Enabled"},
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
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "artifact-bucket/"}),
        },
    )
    (policy,) = template.find_resources(
        "AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": bucket_id}}}
    ).values()
    statements = render(policy["Properties"]["PolicyDocument"]["Statement"])
    assert {
        "Sid": "OrganizationMembersReadSpokeCode",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": f"<{bucket_id}.Arn>/spoke-code/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}},
    } in statements
    assert {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Resource": [f"<{bucket_id}.Arn>", f"<{bucket_id}.Arn>/*"],
    } in statements
    # Nothing else is allowed to principals outside the account.
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allowed) == 1


@pytest.mark.parametrize("region", REGIONS)
def test_spoke_code_is_uploaded_without_pruning_older_versions(
    synthesized: SynthesizedOrg, region: str
) -> None:
    template = synthesized.template(dsdash_app.artifact_stack_id(region))
    template.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {"DestinationBucketKeyPrefix": "spoke-code/", "Prune": False, "RetainOnDelete": True},
    )


# --- reconciler -----------------------------------------------------------------------------------


def test_reconciler_runs_with_the_config_and_a_timeout_above_its_wait(
    config: DsdashConfig, org: Template
) -> None:
    (function,) = org.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": contracts.ORG_RECONCILER_FUNCTION_NAME}},
    ).values()
    properties = function["Properties"]
    assert properties["Handler"] == "org_stack.reconciler.runtime.handler.handler"
    settings = read_settings(ReconcilerSettings, properties["Environment"]["Variables"]).targeting
    assert settings == TargetingSettings.from_config(config)
    assert properties["Timeout"] > settings.max_wait_seconds


def test_reconciler_runs_on_organizations_changes_on_a_schedule_and_on_deploy(
    org: Template,
) -> None:
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.organizations"],
                "detail-type": ["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"],
                "detail": {"eventName": list(RECONCILE_TRIGGER_EVENT_NAMES)},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^ReconcilerFunction"), "Arn"]
                        }
                    }
                )
            ],
        },
    )
    org.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})
    org.has_resource_properties(
        "Custom::Trigger", {"InvocationType": "Event", "ExecuteOnHandlerChange": True}
    )


def test_reconciler_may_change_instances_of_our_stacksets_only(org: Template) -> None:
    granted = actions_by_resource(
        role_statements(org, function_role(org, contracts.ORG_RECONCILER_FUNCTION_NAME))
    )
    our_stack_sets = (
        f"arn:${{AWS::Partition}}:cloudformation:{HOME_REGION}:{MANAGEMENT_ACCOUNT}:"
        "stackset/dsdash-spoke-*:*"
    )
    writes = {
        "cloudformation:CreateStackInstances",
        "cloudformation:UpdateStackInstances",
        "cloudformation:DeleteStackInstances",
    }
    assert writes <= granted[our_stack_sets]
    for resource, actions in granted.items():
        if actions & writes:
            assert resource in {
                our_stack_sets,
                f"arn:${{AWS::Partition}}:cloudformation:*:{MANAGEMENT_ACCOUNT}:"
                "stackset-target/dsdash-spoke-*",
                "arn:${AWS::Partition}:cloudformation:*::type/resource/*",
            }, resource
    assert granted["*"] == {"organizations:ListRoots"}
    assert not any(action.startswith(("sts:", "iam:")) for a in granted.values() for action in a)


# --- enrollment -----------------------------------------------------------------------------------


def test_enrollment_function_runs_as_the_role_hub_and_spokes_trust(org: Template) -> None:
    role_id = function_role(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME)
    role = org.find_resources("AWS::IAM::Role")[role_id]
    assert role["Properties"]["RoleName"] == contracts.ENROLLMENT_FUNCTION_ROLE_NAME
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]


def test_enrollment_environment_names_the_hub_and_the_targeting(
    config: DsdashConfig, org: Template
) -> None:
    (function,) = org.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": contracts.ORG_ENROLLMENT_FUNCTION_NAME}},
    ).values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert (
        function["Properties"]["Handler"]
        == "enrollment.enrollment_function.runtime.handler.handler"
    )
    assert variables["HUB_ACCOUNT_ID"] == HUB_ACCOUNT
    assert variables["HUB_REGION"] == "eu-central-1"
    assert variables["HUB_NAME"] == config.hub.name
    assert variables["SPOKE_REGIONS"].split(",") == list(REGIONS)
    # The contract's table name and CALL_AS=SELF are the settings' defaults: not written.
    settings = read_settings(EnrollmentSettings, variables)
    assert (settings.hub_table_name, settings.targeting.call_as) == (
        contracts.HUB_TABLE_NAME,
        "SELF",
    )
    assert settings.targeting == TargetingSettings.from_config(config)


def test_enrollment_assumes_only_our_narrow_roles(org: Template) -> None:
    statements = role_statements(org, function_role(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME))
    assumable = {
        resource
        for statement in statements
        if "sts:AssumeRole" in statement["Action"]
        for resource in statement["Resource"]
    }
    assert assumable == {
        f"arn:${{AWS::Partition}}:iam::{HUB_ACCOUNT}:role/{contracts.HUB_ENROLLMENT_ROLE_NAME}",
        "arn:${AWS::Partition}:iam::*:role/dsdash-spoke-enrollment-*",
    }
    granted = actions_by_resource(statements)
    reconciler_id = next(
        iter(
            org.find_resources(
                "AWS::Lambda::Function",
                {"Properties": {"FunctionName": contracts.ORG_RECONCILER_FUNCTION_NAME}},
            )
        )
    )
    assert granted[f"<{reconciler_id}.Arn>"] == {"lambda:InvokeFunction"}
    # Enrollment reads instances; only the reconciler writes them.
    assert not any(
        action.endswith(("CreateStackInstances", "DeleteStackInstances", "UpdateStackInstances"))
        for actions in granted.values()
        for action in actions
    )


def test_enrollment_rules_cover_our_stackset_instances_and_account_lifecycle(
    config: DsdashConfig, org: Template
) -> None:
    stack_set_ids = sorted(org.find_resources("AWS::CloudFormation::StackSet"), key=str)
    (rule,) = org.find_resources(
        "AWS::Events::Rule",
        {
            "Properties": {
                "EventPattern": {
                    "source": ["aws.cloudformation"],
                    "detail-type": ["CloudFormation StackSet StackInstance Status Change"],
                }
            }
        },
    ).values()
    arns = render(rule["Properties"]["EventPattern"]["detail"]["stack-set-arn"])
    assert sorted(arns) == sorted(
        f"arn:${{AWS::Partition}}:cloudformation:{HOME_REGION}:{MANAGEMENT_ACCOUNT}:stackset/"
        f"${{{stack_set_id}}}"
        for stack_set_id in stack_set_ids
    )
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.controltower"],
                "detail-type": ["AWS Service Event via CloudTrail"],
                "detail": {"eventName": ["CreateManagedAccount"]},
            }
        },
    )
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": ["aws.organizations"],
                    "detail": {"eventName": ["CreateAccountResult", "MoveAccount", "CloseAccount"]},
                }
            ),
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^EnrollmentFunction"), "Arn"]
                        }
                    }
                )
            ],
        },
    )


def _function_id(org: Template, function_name: str) -> str:
    (function_id,) = org.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}}
    )
    return str(function_id)


def _failed_invocations_queue_id(org: Template) -> str:
    (queue_id,) = org.find_resources("AWS::SQS::Queue")
    return str(queue_id)


def test_enrollment_runs_one_at_a_time_and_queues_events_for_six_hours(org: Template) -> None:
    # Parallel enrollments would only race on the hub's connection function, which runs one at
    # a time; a burst of accounts waits in Lambda's async queue instead of failing.
    org.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": contracts.ORG_ENROLLMENT_FUNCTION_NAME,
            "ReservedConcurrentExecutions": 1,
        },
    )
    enrollment_id = _function_id(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME)
    org.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": enrollment_id},
            "Qualifier": "$LATEST",
            "MaximumEventAgeInSeconds": 6 * 3600,
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [_failed_invocations_queue_id(org), "Arn"]}
                }
            },
        },
    )


def test_reconciler_failures_go_to_the_failed_invocations_queue(org: Template) -> None:
    reconciler_id = _function_id(org, contracts.ORG_RECONCILER_FUNCTION_NAME)
    org.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": reconciler_id},
            "MaximumEventAgeInSeconds": Match.any_value(),
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [_failed_invocations_queue_id(org), "Arn"]}
                }
            },
        },
    )
    (config,) = org.find_resources(
        "AWS::Lambda::EventInvokeConfig",
        {"Properties": {"FunctionName": {"Ref": reconciler_id}}},
    ).values()
    # A reconcile older than the next scheduled one (hourly) is superseded by it.
    assert 60 <= config["Properties"]["MaximumEventAgeInSeconds"] <= 3600


def test_failed_invocations_queue_is_encrypted_tls_only_and_only_our_functions_send(
    org: Template,
) -> None:
    queue_id = _failed_invocations_queue_id(org)
    org.has_resource_properties(
        "AWS::SQS::Queue",
        {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600},
    )
    org.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )
    queue_arn = f"<{queue_id}.Arn>"
    senders = set()
    for role_id in org.find_resources("AWS::IAM::Role"):
        granted = actions_by_resource(role_statements(org, role_id))
        if "sqs:SendMessage" in granted.get(queue_arn, set()):
            senders.add(role_id)
    assert senders == {
        function_role(org, contracts.ORG_ENROLLMENT_FUNCTION_NAME),
        function_role(org, contracts.ORG_RECONCILER_FUNCTION_NAME),
    }


def test_enrollment_sweeps_unfinished_enrollments_every_30_minutes(org: Template) -> None:
    org.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(30 minutes)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^EnrollmentFunction"), "Arn"]
                        },
                        "Input": Match.serialized_json(Match.exact({"dsdash": "sweep"})),
                    }
                )
            ],
        },
    )
    (rule,) = org.find_resources(
        "AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(30 minutes)"}}
    ).values()
    (target,) = rule["Properties"]["Targets"]
    # The enrollment handler reads the constant input as its sweep request.
    request = parse_lifecycle_event(json.loads(target["Input"]))
    assert isinstance(request, OperatorRequest)
    assert request.action == "sweep"


# --- us-east-1 forwarding -------------------------------------------------------------------------


def test_us_east_1_forwards_organizations_events_to_the_home_region(
    synthesized: SynthesizedOrg,
) -> None:
    forwarder = synthesized.template(dsdash_app.ORG_EVENTS_STACK_ID)
    home_bus = (
        f"arn:${{AWS::Partition}}:events:{HOME_REGION}:{MANAGEMENT_ACCOUNT}:event-bus/default"
    )
    rules = forwarder.find_resources("AWS::Events::Rule")
    patterns = {json.dumps(rule["Properties"]["EventPattern"]["source"]) for rule in rules.values()}
    assert patterns == {'["aws.organizations"]', '["aws.controltower"]'}
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert render(target["Arn"]) == home_bus
        assert "RoleArn" in target
    (role_id,) = forwarder.find_resources("AWS::IAM::Role")
    assert actions_by_resource(role_statements(forwarder, role_id)) == {
        home_bus: {"events:PutEvents"}
    }


# --- alarms ---------------------------------------------------------------------------------------


def test_failed_enrollments_raise_an_alarm_on_the_org_accounts_encrypted_topic(
    org: Template,
) -> None:
    topics = org.find_resources(
        "AWS::SNS::Topic", {"Properties": {"TopicName": contracts.ORG_ALERT_TOPIC_NAME}}
    )
    assert len(topics) == 1
    ((topic_id, topic),) = topics.items()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert org.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    queues = org.find_resources("AWS::SQS::Queue")
    [failed_invocations] = [
        logical_id for logical_id in queues if "FailedInvocations" in logical_id
    ]
    org.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "dsdash-org-enrollment-failures",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": [failed_invocations, "QueueName"]}}
            ],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "AlarmActions": [{"Ref": topic_id}],
            "OKActions": [{"Ref": topic_id}],
        },
    )
    # Only this account's CloudWatch alarms may publish: no role, no wildcard Allow.
    org.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": Match.object_like(
                                    {"StringEquals": {"aws:SourceAccount": MANAGEMENT_ACCOUNT}}
                                ),
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:PrincipalIsAWSService": "false"}},
                            }
                        ),
                    ]
                )
            },
        },
    )
    org.has_output("AlertTopicArn", {"Value": {"Ref": topic_id}})
