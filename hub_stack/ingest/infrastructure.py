"""The ingest function's CDK construct: the function, the ingest queue as its event source, and
what it may do with the hub table and the history stream.

Built in the hub stack's scope under the id the stack used before this unit existed
(`IngestFunction`), so deployed hub stacks keep their logical ids. Its environment is
`environment_of(IngestSettings)`; the alerts part of it (`IngestAlertSettings`) is the hub's
alerting's to write (`hub_stack.alerting`), since the alert topic admits the function's role.
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as lambda_event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

import contracts
from cdk_support.functions import python_function
from cdk_support.lambda_asset import LambdaAssetSpec, lambda_code
from hub_stack.history_storage import HistoryStorage
from hub_stack.ingest.runtime.ingest_settings import IngestSettings
from runtime_common.settings import environment_of

HANDLER: Final = "hub_stack.ingest.runtime.ingest.handler"
# The asset holds its handler's import closure (cdk_support.lambda_asset).
HUB_INGEST_ASSET: Final = LambdaAssetSpec(
    name="hub-ingest", handler_module="hub_stack.ingest.runtime.ingest"
)
# Ingest: up to 100 messages per invocation, gathered for at most 5 s, so a refresh of N spokes
# costs a few invocations rather than one per event.
INGEST_BATCH_SIZE: Final = 100
INGEST_MAX_BATCHING_WINDOW: Final = cdk.Duration.seconds(5)
INGEST_FUNCTION_TIMEOUT: Final = cdk.Duration.seconds(60)
# The cheapest size holding 1.5x ingest's measured peak RSS (about 65 MB with its clients kept
# between invocations) whose modelled duration for a full batch of 100 records stays within a
# quarter of the timeout (about 12 s of 60 s; docs/architecture.md §7, "Lambda sizing").
INGEST_MEMORY_MB: Final = 128

# What the ingest function's store (hub_stack.runtime.store) does with the table: the registry
# items of a batch's senders (BatchGetItem, GetItem), forward-only conditional updates of the
# per-spoke latest items, which hold the spoke's freshness too (UpdateItem), quarantine (PutItem). Alert state
# (hub_stack.runtime.alert_state) uses GetItem, PutItem and UpdateItem. No Query (the registry is
# read by key), no Scan, no DeleteItem, no BatchWriteItem (history is in S3 now), no
# transactions, no index access.
INGEST_TABLE_ACTIONS: Final = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)


def ingest_visibility_timeout() -> cdk.Duration:
    """The ingest queue's visibility timeout. Lambda's guidance: at least 6 x the function's
    timeout plus the batching window, so retries by the event source never overlap a running
    invocation (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html)."""
    return cdk.Duration.seconds(
        6 * INGEST_FUNCTION_TIMEOUT.to_seconds() + INGEST_MAX_BATCHING_WINDOW.to_seconds()
    )


class IngestFunction:
    """The ingest function in the hub stack (`scope`), fed by `queue` in batches with partial
    batch failures, writing `table` and `history`'s delivery stream."""

    def __init__(
        self,
        scope: Construct,
        *,
        settings: IngestSettings,
        queue: sqs.IQueue,
        table: dynamodb.ITable,
        history: HistoryStorage,
    ) -> None:
        function = python_function(
            scope,
            "IngestFunction",
            function_name=contracts.HUB_INGEST_FUNCTION_NAME,
            handler=HANDLER,
            code=lambda_code(HUB_INGEST_ASSET),
            timeout=INGEST_FUNCTION_TIMEOUT,
            memory_size=INGEST_MEMORY_MB,
            environment=environment_of(settings),
        )
        self.function = function
        function.add_event_source(
            lambda_event_sources.SqsEventSource(
                queue,
                batch_size=INGEST_BATCH_SIZE,
                max_batching_window=INGEST_MAX_BATCHING_WINDOW,
                report_batch_item_failures=True,
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=list(INGEST_TABLE_ACTIONS), resources=[table.table_arn])
        )
        history.grant_put_records(function)
