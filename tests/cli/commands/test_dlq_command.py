"""`dsdash dlq list|redrive` on moto: the hub's dead-letter queue is found from the ingest
function alone, its messages are shown, and redrive moves each one back exactly once."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from moto.sqs.models import sqs_backends
from operator_cli_support import Hub

import contracts
from cli import hub_connection

ACCOUNT = "123456789012"  # moto's default account
DLQ_NAME = "DsdashHub-IngestDeadLetterQueue-ABC"
INGEST_QUEUE_NAME = "DsdashHub-IngestQueue-XYZ"


@dataclass
class Queues:
    ingest_url: str
    dlq_url: str


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


@pytest.fixture
def queues(empty_hub: Hub) -> Queues:
    """The hub's ingest queue (redrive policy to the DLQ) feeding the ingest function."""
    sqs = empty_hub.session.client("sqs")
    dlq_url = sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    ingest_url = sqs.create_queue(
        QueueName=INGEST_QUEUE_NAME,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        },
    )["QueueUrl"]
    ingest_arn = sqs.get_queue_attributes(QueueUrl=ingest_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    role = empty_hub.session.client("iam").create_role(
        RoleName="ingest", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    awslambda = empty_hub.session.client("lambda")
    awslambda.create_function(
        FunctionName=contracts.HUB_INGEST_FUNCTION_NAME,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
    )
    awslambda.create_event_source_mapping(
        EventSourceArn=ingest_arn, FunctionName=contracts.HUB_INGEST_FUNCTION_NAME, BatchSize=100
    )
    # moto gap (docs/architecture.md §6): moto would run the function inside SendMessage; this
    # test reads the ingest queue itself instead, as the sandbox's pollers do.
    sqs_backends[ACCOUNT]["eu-west-1"].queues[
        INGEST_QUEUE_NAME
    ].lambda_event_source_mappings.clear()
    return Queues(ingest_url, dlq_url)


def _fill_dead_letter_queue(hub: Hub, queues: Queues, count: int) -> list[str]:
    sqs = hub.session.client("sqs")
    bodies = [
        json.dumps({"id": f"event-{index}", "detail": {"n": index}}) for index in range(count)
    ]
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=queues.dlq_url,
            Entries=[
                {"Id": str(index), "MessageBody": body}
                for index, body in enumerate(bodies[start : start + 10])
            ],
        )
    return bodies


def _drain(hub: Hub, url: str) -> list[str]:
    sqs = hub.session.client("sqs")
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies += [message["Body"] for message in messages]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def _depth(hub: Hub, url: str) -> int:
    attributes = hub.session.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_list_finds_the_dead_letter_queue_from_the_ingest_function(
    empty_hub: Hub, queues: Queues
) -> None:
    bodies = _fill_dead_letter_queue(empty_hub, queues, 3)

    result = empty_hub.run("dlq", "list", "--messages", "2", "--json")

    assert result.exit_code == 0, result.output
    (queue,) = json.loads(result.stdout)
    assert queue["queue"] == DLQ_NAME
    assert queue["messages"] == 3
    assert queue["redrives_to"] == queues.ingest_url
    assert queue["max_receive_count"] == 5
    assert len(queue["peeked"]) == 2
    assert {message["body"] for message in queue["peeked"]} <= set(bodies)
    # Peeking releases what it read: every message is still there, visible.
    assert _depth(empty_hub, queues.dlq_url) == 3


def test_list_as_a_table_says_how_to_redrive(empty_hub: Hub, queues: Queues) -> None:
    _fill_dead_letter_queue(empty_hub, queues, 1)

    result = empty_hub.run("dlq", "list")

    assert result.exit_code == 0, result.output
    assert DLQ_NAME in result.stdout and INGEST_QUEUE_NAME in result.stdout
    assert "1 message(s) waiting; `dsdash dlq redrive`" in result.stdout


def test_redrive_moves_every_message_back_once(empty_hub: Hub, queues: Queues) -> None:
    bodies = _fill_dead_letter_queue(empty_hub, queues, 23)

    result = empty_hub.run("dlq", "redrive", "--json")

    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert (report["received"], report["moved"], report["send_failures"]) == (23, 23, [])
    assert _depth(empty_hub, queues.dlq_url) == 0
    assert sorted(_drain(empty_hub, queues.ingest_url)) == sorted(bodies)


def test_redrive_stops_at_max_messages(empty_hub: Hub, queues: Queues) -> None:
    _fill_dead_letter_queue(empty_hub, queues, 15)

    result = empty_hub.run("dlq", "redrive", "--max-messages", "12", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["moved"] == 12
    assert _depth(empty_hub, queues.dlq_url) == 3
    assert len(_drain(empty_hub, queues.ingest_url)) == 12


def test_redrive_keeps_a_message_whose_copy_was_refused(
    empty_hub: Hub, queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = _fill_dead_letter_queue(empty_hub, queues, 4)
    refused = bodies[1]
    # The entry carrying `refused` is taken out of the request and reported as a sender fault,
    # as SQS reports an invalid message: the other entries of the batch go through.
    removed: dict[str, str] = {}

    def drop_refused(params: dict[str, Any], **_: Any) -> None:
        for entry in list(params["Entries"]):
            if entry["MessageBody"] == refused:
                params["Entries"].remove(entry)
                removed["id"] = entry["Id"]

    def report_refused(parsed: dict[str, Any], **_: Any) -> None:
        if "id" in removed:
            parsed.setdefault("Failed", []).append(
                {"Id": removed.pop("id"), "SenderFault": True, "Code": "InvalidMessageContents"}
            )

    real_open_session = hub_connection.open_session

    def hooked(*arguments: Any) -> hub_connection.HubSession:
        session = real_open_session(*arguments)
        session.events.register("before-parameter-build.sqs.SendMessageBatch", drop_refused)
        session.events.register("after-call.sqs.SendMessageBatch", report_refused)
        return session

    monkeypatch.setattr(hub_connection, "open_session", hooked)
    result = empty_hub.run("dlq", "redrive", "--json")

    assert result.exit_code == 1
    (report,) = json.loads(result.stdout)
    assert report["moved"] == 3
    assert (
        len(report["send_failures"]) == 1 and "InvalidMessageContents" in report["send_failures"][0]
    )
    assert sorted(_drain(empty_hub, queues.ingest_url)) == sorted(set(bodies) - {refused})
    # The refused message stays in the dead-letter queue (invisible until its timeout ends).
    attributes = empty_hub.session.client("sqs").get_queue_attributes(
        QueueUrl=queues.dlq_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_no_hub_deployed_is_one_line_and_exit_1(empty_hub: Hub) -> None:
    result = empty_hub.run("dlq", "list")

    assert result.exit_code == 1
    assert "has no SQS source queue with a dead-letter queue" in result.stderr
    assert "Traceback" not in result.output


def test_with_a_management_profile_the_failed_invocations_queue_is_shown_not_redriven(
    empty_hub: Hub,
) -> None:
    sqs = empty_hub.session.client("sqs")
    failed_url = sqs.create_queue(QueueName="DsdashOrg-FailedInvocationsQueue-1")["QueueUrl"]
    failed_arn = sqs.get_queue_attributes(QueueUrl=failed_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sqs.send_message(QueueUrl=failed_url, MessageBody=json.dumps({"requestContext": {}}))
    role = empty_hub.session.client("iam").create_role(
        RoleName="enrollment", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    awslambda = empty_hub.session.client("lambda")
    awslambda.create_function(
        FunctionName=contracts.ORG_ENROLLMENT_FUNCTION_NAME,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
    )
    awslambda.put_function_event_invoke_config(
        FunctionName=contracts.ORG_ENROLLMENT_FUNCTION_NAME,
        DestinationConfig={"OnFailure": {"Destination": failed_arn}},
    )

    listed = empty_hub.run("dlq", "list", "--json")
    redriven = empty_hub.run("dlq", "redrive")

    assert listed.exit_code == 0, listed.output
    (queue,) = json.loads(listed.stdout)
    assert queue["arn"] == failed_arn
    assert queue["messages"] == 1
    assert queue["redrives_to"] is None
    # Only the ingest dead-letter queue is redriven; here there is none.
    assert redriven.exit_code == 1
    assert "has no SQS source queue with a dead-letter queue" in redriven.stderr
    assert _depth(empty_hub, failed_url) == 1
