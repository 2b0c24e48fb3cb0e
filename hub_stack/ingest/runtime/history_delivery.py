"""Ingest's producer of history: validated datapoints to the Firehose delivery stream.

The stream (`contracts.history_table.HISTORY_DELIVERY_STREAM_NAME`, built by
`hub_stack.history_storage`) converts JSON rows to Parquet with the Glue table's schema and writes
them under `history/dt=<delivery day>/` (docs/architecture.md §7, "Hub data plane (issue 10)").

Records are *packed*: the rows (`contracts.history_table.history_row`) of every event of an SQS
batch go into as few records as fit, each at most 1,000 KiB, one JSON document per line. Firehose
bills each record rounded up to 5 KB, so one record per event of 15 datapoints (~5 KB) bills 10 KB,
and a batch of them packed bills barely more than its bytes; record-format conversion reads several
JSON documents concatenated in one record as several rows
(https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html). Records go in
PutRecordBatch calls of at most 500 records and 4 MiB; only the records Firehose reports failed
(`FailedPutCount`, per-record `ErrorCode`) are sent again, pausing on `runtime_common.backoff`'s
schedule (0.1 s doubling to 3 s, 6 attempts), and a record still refused after the retries fails
exactly the SQS messages whose rows it carried (its *owners*), so SQS redelivers those and no
other.
https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError

from runtime_common.backoff import backoff_seconds

# PutRecordBatch limits, and a record's (before base64).
MAX_RECORDS_PER_CALL: Final = 500
MAX_BYTES_PER_CALL: Final = 4 * 1024 * 1024
MAX_RECORD_BYTES: Final = 1000 * 1024
MAX_ATTEMPTS: Final = 6
BACKOFF_BASE_SECONDS: Final = 0.1
BACKOFF_CAP_SECONDS: Final = 3.0


@dataclass
class PackedRecord:
    """One Firehose record: rows of one or more events, and the messages those rows came from."""

    data: bytearray = field(default_factory=bytearray)
    owners: dict[str, None] = field(default_factory=dict)  # insertion-ordered set


def pack_records(events: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> list[PackedRecord]:
    """The rows of `events` ((owner, rows) in arrival order) as few records of at most
    `MAX_RECORD_BYTES` as fit, one JSON document per line; an event's rows may span two records."""
    records: list[PackedRecord] = []
    current = PackedRecord()
    for owner, rows in events:
        for row in rows:
            line = (json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
            if current.data and len(current.data) + len(line) > MAX_RECORD_BYTES:
                records.append(current)
                current = PackedRecord()
            current.data += line
            current.owners[owner] = None
    if current.data:
        records.append(current)
    return records


class HistoryDelivery:
    """Collects the rows of a batch, then delivers them packed, with as few calls as the limits
    let."""

    def __init__(
        self,
        firehose_client: Any,
        stream_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = firehose_client
        self.stream_name = stream_name
        self._sleep = sleep
        self._pending: list[tuple[str, Sequence[Mapping[str, Any]]]] = []

    def add(self, owner: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue an event's rows; `owner` (the SQS message id) names them if delivery fails."""
        if rows:
            self._pending.append((owner, list(rows)))

    def flush(self) -> list[str]:
        """Deliver everything queued; returns the owners of records still refused after every
        attempt (their messages must go back to SQS), in order, without duplicates."""
        pending, self._pending = self._pending, []
        failed: list[str] = []
        for chunk in _chunks(pack_records(pending)):
            try:
                refused = self._deliver_chunk(chunk)
            except ClientError:
                # Refused whole (throttled beyond botocore's retries, stream missing): the
                # chunk's messages go back to SQS; the caller logs which.
                refused = chunk
            failed.extend(owner for record in refused for owner in record.owners)
        return list(dict.fromkeys(failed))

    def _deliver_chunk(self, chunk: list[PackedRecord]) -> list[PackedRecord]:
        remaining = chunk
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                self._sleep(
                    backoff_seconds(
                        attempt, base_seconds=BACKOFF_BASE_SECONDS, cap_seconds=BACKOFF_CAP_SECONDS
                    )
                )
            response = self._client.put_record_batch(
                DeliveryStreamName=self.stream_name,
                Records=[{"Data": bytes(record.data)} for record in remaining],
            )
            if not response.get("FailedPutCount"):
                return []
            answers = response.get("RequestResponses", [])
            remaining = [
                record
                for record, answer in zip(remaining, answers, strict=True)
                if answer.get("ErrorCode")
            ]
            if not remaining:
                return []
        return remaining


def _chunks(records: list[PackedRecord]) -> list[list[PackedRecord]]:
    chunks: list[list[PackedRecord]] = []
    current: list[PackedRecord] = []
    size = 0
    for record in records:
        if current and (
            len(current) == MAX_RECORDS_PER_CALL or size + len(record.data) > MAX_BYTES_PER_CALL
        ):
            chunks.append(current)
            current, size = [], 0
        current.append(record)
        size += len(record.data)
    if current:
        chunks.append(current)
    return chunks
