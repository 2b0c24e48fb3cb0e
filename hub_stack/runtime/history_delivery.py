"""Ingest's producer of history: validated datapoints to the Firehose delivery stream.

The stream (`contracts.history_table.HISTORY_DELIVERY_STREAM_NAME`, built by
`hub_stack.history_storage`) converts JSON rows to Parquet with the Glue table's schema and writes
them under `history/dt=<delivery day>/` (docs/architecture.md §7, "Hub data plane (issue 10)").

One Firehose record per *event*: its rows (`contracts.history_table.history_row`), one JSON object
per line. Firehose bills each record rounded up to 5 KB, so one record per datapoint would bill 15
x 5 KB for an event that fits one; record-format conversion accepts several JSON documents in one
record (https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html). The
records of a whole SQS batch go in PutRecordBatch calls of at most 500 records and 4 MiB; only the
records Firehose reports failed (`FailedPutCount`, per-record `ErrorCode`) are sent again.
https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from botocore.exceptions import ClientError

# PutRecordBatch limits, and a record's (before base64).
MAX_RECORDS_PER_CALL: Final = 500
MAX_BYTES_PER_CALL: Final = 4 * 1024 * 1024
MAX_RECORD_BYTES: Final = 1000 * 1024
MAX_ATTEMPTS: Final = 6
BACKOFF_BASE_SECONDS: Final = 0.1
BACKOFF_CAP_SECONDS: Final = 3.0


def event_records(rows: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """An event's rows as Firehose records: one record (newline-delimited JSON) per ~1000 KiB.
    An event of 15 datapoints is ~4 KB: one record."""
    records: list[bytes] = []
    current = b""
    for row in rows:
        line = (json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        if current and len(current) + len(line) > MAX_RECORD_BYTES:
            records.append(current)
            current = b""
        current += line
    if current:
        records.append(current)
    return records


class HistoryDelivery:
    """Collects the records of a batch, then delivers them with as few calls as the limits let."""

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
        self._pending: list[tuple[str, bytes]] = []

    def add(self, owner: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue an event's rows; `owner` (the SQS message id) names them if delivery fails."""
        self._pending.extend((owner, record) for record in event_records(rows))

    def flush(self) -> list[str]:
        """Deliver everything queued; returns the owners of records still refused after every
        attempt (their messages must go back to SQS), in order, without duplicates."""
        pending, self._pending = self._pending, []
        failed: list[str] = []
        for chunk in _chunks(pending):
            try:
                failed.extend(self._deliver_chunk(chunk))
            except ClientError:
                # Refused whole (throttled beyond botocore's retries, stream missing): the
                # chunk's messages go back to SQS; the caller logs which.
                failed.extend(owner for owner, _ in chunk)
        return list(dict.fromkeys(failed))

    def _deliver_chunk(self, chunk: list[tuple[str, bytes]]) -> list[str]:
        remaining = chunk
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                self._sleep(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
            response = self._client.put_record_batch(
                DeliveryStreamName=self.stream_name,
                Records=[{"Data": data} for _, data in remaining],
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
        return [owner for owner, _ in remaining]


def _chunks(records: list[tuple[str, bytes]]) -> list[list[tuple[str, bytes]]]:
    chunks: list[list[tuple[str, bytes]]] = []
    current: list[tuple[str, bytes]] = []
    size = 0
    for record in records:
        if current and (
            len(current) == MAX_RECORDS_PER_CALL or size + len(record[1]) > MAX_BYTES_PER_CALL
        ):
            chunks.append(current)
            current, size = [], 0
        current.append(record)
        size += len(record[1])
    if current:
        chunks.append(current)
    return chunks
