"""The sandbox's EventBridge delivery, bus-policy enforcement, Lambda runtime and SQS pollers."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sandbox_probe_handlers
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.credentials import account_credentials
from sandbox.event_delivery import EventDelivery, patched_event_delivery
from sandbox.lambda_runtime import HandlerNotAllowedError, LambdaRuntime, patched_lambda_invoke
from sandbox.sqs_pollers import SqsPollers, patched_event_source_mappings

REGION = "eu-west-1"
HUB = "111111111111"
SPOKE = "222222222222"
OUTSIDER = "444444444444"


class Sandbox:
    def __init__(self) -> None:
        self.runtime = LambdaRuntime(
            allowed_handler_prefixes=("sandbox_probe_handlers.",),
            extra_environment={"PROBE_MARKER": "from-sandbox"},
        )
        self.delivery = EventDelivery(self.runtime)
        self.pollers = SqsPollers(self.runtime)

    def session(self, account: str) -> boto3.Session:
        return account_credentials(account, REGION).session(REGION)

    def settle(self) -> None:
        while self.runtime.pending or self.pollers.drain():
            self.runtime.drain()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sandbox_probe_handlers.SEEN.clear()
    with mock_aws():
        box = Sandbox()
        with (
            patched_lambda_invoke(box.runtime),
            patched_event_delivery(box.delivery),
            patched_event_source_mappings(box.pollers),
        ):
            yield box


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the sandbox runs the installed source\n")
    return buffer.getvalue()


def _function(session: boto3.Session, name: str, handler: str) -> str:
    iam = session.client("iam")
    role = iam.create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    arn: str = session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler=handler,
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"PROBE_MARKER": "from-function"}},
    )["FunctionArn"]
    return arn


def _bus_with_lambda_rule(session: boto3.Session, bus: str, function_arn: str) -> None:
    events = session.client("events")
    events.create_event_bus(Name=bus)
    events.put_rule(
        Name="to-lambda", EventBusName=bus, EventPattern=json.dumps({"source": ["probe"]})
    )
    events.put_targets(
        Rule="to-lambda", EventBusName=bus, Targets=[{"Id": "fn", "Arn": function_arn}]
    )


def _put(session: boto3.Session, bus: str, detail: dict[str, Any]) -> None:
    response = session.client("events").put_events(
        Entries=[
            {
                "Source": "probe",
                "DetailType": "probe",
                "Detail": json.dumps(detail),
                "EventBusName": bus,
            }
        ]
    )
    assert response["FailedEntryCount"] == 0


def test_lambda_target_runs_the_real_handler_with_function_environment_and_account(
    sandbox: Sandbox,
) -> None:
    hub = sandbox.session(HUB)
    function_arn = _function(hub, "probe", "sandbox_probe_handlers.record_event")
    _bus_with_lambda_rule(hub, "dsdash-hub", function_arn)

    _put(hub, "dsdash-hub", {"n": 1})
    assert sandbox_probe_handlers.SEEN == [], "EventBridge invokes asynchronously: after the put"
    sandbox.settle()

    [seen] = sandbox_probe_handlers.SEEN
    assert seen["account"] == HUB
    assert seen["region"] == REGION
    assert seen["marker"] == "from-function", "the function's own environment wins"
    assert seen["event"]["detail"] == {"n": 1}
    assert seen["event"]["time"].endswith("Z")
    assert seen["function_arn"] == function_arn


def test_cross_account_forward_is_dropped_without_policy_and_keeps_sender_account_with_it(
    sandbox: Sandbox,
) -> None:
    hub, spoke = sandbox.session(HUB), sandbox.session(SPOKE)
    function_arn = _function(hub, "probe", "sandbox_probe_handlers.record_event")
    _bus_with_lambda_rule(hub, "dsdash-hub", function_arn)
    spoke_events = spoke.client("events")
    spoke_events.create_event_bus(Name="dsdash")
    spoke_events.put_rule(
        Name="fwd", EventBusName="dsdash", EventPattern=json.dumps({"source": ["probe"]})
    )
    spoke_events.put_targets(
        Rule="fwd",
        EventBusName="dsdash",
        Targets=[{"Id": "hub", "Arn": f"arn:aws:events:{REGION}:{HUB}:event-bus/dsdash-hub"}],
    )

    _put(spoke, "dsdash", {"attempt": "without grant"})
    sandbox.settle()
    assert sandbox_probe_handlers.SEEN == []
    [dropped] = sandbox.delivery.log.dropped
    assert SPOKE in dropped.reason and "policy" in dropped.reason

    hub.client("events").put_permission(
        EventBusName="dsdash-hub", Action="events:PutEvents", Principal=SPOKE, StatementId="spoke"
    )
    _put(spoke, "dsdash", {"attempt": "with grant"})
    sandbox.settle()
    [seen] = sandbox_probe_handlers.SEEN
    assert seen["event"]["account"] == SPOKE, "the sender's account survives forwarding"
    assert seen["event"]["detail"] == {"attempt": "with grant"}


def test_organization_condition_admits_members_and_refuses_outsiders(sandbox: Sandbox) -> None:
    management = sandbox.session("999999999999")
    organizations = management.client("organizations")
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    member = organizations.create_account(AccountName="member", Email="m@example.com")
    member_id = member["CreateAccountStatus"]["AccountId"]

    hub = sandbox.session(HUB)
    function_arn = _function(hub, "probe", "sandbox_probe_handlers.record_event")
    _bus_with_lambda_rule(hub, "dsdash-hub", function_arn)
    hub.client("events").put_permission(
        EventBusName="dsdash-hub",
        Action="events:PutEvents",
        Principal="*",
        StatementId="org",
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": organization_id},
    )
    for sender in (member_id, OUTSIDER):
        events = sandbox.session(sender).client("events")
        events.create_event_bus(Name="dsdash")
        events.put_rule(
            Name="fwd", EventBusName="dsdash", EventPattern=json.dumps({"source": ["probe"]})
        )
        events.put_targets(
            Rule="fwd",
            EventBusName="dsdash",
            Targets=[{"Id": "hub", "Arn": f"arn:aws:events:{REGION}:{HUB}:event-bus/dsdash-hub"}],
        )
        _put(sandbox.session(sender), "dsdash", {"from": sender})
    sandbox.settle()

    assert [seen["event"]["account"] for seen in sandbox_probe_handlers.SEEN] == [member_id]
    assert [d.reason for d in sandbox.delivery.log.dropped if OUTSIDER in d.reason]


def test_disabled_rules_deliver_nothing(sandbox: Sandbox) -> None:
    hub = sandbox.session(HUB)
    function_arn = _function(hub, "probe", "sandbox_probe_handlers.record_event")
    _bus_with_lambda_rule(hub, "dsdash-hub", function_arn)
    hub.client("events").disable_rule(Name="to-lambda", EventBusName="dsdash-hub")
    _put(hub, "dsdash-hub", {"n": 1})
    sandbox.settle()
    assert sandbox_probe_handlers.SEEN == []


def test_a_sixth_target_is_refused_as_in_eventbridge(sandbox: Sandbox) -> None:
    events = sandbox.session(HUB).client("events")
    events.put_rule(Name="fanout", EventPattern=json.dumps({"source": ["probe"]}))
    targets = [
        {"Id": f"t{i}", "Arn": f"arn:aws:events:{REGION}:{200000000000 + i}:event-bus/dsdash"}
        for i in range(6)
    ]
    events.put_targets(Rule="fanout", Targets=targets[:5])
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule="fanout", Targets=targets[5:])
    assert raised.value.response["Error"]["Code"] == "LimitExceededException"
    assert len(events.list_targets_by_rule(Rule="fanout")["Targets"]) == 5


def test_sqs_mapping_drains_in_batches_and_keeps_reported_failures(sandbox: Sandbox) -> None:
    hub = sandbox.session(HUB)
    sqs = hub.client("sqs")
    queue_url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    function_arn = _function(hub, "batch", "sandbox_probe_handlers.fail_odd_records")
    hub.client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=function_arn,
        BatchSize=25,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    for number in range(30):
        sqs.send_message(QueueUrl=queue_url, MessageBody=str(number))
    assert sandbox_probe_handlers.SEEN == [], "moto's per-message dispatch is disabled"

    sandbox.pollers._poll_once(next(iter(sandbox.pollers.mappings.values())))
    assert sandbox_probe_handlers.SEEN == [{"batch_size": 25}]
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    odd_in_first_batch = sum(1 for number in range(25) if number % 2)
    never_read = 30 - 25
    # Reported failures become visible again; the successes are deleted.
    assert int(attributes["ApproximateNumberOfMessages"]) == odd_in_first_batch + never_read


def test_invoke_api_runs_the_handler_and_reports_failures(sandbox: Sandbox) -> None:
    hub = sandbox.session(HUB)
    _function(hub, "probe", "sandbox_probe_handlers.record_event")
    response = hub.client("lambda").invoke(FunctionName="probe", Payload=json.dumps({"k": "v"}))
    assert json.loads(response["Payload"].read()) == {"ok": True}
    assert "FunctionError" not in response
    assert sandbox_probe_handlers.SEEN[0]["event"] == {"k": "v"}

    _function(hub, "bad", "sandbox_probe_handlers.fail_odd_records")
    failed = hub.client("lambda").invoke(FunctionName="bad", Payload=json.dumps({}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"


def test_handlers_outside_dsdash_packages_are_refused() -> None:
    with pytest.raises(HandlerNotAllowedError):
        LambdaRuntime().resolve_handler("os.system")
