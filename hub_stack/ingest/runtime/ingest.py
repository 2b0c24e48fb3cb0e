"""The hub's ingest Lambda: SQS batches of EventBridge metric events into history and latest values.

The hub bus's metric rule delivers each event, whole, as the body of an SQS message; this
function consumes the queue with partial batch responses
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting).

The batch's senders are read from the spoke registry once, with one BatchGetItem of the distinct
envelope accounts (O(distinct senders), never the whole registry). Per record:
- a rejected event (invalid, unknown version, unenrolled or spoofed sender) is quarantined with
  its reason code and counts as processed: retrying it could never succeed;
- an accepted event moves its spoke's latest item and freshness forward with one conditional
  UpdateItem in steady state (`latest_values`; a second for a late event or another part of a
  split extraction), which also recognises a conflicting replay (same spoke, series and
  extraction time, another value): that event is quarantined whole (ConflictingReplay), and
  nothing of it is written;
- its rows (`contracts.history_table.history_row`) are queued for the history delivery stream,
  which the batch's end sends with PutRecordBatch (`history_delivery`); a message whose rows are
  still refused after the retries is reported failed, so SQS redelivers it;
- only a real failure (DynamoDB refusing or throttling beyond retries) raises, so that SQS
  redelivers just that message, and after maxReceiveCount moves it to the dead-letter queue;
- the retries and the batch have a time budget (`ingest_budget`): a record is started only while
  enough of the invocation remains, the others go back to SQS untouched.

Every write is idempotent: latest values and freshness only move forward; an identical replay
writes no DynamoDB item, and its history rows (delivered again, because a redelivery may follow a
failed delivery) are the same rows, which queries deduplicate on the datapoint key
(docs/architecture.md §7, "Hub data plane (issue 10)"); the quarantine key is the time SQS
received the message and its message id, both unchanged on redelivery, so a redelivered message
rewrites the same item. (The same event in a *new* message, which EventBridge's at-least-once
delivery allows, is a new arrival: a rejected one is quarantined once per arrival.)

If every record of a batch fails, the batch processor raises instead of answering, so the
invocation shows up as a Lambda error; SQS redelivers all the messages either way.

Before the sender check, a v1 event written the original sample's way is read as the sample
meant it (`sample_compatibility`); when an event is refused, its sender is checked first, so the
reason is the real cause (`rejection_cause`). See docs/architecture.md §7.

After an accepted event is stored, its datapoints are judged against the project's alerts
(`hub_stack.ingest.runtime.alert_evaluation`), which notifies when an alert starts or recovers.

Environment: `hub_stack.ingest.runtime.ingest_settings.IngestSettings` (table, retention, history
stream, project aliases, alerts).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from hub_stack.ingest.runtime.alert_evaluation import AlertEvaluator, alert_evaluator
from hub_stack.ingest.runtime.event_validation import (
    Claims,
    EventRejected,
    RejectionCode,
    ValidatedEvent,
    authenticate_sender,
    validate_metric_event,
)
from hub_stack.ingest.runtime.history_delivery import HistoryDelivery
from hub_stack.ingest.runtime.ingest_budget import (
    INGEST_CLIENT_CONFIG,
    BatchDeadline,
    TimeBudgetExhausted,
)
from hub_stack.ingest.runtime.ingest_settings import IngestConfigurationError, IngestSettings
from hub_stack.ingest.runtime.rejection_cause import sender_checked_first
from hub_stack.ingest.runtime.sample_compatibility import SampleDialect
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.health_metrics import QUARANTINE_LOG_MESSAGE
from hub_stack.runtime.latest_values import ConflictingReplay, LatestWrite
from hub_stack.runtime.quarantine import QuarantineRecord
from hub_stack.runtime.store import HubStore, SpokeErrorEntry
from hub_stack.spoke_registry.records import SpokeRecord
from hub_stack.table_access import HubStoreError
from runtime_common.aws import warm_client, warm_session
from runtime_common.settings import read_settings
from runtime_common.timestamps import epoch_seconds

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="dsdash-hub-ingest")


def handler(event: dict[str, Any], context: LambdaContext | None) -> PartialItemFailureResponse:
    settings = read_settings(IngestSettings, os.environ, error=IngestConfigurationError)
    # One budgeted client (hub_stack.ingest.runtime.ingest_budget) for every table call of the
    # batch, kept warm across invocations (runtime_common.aws.warm_client).
    dynamodb_client = warm_client("dynamodb", config=INGEST_CLIENT_CONFIG)
    store = HubStore(settings.table_name, dynamodb_client=dynamodb_client)
    history = HistoryDelivery(
        warm_client("firehose", config=INGEST_CLIENT_CONFIG), settings.history_stream_name
    )
    alerts = alert_evaluator(
        settings.alerts.rules,
        topic_arn=settings.alerts.topic_arn,
        dashboard_url=settings.alerts.dashboard_url,
        table_name=settings.table_name,
        dynamodb_client=dynamodb_client,
        session=warm_session(),
        retention_days=settings.retention_days,
    )
    return ingest_batch(
        event,
        context,
        store=store,
        history=history,
        retention_days=settings.retention_days,
        sample_dialect=SampleDialect(settings.project_directory),
        alerts=alerts,
    )


def ingest_batch(
    event: dict[str, Any],
    context: LambdaContext | None = None,
    *,
    store: HubStore,
    history: HistoryDelivery,
    retention_days: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sample_dialect: SampleDialect | None = None,
    alerts: AlertEvaluator | None = None,
) -> PartialItemFailureResponse:
    """Process one SQS batch; returns the partial batch response (`batchItemFailures`)."""
    records = event.get("Records") or []
    ingestor = MetricEventIngestor(
        store,
        history=history,
        senders=envelope_accounts(records),
        retention_days=retention_days,
        clock=clock,
        sample_dialect=sample_dialect,
        deadline=BatchDeadline(context),
        alerts=alerts,
    )
    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event,
        record_handler=ingestor.ingest_record,
        processor=processor,
        context=context,
    )
    # History last, in as few PutRecordBatch calls as the batch needs. A message whose rows
    # Firehose still refuses goes back to SQS: its redelivery is an identical replay for the
    # latest item, and delivers the rows again.
    undelivered = history.flush()
    if undelivered:
        logger.error(
            "history rows refused by the delivery stream; SQS will redeliver their messages",
            extra={"message_ids": undelivered[:20], "count": len(undelivered)},
        )
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        response["batchItemFailures"].extend(
            {"itemIdentifier": message_id} for message_id in undelivered if message_id not in failed
        )
    return response


def envelope_accounts(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The distinct envelope accounts the batch's bodies claim: the registry keys to read.
    A body that is not a JSON object naming an account adds none (validation rejects it)."""
    accounts: dict[str, None] = {}
    for record in records:
        try:
            body = json.loads(str(record.get("body", "")))
        except (ValueError, RecursionError):  # validation quarantines these bodies
            continue
        account = body.get("account") if isinstance(body, dict) else None
        if isinstance(account, str) and account:
            accounts[account] = None
    return list(accounts)


