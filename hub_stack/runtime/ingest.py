"""The hub's ingest Lambda: SQS batches of EventBridge metric events into DynamoDB.

The hub bus's metric rule delivers each event, whole, as the body of an SQS message; this
function consumes the queue with partial batch responses
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting).

Per record:
- a rejected event (invalid, unknown version, unenrolled or spoofed sender) is quarantined with
  its reason code and counts as processed: retrying it could never succeed;
- an accepted event is first compared with history (BatchGetItem): datapoints history already
  holds with the same value are not written again, and a datapoint history holds with *another*
  value makes the event a conflicting replay, quarantined whole (ConflictingReplay) rather than
  overwriting what was stored;
- the new datapoints are written (BatchWriteItem), the latest values move forward, and the
  spoke's freshness is recorded;
- only a real failure (DynamoDB refusing or throttling beyond retries) raises, so that SQS
  redelivers just that message, and after maxReceiveCount moves it to the dead-letter queue;
- the retries and the batch have a time budget (`ingest_budget`): a record is started only while
  enough of the invocation remains, the others go back to SQS untouched.

Every write is idempotent: datapoint keys come from the event's content (series, extraction
time, account); latest values and freshness only move forward; the quarantine key is the time
SQS received the message and its message id, both unchanged on redelivery, so a redelivered
message rewrites the same item. (The same event in a *new* message, which EventBridge's
at-least-once delivery allows, is a new arrival: it adds no datapoint, but a rejected one is
quarantined once per arrival.)

If every record of a batch fails, the batch processor raises instead of answering, so the
invocation shows up as a Lambda error; SQS redelivers all the messages either way.

Before the sender check, a v1 event written the original sample's way is read as the sample
meant it (`sample_compatibility`); when an event is refused, its sender is checked first, so the
reason is the real cause (`rejection_cause`). See docs/architecture.md §7.

After an accepted event is stored, its datapoints are judged against the project's alerts
(`hub_stack.runtime.alert_evaluation`), which notifies when an alert starts or recovers.

Environment: TABLE_NAME, RETENTION_DAYS; PROJECT_ALIASES (optional: configured project names and
their aliases, as JSON); ALERT_RULES, ALERT_TOPIC_ARN, DASHBOARD_URL (alerts).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
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

from hub_stack.runtime.alert_evaluation import AlertEvaluator, evaluator_from_environment
from hub_stack.runtime.event_validation import (
    Claims,
    EventRejected,
    RejectionCode,
    ValidatedEvent,
    authenticate_sender,
    validate_metric_event,
)
from hub_stack.runtime.health_metrics import QUARANTINE_LOG_MESSAGE
from hub_stack.runtime.ingest_budget import (
    INGEST_CLIENT_CONFIG,
    BatchDeadline,
    TimeBudgetExhausted,
)
from hub_stack.runtime.rejection_cause import sender_checked_first
from hub_stack.runtime.sample_compatibility import SampleDialect, sample_dialect_from
from hub_stack.runtime.store import (
    DatapointRecord,
    HubStore,
    HubStoreError,
    QuarantineRecord,
    SpokeErrorEntry,
    SpokeRecord,
    epoch_seconds,
)
from runtime_common.aws import client as aws_client

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="dsdash-hub-ingest")


class IngestConfigurationError(Exception):
    """The function's environment is missing or malformed."""


def handler(event: dict[str, Any], context: LambdaContext | None) -> PartialItemFailureResponse:
    table_name = os.environ.get("TABLE_NAME", "")
    if not table_name:
        raise IngestConfigurationError("environment variable TABLE_NAME is not set")
    # One budgeted client (hub_stack.runtime.ingest_budget) for every table call of the batch.
    dynamodb_client = aws_client(None, "dynamodb", config=INGEST_CLIENT_CONFIG)
    store = HubStore(table_name, dynamodb_client=dynamodb_client)
    retention_days = retention_days_from(os.environ)
    alerts = evaluator_from_environment(
        os.environ,
        table_name=table_name,
        dynamodb_client=dynamodb_client,
        session=None,
        retention_days=retention_days,
    )
    return ingest_batch(
        event,
        context,
        store=store,
        retention_days=retention_days,
        sample_dialect=sample_dialect_from(os.environ),
        alerts=alerts,
    )


def retention_days_from(environment: Mapping[str, str]) -> int:
    text = environment.get("RETENTION_DAYS", "")
    try:
        days = int(text)
    except ValueError:
        raise IngestConfigurationError(
            f"environment variable RETENTION_DAYS must be a whole number of days, got {text!r}"
        ) from None
    if days < 1:
        raise IngestConfigurationError(f"RETENTION_DAYS must be at least 1, got {days}")
    return days


