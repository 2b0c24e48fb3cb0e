"""hub.accept_sample_spokes in the template: one rule on the default bus feeds the ingest queue
when it is true, none when it is false, and the default bus's policy is never ours to write."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from hub_stack_support import (
    hub_config,
    logical_id_of_function,
    render,
    synth_hub_template,
)

import contracts
from hub_stack.sample_spokes import SAMPLE_SPOKE_RULE_NAME

pytestmark = pytest.mark.synth

METRIC_PATTERN = {
    "source": [contracts.METRIC_EVENT_SOURCE],
    "detail-type": [contracts.METRIC_EVENT_DETAIL_TYPE],
}


@pytest.fixture(scope="module")
def accepting(tmp_path_factory: pytest.TempPathFactory) -> Template:
    config = hub_config(accept_sample_spokes=True, aliases=("Project1", "FraudDetection"))
    return synth_hub_template(config, tmp_path_factory.mktemp("hub-sample-spokes"))


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return synth_hub_template(hub_config(), tmp_path_factory.mktemp("hub-default"))


def _default_bus_metric_rules(template: Template) -> dict[str, Any]:
    """Rules with the metric pattern and no EventBusName: rules on the account's default bus."""
    return {
        logical_id: rule
        for logical_id, rule in template.find_resources(
            "AWS::Events::Rule", {"Properties": {"EventPattern": METRIC_PATTERN}}
        ).items()
        if "EventBusName" not in rule["Properties"]
    }


def test_the_default_bus_sends_the_samples_metric_events_to_the_ingest_queue(
    accepting: Template,
) -> None:
    queue_id = next(
        iter(
            accepting.find_resources(
                "AWS::SQS::Queue", {"Properties": {"RedrivePolicy": Match.any_value()}}
            )
        )
    )
    dead_letter_id = render(
        accepting.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]["RedrivePolicy"][
            "deadLetterTargetArn"
        ]
    )
    ((rule_id, rule),) = _default_bus_metric_rules(accepting).items()
    properties = rule["Properties"]
    assert properties["Name"] == SAMPLE_SPOKE_RULE_NAME
    assert properties["State"] == "ENABLED"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # Like the hub bus's rule: what EventBridge cannot deliver goes to the ingest DLQ.
    assert render(target["DeadLetterConfig"]["Arn"]) == dead_letter_id
    # The queue admits this rule by its ARN, next to the hub bus's rule.
    (policy,) = accepting.find_resources(
        "AWS::SQS::QueuePolicy", {"Properties": {"Queues": [{"Ref": queue_id}]}}
    ).values()
    sources = [
        statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    assert {"Fn::GetAtt": [rule_id, "Arn"]} in sources
    assert len(sources) == 2


def test_the_default_bus_policy_is_never_written(accepting: Template) -> None:
    """The sample's EBPut statements on the default bus stay the operator's: our only bus
    policy is the hub bus's organization statement."""
    hub_bus_id = next(iter(accepting.find_resources("AWS::Events::EventBus")))
    policies = accepting.find_resources("AWS::Events::EventBusPolicy")
    assert [policy["Properties"]["EventBusName"] for policy in policies.values()] == [
        {"Ref": hub_bus_id}
    ]


def test_without_the_setting_no_rule_listens_on_the_default_bus(default: Template) -> None:
    assert _default_bus_metric_rules(default) == {}
    assert not default.find_resources(
        "AWS::Events::Rule", {"Properties": {"Name": SAMPLE_SPOKE_RULE_NAME}}
    )
    # The hub bus's own metric rule is still there.
    assert default.find_resources(
        "AWS::Events::Rule",
        {"Properties": {"EventPattern": METRIC_PATTERN, "EventBusName": Match.any_value()}},
    )


def test_the_ingest_function_knows_the_project_aliases(accepting: Template) -> None:
    function_id = logical_id_of_function(accepting, contracts.HUB_INGEST_FUNCTION_NAME)
    variables = accepting.find_resources("AWS::Lambda::Function")[function_id]["Properties"][
        "Environment"
    ]["Variables"]
    assert json.loads(variables["PROJECT_ALIASES"]) == {
        "fraud-detection": ["Project1", "FraudDetection"]
    }