class BatchRegistry(Mapping[str, SpokeRecord]):
    """The registry items of a batch's senders: one BatchGetItem of the distinct accounts the
    bodies claim, read on first use; an account not among them (a dialect may name another) is
    read on demand, once. Never the whole registry."""

    def __init__(self, store: HubStore, senders: Sequence[str]) -> None:
        self._store = store
        self._senders = list(senders)
        self._known: dict[str, SpokeRecord | None] | None = None

    def _loaded(self) -> dict[str, SpokeRecord | None]:
        if self._known is None:
            found = self._store.registry.get_spokes(self._senders) if self._senders else {}
            self._known = {account: found.get(account) for account in self._senders}
        return self._known

    def __getitem__(self, account_id: str) -> SpokeRecord:
        known = self._loaded()
        if account_id not in known:
            known[account_id] = self._store.registry.get_spokes([account_id]).get(account_id)
        spoke = known[account_id]
        if spoke is None:
            raise KeyError(account_id)
        return spoke

    def __iter__(self) -> Iterator[str]:
        return iter(account for account, spoke in self._loaded().items() if spoke is not None)

    def __len__(self) -> int:
        return sum(1 for spoke in self._loaded().values() if spoke is not None)


class MetricEventIngestor:
    """Handles the records of one invocation; reads the registry items of its senders once."""

    def __init__(
        self,
        store: HubStore,
        *,
        history: HistoryDelivery,
        senders: Sequence[str],
        retention_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sample_dialect: SampleDialect | None = None,
        deadline: BatchDeadline | None = None,
        alerts: AlertEvaluator | None = None,
    ) -> None:
        self._store = store
        self._deadline = deadline or BatchDeadline(None)
        self._alerts = alerts
        self._retention_days = retention_days
        self._clock = clock
        self._sample_dialect = sample_dialect if sample_dialect is not None else SampleDialect()
        self._history = history
        # Kept for the invocation. A spoke enrolled a moment ago is seen by the next invocation
        # (SQS retries).
        self._registry = BatchRegistry(store, senders)

    def registry(self) -> Mapping[str, SpokeRecord]:
        return self._registry

    def ingest_record(self, record: SQSRecord) -> str:
        """Store or quarantine one event. Raises only on failures worth a retry."""
        try:
            self._deadline.check_room_for_a_record(record.message_id)
        except TimeBudgetExhausted:
            logger.warning(
                "time budget spent; the record goes back to SQS unprocessed",
                extra={"message_id": record.message_id},
            )
            raise
        try:
            return self._store_or_quarantine(record, self._received_at(record))
        except (ClientError, HubStoreError):
            # The batch processor only collects the exception; log it here so the reason for
            # the redelivery is visible, then let it mark this record (alone) as failed.
            logger.exception(
                "could not read or write the hub table; SQS will redeliver the message",
                extra={"message_id": record.message_id},
            )
            raise

    def _store_or_quarantine(self, record: SQSRecord, received_at: datetime) -> str:
        try:
            validated = validate_metric_event(
                record.body,
                now=self._clock(),
                retention_days=self._retention_days,
                normalize_v1=self._sample_dialect.normalize,
            )
            authenticate_sender(validated, self.registry())
            datapoints = self._datapoints_of(validated)
            latest = self._record_latest(validated, datapoints, received_at)
        except EventRejected as refused:
            rejection = sender_checked_first(refused, self.registry())
            self._quarantine(record, rejection, received_at)
            return f"quarantined: {rejection.code.value}"
        self._store_event(record, validated, datapoints, latest, received_at)
        return f"stored {len(datapoints)} datapoint(s)"

    def _datapoints_of(self, event: ValidatedEvent) -> list[DatapointRecord]:
        expires_at = epoch_seconds(event.extraction_time + timedelta(days=self._retention_days))
        return [
            DatapointRecord(
                project_name=event.project_name,
                environment=event.environment,
                metric_name=metric.metric_name,
                value=metric.value,
                unit=metric.unit,
                dimensions=metric.dimensions,
                metadata=metric.metadata,
                account_id=event.account_id,
                region=event.region,
                extraction_date=event.extraction_date,
                schema_version=event.schema_version,
                event_id=event.event_id,
                expires_at=expires_at,
            )
            for metric in event.metrics
        ]

    def _record_latest(
        self, event: ValidatedEvent, datapoints: list[DatapointRecord], received_at: datetime
    ) -> LatestWrite:
        """One conditional UpdateItem of the spoke's latest item, which also records the spoke's
        freshness (its newest extraction, when it arrived, the errors it reported);
        EventRejected, with nothing written, if the event conflicts with a stored extraction
        (docs/architecture.md §7, "Hostile events" and "Hub data plane (issue 10)")."""
        errors = [
            SpokeErrorEntry(error.metric_name, error.error_code, error.message)
            for error in event.errors
        ]
        try:
            return self._store.record_latest(datapoints, seen_at=received_at, errors=errors)
        except ConflictingReplay as conflict:
            raise EventRejected(
                RejectionCode.CONFLICTING_REPLAY,
                f"extraction {event.extraction_date} from {event.account_id}/{event.region}: "
                f"{conflict}; the hub keeps the first value",
                Claims(event.event_id, event.account_id, event.project_name, event.environment),
            ) from None

    def _store_event(
        self,
        record: SQSRecord,
        event: ValidatedEvent,
        datapoints: list[DatapointRecord],
        latest: LatestWrite,
        received_at: datetime,
    ) -> None:
        # Alert state tells a redelivery whether the notification still has to go out.
        notifications = self._alerts.evaluate(datapoints) if self._alerts is not None else []
        # Rows of an identical replay too: a redelivery may follow a failed delivery, and
        # queries deduplicate replayed rows.
        ingested_at = self._clock()
        self._history.add(record.message_id, [d.history_row(ingested_at) for d in datapoints])
        logger.info(
            "stored metric event",
            extra={
                "event_id": event.event_id,
                "account_id": event.account_id,
                "project": event.project_name,
                "environment": event.environment,
                "schema_version": event.schema_version,
                "datapoints": len(datapoints),
                "latest_moved_forward": latest.moved_forward,
                "identical_replay": latest.identical_replay,
                "errors_reported": len(event.errors),
                "alert_notifications": len(notifications),
            },
        )

    def _quarantine(
        self, record: SQSRecord, rejection: EventRejected, received_at: datetime
    ) -> None:
        claims = rejection.claims
        self._store.quarantine.add(
            QuarantineRecord.build(
                received_at=received_at,
                event_id=claims.event_id or record.message_id,
                reason_code=rejection.code.value,
                reason=rejection.reason,
                raw_event=record.body,
                message_id=record.message_id,
                claimed_account_id=claims.account_id,
                claimed_project_name=claims.project_name,
                claimed_environment=claims.environment,
                retention_days=self._retention_days,
            )
        )
        logger.warning(
            # A metric filter counts this exact message (the QuarantinedEvents alarm).
            QUARANTINE_LOG_MESSAGE,
            extra={
                "reason_code": rejection.code.value,
                "reason": rejection.reason,
                "event_id": claims.event_id,
                "message_id": record.message_id,
                "claimed_account_id": claims.account_id,
                "claimed_project": claims.project_name,
                "claimed_environment": claims.environment,
            },
        )

    def _received_at(self, record: SQSRecord) -> datetime:
        """When the hub's queue received the message: stable across redeliveries."""
        attributes = record.raw_event.get("attributes") or {}
        sent = attributes.get("SentTimestamp")
        if sent is None or not str(sent).isdigit():
            return self._clock()
        milliseconds = int(sent)
        return datetime.fromtimestamp(milliseconds // 1000, UTC) + timedelta(
            milliseconds=milliseconds % 1000
        )