def ingest_batch(
    event: dict[str, Any],
    context: LambdaContext | None = None,
    *,
    store: HubStore,
    retention_days: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sample_dialect: SampleDialect | None = None,
    alerts: AlertEvaluator | None = None,
) -> PartialItemFailureResponse:
    """Process one SQS batch; returns the partial batch response (`batchItemFailures`)."""
    ingestor = MetricEventIngestor(
        store,
        retention_days=retention_days,
        clock=clock,
        sample_dialect=sample_dialect,
        deadline=BatchDeadline(context),
        alerts=alerts,
    )
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event,
        record_handler=ingestor.ingest_record,
        processor=processor,
        context=context,
    )


class MetricEventIngestor:
    """Handles the records of one invocation; reads the spoke registry once for all of them."""

    def __init__(
        self,
        store: HubStore,
        *,
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
        self._registry: dict[str, SpokeRecord] | None = None

    def registry(self) -> Mapping[str, SpokeRecord]:
        # Loaded on first use and kept for the invocation: one paginated Query, not one per
        # record. A spoke enrolled a moment ago is seen by the next invocation (SQS retries).
        if self._registry is None:
            self._registry = {spoke.account_id: spoke for spoke in self._store.list_spokes()}
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
            new_datapoints = self._refuse_conflicting_replay(validated, datapoints)
        except EventRejected as refused:
            rejection = sender_checked_first(refused, self.registry())
            self._quarantine(record, rejection, received_at)
            return f"quarantined: {rejection.code.value}"
        written = self._store_event(validated, datapoints, new_datapoints, received_at)
        return f"stored {written} datapoint(s)"

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

    def _refuse_conflicting_replay(
        self, event: ValidatedEvent, datapoints: list[DatapointRecord]
    ) -> list[DatapointRecord]:
        """The datapoints history does not hold yet; EventRejected if it holds one of them with
        another value or unit (same account, region, series and extraction time).

        Read-then-write, not a conditional write: BatchWriteItem has no conditions, and a
        conditional PutItem per datapoint would cost one call per value instead of one per 25.
        Two *different* events for the same key racing between this read and the write can
        still end with the later one stored; only a spoke sending two values for one instant
        can cause that (docs/architecture.md §7, "Hostile events").
        """
        stored = self._store.stored_history(datapoints)
        conflicts = [
            (datapoint, stored[key])
            for datapoint in datapoints
            if (key := (datapoint.series_key, datapoint.history_sort_key)) in stored
            and not stored[key].agrees_with(datapoint)
        ]
        if conflicts:
            shown = "; ".join(
                f"{datapoint.metric_name}{dict(datapoint.dimensions) or ''} = {datapoint.value} "
                f"{datapoint.unit}, stored {value.value} {value.unit}"
                for datapoint, value in conflicts[:5]
            )
            raise EventRejected(
                RejectionCode.CONFLICTING_REPLAY,
                f"{len(conflicts)} datapoint(s) of extraction {event.extraction_date} from "
                f"{event.account_id}/{event.region} differ from stored history ({shown}); "
                "history keeps the first value",
                Claims(event.event_id, event.account_id, event.project_name, event.environment),
            )
        return [
            datapoint
            for datapoint in datapoints
            if (datapoint.series_key, datapoint.history_sort_key) not in stored
        ]

    def _store_event(
        self,
        event: ValidatedEvent,
        datapoints: list[DatapointRecord],
        new_datapoints: list[DatapointRecord],
        received_at: datetime,
    ) -> int:
        # History first: if a later step fails, the redelivered message finds its datapoints
        # stored (and equal), writes only the missing ones, and completes the latest values
        # and freshness.
        written = self._store.put_datapoints(new_datapoints)
        moved_forward = sum(self._store.put_latest(datapoint) for datapoint in datapoints)
        self._store.record_spoke_freshness(
            event.account_id,
            extraction_date=event.extraction_date,
            errors=[
                SpokeErrorEntry(error.metric_name, error.error_code, error.message)
                for error in event.errors
            ],
            seen_at=received_at,
        )
        # Last: a redelivery after a failure here finds the datapoints stored, and the alert
        # state tells it whether the notification still has to go out.
        notifications = self._alerts.evaluate(datapoints) if self._alerts is not None else []
        logger.info(
            "stored metric event",
            extra={
                "event_id": event.event_id,
                "account_id": event.account_id,
                "project": event.project_name,
                "environment": event.environment,
                "schema_version": event.schema_version,
                "datapoints": len(datapoints),
                "history_written": written,
                "latest_moved_forward": moved_forward,
                "errors_reported": len(event.errors),
                "alert_notifications": len(notifications),
            },
        )
        return written

    def _quarantine(
        self, record: SQSRecord, rejection: EventRejected, received_at: datetime
    ) -> None:
        claims = rejection.claims
        self._store.quarantine(
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
