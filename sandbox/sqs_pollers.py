"""SQS event-source mappings for the sandbox: queues drain into their Lambda functions in batches.

moto gap (docs/architecture.md §6): moto invokes the mapped function synchronously inside `SendMessage`, one
message at a time, and cannot run the code anyway. Lambda's SQS poller instead reads batches of up
to the mapping's BatchSize, and with `ReportBatchItemFailures` deletes only the records the function
did not report as failed (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).

The sandbox takes each SQS mapping out of moto's per-queue dispatch table (so moto never dispatches)
and `drain()` polls the queues itself with those semantics: a failed batch or a failed record stays
on the queue, its receive count grows, and moto's redrive policy moves it to the dead-letter queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import EventSourceMapping, LambdaBackend, lambda_backends
from moto.sqs.models import Message, Queue, sqs_backends
from moto.utilities.arns import parse_arn

from sandbox.lambda_runtime import LambdaRuntime
from sandbox.moto_patching import MotoPatches

SQS_MAX_MESSAGES_PER_RECEIVE = 10
# Each redelivery attempt of a failing record is one drain round; redrive policies in our stacks
# move a record to the DLQ well before this many.
MAX_DRAIN_ROUNDS = 50


@dataclass
class SqsPollers:
    runtime: LambdaRuntime
    mappings: dict[str, EventSourceMapping] = field(default_factory=dict)

    def adopt(self, mapping: EventSourceMapping) -> None:
        """Take an SQS mapping out of moto's dispatch table and poll it here instead."""
        if parse_arn(mapping.event_source_arn).service != "sqs":
            return
        queue = self._queue(mapping)
        queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        self.mappings[mapping.uuid] = mapping

    def adopt_existing(self) -> None:
        for account_backends in lambda_backends.values():
            for backend in account_backends.values():
                for mapping in list(backend._event_source_mappings.values()):
                    self.adopt(mapping)

    def drain(self) -> int:
        """Deliver every visible message to its function; return the number of batches run."""
        batches = 0
        for _ in range(MAX_DRAIN_ROUNDS):
            ran_this_round = 0
            for mapping in list(self.mappings.values()):
                if mapping.enabled:
                    ran_this_round += self._poll_once(mapping)
            batches += ran_this_round
            if ran_this_round == 0:
                break
        return batches

    @staticmethod
    def _queue(mapping: EventSourceMapping) -> Queue:
        arn = parse_arn(mapping.event_source_arn)
        queue: Queue = sqs_backends[arn.account][arn.region].get_queue(arn.resource_id)
        return queue

    def _poll_once(self, mapping: EventSourceMapping) -> int:
        arn = parse_arn(mapping.event_source_arn)
        backend = sqs_backends[arn.account][arn.region]
        batch_size = int(mapping.batch_size or SQS_MAX_MESSAGES_PER_RECEIVE)
        messages: list[Message] = []
        while len(messages) < batch_size:
            received = backend.receive_message(
                arn.resource_id,
                min(SQS_MAX_MESSAGES_PER_RECEIVE, batch_size - len(messages)),
                0,
                30,
            )
            if not received:
                break
            messages.extend(received)
        if not messages:
            return 0
        function = lambda_backends[arn.account][arn.region].get_function(mapping.function_arn)
        result = self.runtime.invoke(function, self._batch_event(mapping, messages))
        failed_ids = self._failed_message_ids(mapping, result.payload, result.succeeded, messages)
        for message in messages:
            if message.id in failed_ids:
                backend.change_message_visibility(arn.resource_id, str(message.receipt_handle), 0)
            else:
                backend.delete_message(arn.resource_id, str(message.receipt_handle))
        return 1

    @staticmethod
    def _failed_message_ids(
        mapping: EventSourceMapping, payload: Any, succeeded: bool, messages: list[Message]
    ) -> set[str]:
        every_message = {message.id for message in messages}
        if not succeeded:
            return every_message
        if "ReportBatchItemFailures" not in (mapping.function_response_types or []):
            return set()
        failures = payload.get("batchItemFailures", []) if isinstance(payload, dict) else []
        reported = {str(failure.get("itemIdentifier")) for failure in failures}
        # An identifier that matches no record in the batch fails the whole batch, as in AWS.
        return every_message if reported - every_message else reported

    @staticmethod
    def _batch_event(mapping: EventSourceMapping, messages: list[Message]) -> dict[str, Any]:
        arn = parse_arn(mapping.event_source_arn)
        return {
            "Records": [
                {
                    "messageId": message.id,
                    "receiptHandle": message.receipt_handle,
                    "body": message.body,
                    "attributes": {
                        "ApproximateReceiveCount": str(message.approximate_receive_count),
                        "SentTimestamp": str(message.sent_timestamp),
                        "SenderId": "AROASANDBOX",
                        "ApproximateFirstReceiveTimestamp": str(
                            message.approximate_first_receive_timestamp
                        ),
                    },
                    "messageAttributes": {},
                    "md5OfBody": hashlib.md5(message.body.encode("utf-8")).hexdigest(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": mapping.event_source_arn,
                    "awsRegion": arn.region,
                }
                for message in messages
            ]
        }


@contextmanager
def patched_event_source_mappings(pollers: SqsPollers) -> Iterator[SqsPollers]:
    """Adopt every SQS mapping created while the patch is active (API or CloudFormation)."""

    def create_event_source_mapping(
        self: LambdaBackend, spec: dict[str, Any]
    ) -> EventSourceMapping:
        mapping: EventSourceMapping = patches.original(
            LambdaBackend, "create_event_source_mapping"
        )(self, spec)
        pollers.adopt(mapping)
        return mapping

    patches = MotoPatches(
        [(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)]
    )
    with patches.applied():
        pollers.adopt_existing()
        yield pollers
