"""The hub's dead-letter queue: find it, show what it holds, and move its messages back.

What lands there (docs/architecture.md §7, "Dead-letter queues"):
- ingest messages that failed `maxReceiveCount` times (DynamoDB refusing or throttling beyond the
  retry budget; a rejected event is quarantined, never sent here);
- events the hub bus's rule could not deliver to the ingest queue at all.
Both hold the EventBridge event as their body, which is exactly what the ingest queue carries, so
redriving is moving the body back to the ingest queue.

Finding the queues needs no name: the ingest function has a fixed name
(`contracts.HUB_INGEST_FUNCTION_NAME`), its SQS event source mapping names the ingest queue, and
that queue's RedrivePolicy names the dead-letter queue. Every listing is paginated. With a profile
of the management account, the same command finds the on-failure queue of the enrollment and
reconciler functions (their asynchronous-invocation destination): it holds Lambda invocation
records, not events, so it is shown but not redriven (`dsdash enroll` replays an enrollment).

Redrive is receive, send, delete, ten messages at a time (the SQS batch limits). SQS's own
StartMessageMoveTask would do the same server-side, but moto (the sandbox) does not implement it,
and the loop lets the command report exactly what moved. Only the entries a batch call reports as
failed are retried; a message is deleted from the dead-letter queue only once its copy is on the
ingest queue, so a failure leaves it where it was (visible again after the visibility timeout).
Ingest is idempotent, so a message moved twice stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

import contracts
from runtime_common.aws import client as aws_client

if TYPE_CHECKING:
    import boto3

# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
SQS_MAX_BATCH: Final = 10
# Long enough to send and delete a batch; a message not deleted reappears after it.
REDRIVE_VISIBILITY_TIMEOUT_SECONDS: Final = 60
# Peeked messages are hidden this long while the page is read, then released at once.
PEEK_VISIBILITY_TIMEOUT_SECONDS: Final = 30
BATCH_ENTRY_MAX_ATTEMPTS: Final = 3
# Long polling: a short poll samples only some SQS servers and may answer empty while messages
# remain, which would end a redrive early. One second also bounds the wait on an empty queue.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
RECEIVE_WAIT_SECONDS: Final = 1


class DeadLetterError(Exception):
    """The dead-letter queue cannot be found or used; the message says why, in one line."""


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int


@dataclass(frozen=True)
class DeadLetterQueue:
    """One dead-letter queue and the queue its messages came from (where redrive sends them)."""

    purpose: str
    url: str
    arn: str
    source_url: str | None
    max_receive_count: int | None
    depth: QueueDepth

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class PeekedMessage:
    message_id: str
    sent_at_ms: int | None
    receive_count: int | None
    error: str | None  # what EventBridge recorded when it could not deliver, if it did
    body: str


@dataclass
class RedriveReport:
    moved: int = 0
    received: int = 0
    send_failures: list[str] = field(default_factory=list)
    delete_failures: list[str] = field(default_factory=list)
    receive_calls: int = 0
    send_calls: int = 0
    delete_calls: int = 0


class DeadLetters:
    """The hub's dead-letter queue(s), through an injectable session."""

    def __init__(
        self,
        session: boto3.Session | None,
        *,
        function_name: str = contracts.HUB_INGEST_FUNCTION_NAME,
    ) -> None:
        self._sqs = aws_client(session, "sqs")
        self._lambda = aws_client(session, "lambda")
        self._function_name = function_name

    # ------------------------------------------------------------------------- discovery

    def all_queues(self) -> list[DeadLetterQueue]:
        """The ingest dead-letter queue (hub account) and the failed-invocations queue
        (management account), whichever this profile and region reach; DeadLetterError if none."""
        queues = self._ingest_dead_letter_queues()
        known = {queue.arn for queue in queues}
        for queue in self._failed_invocation_queues():
            if queue.arn not in known:
                known.add(queue.arn)
                queues.append(queue)
        if not queues:
            raise DeadLetterError(
                f"no dead-letter queue here: function {self._function_name} has no SQS source "
                f"queue with a dead-letter queue, and neither {contracts.ORG_ENROLLMENT_FUNCTION_NAME}"
                f" nor {contracts.ORG_RECONCILER_FUNCTION_NAME} has an on-failure queue; is a "
                "dsdash stack deployed in this account and region?"
            )
        return queues

    def redrivable_queues(self) -> list[DeadLetterQueue]:
        """The queues whose messages can go back where they came from (the ingest DLQ)."""
        queues = self._ingest_dead_letter_queues()
        if not queues:
            raise DeadLetterError(
                f"function {self._function_name} has no SQS source queue with a dead-letter "
                "queue here; is the hub stack deployed in this account and region?"
            )
        return queues

    def _ingest_dead_letter_queues(self) -> list[DeadLetterQueue]:
        """The dead-letter queue of every SQS queue that feeds the ingest function."""
        queues: list[DeadLetterQueue] = []
        for source_arn in self._ingest_source_queue_arns():
            source_url = self._queue_url(source_arn)
            policy_text = self._attributes(source_url, "RedrivePolicy").get("RedrivePolicy")
            if not policy_text:
                continue
            policy = json.loads(policy_text)
            dead_letter_arn = str(policy["deadLetterTargetArn"])
            queues.append(
                self.describe(
                    self._queue_url(dead_letter_arn),
                    purpose="hub ingest dead-letter queue",
                    source_url=source_url,
                    max_receive_count=int(policy.get("maxReceiveCount", 0)) or None,
                )
            )
        return queues

    def _failed_invocation_queues(self) -> Iterator[DeadLetterQueue]:
        for function_name in (
            contracts.ORG_ENROLLMENT_FUNCTION_NAME,
            contracts.ORG_RECONCILER_FUNCTION_NAME,
        ):
            destination = self._on_failure_destination(function_name)
            if destination is not None and destination.split(":")[2] == "sqs":
                yield self.describe(
                    self._queue_url(destination),
                    purpose="failed asynchronous invocations (enrollment, reconciler)",
                )

    def _on_failure_destination(self, function_name: str) -> str | None:
        try:
            config = self._lambda.get_function_event_invoke_config(FunctionName=function_name)
        except ClientError as error:
            # Absent here (the hub account), or not readable with this role: the management
            # account's queue is optional in this listing.
            if error.response.get("Error", {}).get("Code") in (
                "ResourceNotFoundException",
                "AccessDeniedException",
            ):
                return None
            raise
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return str(destination) if destination else None

    def describe(
        self,
        url: str,
        *,
        purpose: str,
        source_url: str | None = None,
        max_receive_count: int | None = None,
    ) -> DeadLetterQueue:
        attributes = self._attributes(
            url,
            "QueueArn",
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        return DeadLetterQueue(
            purpose=purpose,
            url=url,
            arn=attributes["QueueArn"],
            source_url=source_url,
            max_receive_count=max_receive_count,
            depth=QueueDepth(
                visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
            ),
        )

    def _ingest_source_queue_arns(self) -> list[str]:
        arns: list[str] = []
        paginator = self._lambda.get_paginator("list_event_source_mappings")
        for page in paginator.paginate(FunctionName=self._function_name):
            for mapping in page.get("EventSourceMappings", []):
                source = str(mapping.get("EventSourceArn", ""))
                if source.startswith("arn:") and source.split(":")[2] == "sqs":
                    arns.append(source)
        return arns

    def _queue_url(self, queue_arn: str) -> str:
        # arn:<partition>:sqs:<region>:<account>:<name>
        parts = queue_arn.split(":")
        response = self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
        return str(response["QueueUrl"])

    def _attributes(self, url: str, *names: str) -> dict[str, str]:
        response = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))
        return dict(response.get("Attributes", {}))

    # ------------------------------------------------------------------------------ peek

    def peek(self, queue: DeadLetterQueue, limit: int) -> list[PeekedMessage]:
        """Up to `limit` messages, hidden while read and released right after (visible again)."""
        seen: dict[str, PeekedMessage] = {}
        handles: list[str] = []
        try:
            while len(seen) < limit:
                batch = self._receive(
                    queue.url,
                    min(SQS_MAX_BATCH, limit - len(seen)),
                    PEEK_VISIBILITY_TIMEOUT_SECONDS,
                )
                if not batch:
                    break
                for message in batch:
                    handles.append(message["ReceiptHandle"])
                    seen.setdefault(message["MessageId"], _peeked(message))
        finally:
            self._release(queue.url, handles)
        return list(seen.values())[:limit]

    def _release(self, url: str, handles: Sequence[str]) -> None:
        for start in range(0, len(handles), SQS_MAX_BATCH):
            entries = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(handles[start : start + SQS_MAX_BATCH])
            ]
            self._sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)

    # --------------------------------------------------------------------------- redrive

    def redrive(self, queue: DeadLetterQueue, *, max_messages: int | None = None) -> RedriveReport:
        """Move messages back to the source queue until the dead-letter queue looks empty (or
        `max_messages` moved)."""
        if queue.source_url is None:
            raise DeadLetterError(
                f"no source queue is known for {queue.name}; nothing to redrive to"
            )
        report = RedriveReport()
        while max_messages is None or report.received < max_messages:
            wanted = (
                SQS_MAX_BATCH
                if max_messages is None
                else min(SQS_MAX_BATCH, max_messages - report.received)
            )
            batch = self._receive(queue.url, wanted, REDRIVE_VISIBILITY_TIMEOUT_SECONDS)
            report.receive_calls += 1
            if not batch:
                break
            report.received += len(batch)
            sent = self._send_batch(queue.source_url, batch, report)
            deleted = self._delete_batch(queue.url, sent, report)
            report.moved += len(deleted)
        return report

    def _receive(self, url: str, count: int, visibility_timeout: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _send_batch(
        self, url: str, messages: Sequence[dict[str, Any]], report: RedriveReport
    ) -> list[dict[str, Any]]:
        """Send each message's body to `url`; return the messages whose copy was accepted."""
        pending = {str(index): message for index, message in enumerate(messages)}
        accepted: list[dict[str, Any]] = []
        for _ in range(BATCH_ENTRY_MAX_ATTEMPTS):
            if not pending:
                break
            response = self._sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": entry_id, "MessageBody": message["Body"]}
                    for entry_id, message in pending.items()
                ],
            )
            report.send_calls += 1
            for success in response.get("Successful", []):
                accepted.append(pending.pop(success["Id"]))
            # SenderFault entries would fail the same way again: stop retrying them.
            for failure in response.get("Failed", []):
                if failure.get("SenderFault"):
                    message = pending.pop(failure["Id"])
                    report.send_failures.append(
                        f"{message['MessageId']}: {failure.get('Code')}: {failure.get('Message')}"
                    )
        report.send_failures.extend(
            f"{message['MessageId']}: not accepted after {BATCH_ENTRY_MAX_ATTEMPTS} attempts"
            for message in pending.values()
        )
        return accepted

    def _delete_batch(
        self, url: str, messages: Sequence[dict[str, Any]], report: RedriveReport
    ) -> list[dict[str, Any]]:
        pending = {str(index): message for index, message in enumerate(messages)}
        deleted: list[dict[str, Any]] = []
        for _ in range(BATCH_ENTRY_MAX_ATTEMPTS):
            if not pending:
                break
            response = self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": entry_id, "ReceiptHandle": message["ReceiptHandle"]}
                    for entry_id, message in pending.items()
                ],
            )
            report.delete_calls += 1
            for success in response.get("Successful", []):
                deleted.append(pending.pop(success["Id"]))
        # Its copy is on the source queue already: ingest will store it once, and this one
        # reappears in the dead-letter queue for the next redrive, which is harmless.
        report.delete_failures.extend(
            f"{message['MessageId']}: copied but not deleted" for message in pending.values()
        )
        return deleted


def _peeked(message: dict[str, Any]) -> PeekedMessage:
    attributes = message.get("Attributes", {})
    error_attributes = message.get("MessageAttributes", {})
    # EventBridge writes why it could not deliver into these message attributes
    # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
    error = " ".join(
        str(error_attributes[name].get("StringValue", ""))
        for name in ("ERROR_CODE", "ERROR_MESSAGE")
        if name in error_attributes
    )
    sent = attributes.get("SentTimestamp")
    count = attributes.get("ApproximateReceiveCount")
    return PeekedMessage(
        message_id=str(message["MessageId"]),
        sent_at_ms=int(sent) if sent and str(sent).isdigit() else None,
        receive_count=int(count) if count and str(count).isdigit() else None,
        error=error or None,
        body=str(message.get("Body", "")),
    )
