"""CDK assertions on the hub's alerting: the encrypted topic and who may publish to it, the
config's subscriptions, the alert rules the ingest function receives, and the CloudWatch alarms
on the platform's health, each with its metric and threshold."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from hub_stack_support import (
    HUB_ACCOUNT,
    HUB_REGION,
    hub_config,
    logical_id_of_function,
    render,
    role_logical_id_of_function,
    statements_attached_to_role,
    synth_hub_template,
)

import contracts
from config.alert_model import AlertRule, AlertSubscription, NotificationSettings
from config.model import DsdashConfig
from hub_stack.ingest.runtime.alert_rules import ProjectAlertRule, decode_alert_rules

pytestmark = pytest.mark.synth

QUARANTINE_THRESHOLD = 25
SUBSCRIBER_QUEUE = f"arn:aws:sqs:{HUB_REGION}:{HUB_ACCOUNT}:alert-subscriber"


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    base = hub_config()  # refresh every 30 minutes
    project = base.projects["fraud-detection"]
    alerts = (
        AlertRule("few-jobs", "TotalCompletedTrainingJobs", "<", 1.5, 2, "critical"),
        # Scoped to an environment the project does not have: never evaluated, so not shipped.
        AlertRule("int-only", "TotalCompletedTrainingJobs", ">", 9, environments=("int",)),
    )
    return dataclasses.replace(
        base,
        projects={"fraud-detection": dataclasses.replace(project, alerts=alerts)},
        notifications=NotificationSettings(
            subscriptions=(
                AlertSubscription("email", "ml-platform@example.com"),
                AlertSubscription("sqs", SUBSCRIBER_QUEUE),
            ),
            dashboard_url="https://dsdash.example.com/",
            quarantined_events_per_hour=QUARANTINE_THRESHOLD,
        ),
    )


@pytest.fixture(scope="module")
def template(config: DsdashConfig, tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synth_hub_template(config, tmp_path_factory.mktemp("hub-alerting"))


def _topic_id(template: Template) -> str:
    topics = template.find_resources(
        "AWS::SNS::Topic", {"Properties": {"TopicName": contracts.HUB_ALERT_TOPIC_NAME}}
    )
    assert len(topics) == 1
    return next(iter(topics))


def _alarm(template: Template, name: str) -> dict[str, Any]:
    alarms = template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": f"dsdash-hub-{name}"}}
    )
    assert len(alarms) == 1, f"expected one alarm dsdash-hub-{name}, found {list(alarms)}"
    return dict(next(iter(alarms.values()))["Properties"])


def test_the_alert_topic_is_encrypted_with_a_rotated_customer_key(template: Template) -> None:
    topic = template.find_resources("AWS::SNS::Topic")[_topic_id(template)]
    key_reference = topic["Properties"]["KmsMasterKeyId"]
    key_id = key_reference["Fn::GetAtt"][0]
    key = template.find_resources("AWS::KMS::Key")[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    # CloudWatch alarms of this account only may use the key to publish.
    statements = render(key["Properties"]["KeyPolicy"]["Statement"])
    [cloudwatch] = [
        s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": HUB_ACCOUNT}


def test_only_the_ingest_role_and_this_accounts_alarms_may_publish(template: Template) -> None:
    topic_id = _topic_id(template)
    ingest_role = role_logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "CloudWatchAlarmsOfThisAccount",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Condition": Match.object_like(
                                    {"StringEquals": {"aws:SourceAccount": HUB_ACCOUNT}}
                                ),
                            }
                        ),
                        Match.object_like(
                            {
                                "Sid": "HubPublishers",
                                "Effect": "Allow",
                                "Principal": {"AWS": {"Fn::GetAtt": [ingest_role, "Arn"]}},
                                "Action": "sns:Publish",
                            }
                        ),
                        Match.object_like(
                            {
                                "Sid": "OnlyTheseRolesPublish",
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Action": "sns:Publish",
                                "Condition": {
                                    "Bool": {"aws:PrincipalIsAWSService": "false"},
                                    "StringNotEquals": {
                                        "aws:PrincipalArn": [{"Fn::GetAtt": [ingest_role, "Arn"]}]
                                    },
                                },
                            }
                        ),
                    ]
                )
            },
        },
    )
    # No Allow with a wildcard principal: the only wildcard is the Deny above.
    (policy,) = template.find_resources(
        "AWS::SNS::TopicPolicy", {"Properties": {"Topics": [{"Ref": _topic_id(template)}]}}
    ).values()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        if statement["Effect"] == "Allow":
            assert statement["Principal"] not in ("*", {"AWS": "*"}), statement


def test_ingest_may_publish_to_the_topic_and_use_its_key_and_nothing_more(
    template: Template,
) -> None:
    role = role_logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    statements = statements_attached_to_role(template, role)
    topic_statements = [s for s in statements if "sns:Publish" in str(s["Action"])]
    assert [render(s["Resource"]) for s in topic_statements] == [f"${{{_topic_id(template)}}}"]
    key_statements = [s for s in statements if "kms:" in str(s["Action"])]
    assert [sorted(s["Action"]) for s in key_statements] == [["kms:Decrypt", "kms:GenerateDataKey"]]


def test_the_configs_subscriptions_are_created(template: Template) -> None:
    topic_id = _topic_id(template)
    template.resource_count_is("AWS::SNS::Subscription", 2)
    for protocol, endpoint in (("email", "ml-platform@example.com"), ("sqs", SUBSCRIBER_QUEUE)):
        template.has_resource_properties(
            "AWS::SNS::Subscription",
            {"Protocol": protocol, "Endpoint": endpoint, "TopicArn": {"Ref": topic_id}},
        )


def test_ingest_receives_the_projects_alerts_and_where_to_send_them(template: Template) -> None:
    function_id = logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    variables = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"][
        "Environment"
    ]["Variables"]
    assert decode_alert_rules(variables["ALERT_RULES"]) == (
        ProjectAlertRule(
            project="fraud-detection",
            name="few-jobs",
            metric="TotalCompletedTrainingJobs",
            comparison="<",
            threshold=Decimal("1.5"),
            consecutive=2,
            severity="critical",
        ),
    )
    assert variables["ALERT_TOPIC_ARN"] == {"Ref": _topic_id(template)}
    assert variables["DASHBOARD_URL"] == "https://dsdash.example.com/"


def _notifies_the_topic(template: Template) -> dict[str, Any]:
    topic = {"Ref": _topic_id(template)}
    return {"AlarmActions": [topic], "OKActions": [topic]}


def test_alarm_on_the_ingest_dead_letter_queue_holding_messages(template: Template) -> None:
    queues = template.find_resources(
        "AWS::SQS::Queue", {"Properties": {"MessageRetentionPeriod": Match.any_value()}}
    )
    [dead_letter_queue] = [q for q in queues if "DeadLetter" in q]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "dsdash-hub-dead-letter-queue",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_queue, "QueueName"]}}
            ],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            **_notifies_the_topic(template),
        },
    )


def test_alarm_on_ingest_errors(template: Template) -> None:
    function_id = logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "dsdash-hub-ingest-errors",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function_id}}],
            "Statistic": "Sum",
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            **_notifies_the_topic(template),
        },
    )


def test_alarm_on_quarantined_events_per_hour_above_the_configured_number(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "dsdash-hub-quarantined-events",
            "Namespace": "dsdash",
            "MetricName": "QuarantinedEvents",
            "Statistic": "Sum",
            "Period": 3600,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": QUARANTINE_THRESHOLD,
            "TreatMissingData": "notBreaching",
            **_notifies_the_topic(template),
        },
    )
    # The metric is counted from the ingest function's own log line for each quarantine.
    function_id = logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    log_group = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"][
        "LoggingConfig"
    ]["LogGroup"]
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "LogGroupName": log_group,
            "FilterPattern": '{ $.message = "quarantined metric event" }',
            "MetricTransformations": [
                Match.object_like(
                    {
                        "MetricNamespace": "dsdash",
                        "MetricName": "QuarantinedEvents",
                        "MetricValue": "1",
                        "DefaultValue": 0,
                    }
                )
            ],
        },
    )


@pytest.mark.parametrize(
    ("name", "metric"), [("spokes-failed", "SpokesFailed"), ("spokes-stale", "SpokesStale")]
)
def test_alarms_on_spokes_failed_and_stale_from_the_health_metrics(
    template: Template, name: str, metric: str
) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"dsdash-hub-{name}",
            "Namespace": "dsdash",
            "MetricName": metric,
            "Statistic": "Maximum",
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            **_notifies_the_topic(template),
        },
    )


def test_the_health_function_runs_on_a_schedule_and_judges_staleness_like_status(
    template: Template,
) -> None:
    function_id = logical_id_of_function(template, contracts.HUB_HEALTH_FUNCTION_NAME)
    properties = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"]
    assert properties["Handler"] == "hub_stack.platform_health.runtime.platform_health.handler"
    # Two refresh periods of cron(0/30 ...), as `dsdash status` judges.
    assert properties["Environment"]["Variables"]["STALE_AFTER_SECONDS"] == "3600"
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(15 minutes)",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id, "Arn"]}})],
        },
    )
    role = role_logical_id_of_function(template, contracts.HUB_HEALTH_FUNCTION_NAME)
    statements = [render(s) for s in statements_attached_to_role(template, role)]
    assert {
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "dsdash"}},
    } in statements
    [query] = [s for s in statements if s["Action"] == "dynamodb:Query"]
    # The registry, and the latest items, where each spoke's freshness is.
    assert query["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SPOKE", "LATEST#*"]}
    }


def test_the_topic_arn_is_an_output_for_users_who_attach_subscribers(template: Template) -> None:
    template.has_output("AlertTopicArn", {"Value": {"Ref": _topic_id(template)}})
