"""Publish EventBridge events: batched, size-checked, and retried entry by entry.

`PutEvents` is not all-or-nothing. A call can succeed while some of its entries fail; the response
then carries `FailedEntryCount` and, in the failed entries' positions, an `ErrorCode` instead of an
`EventId` (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html). botocore's
retry modes only see whole-call errors, so this module checks every entry and resends only the ones
that failed with a retryable code, with exponential backoff and full jitter
(https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).

Batches hold at most 10 entries, and their entries add up to at most 256 KB. The user guide states
the limit as "the total entry size must be less than 256KB" for a batched request, and AWS's own
Kafka connector batches by that total (aws/eventbridge-kafka-connector#72), so we do too. An entry
that alone exceeds 256 KB is refused before any call is made.

Used by the spoke extractor, the hub's refresh function and the sandbox; it knows nothing of
dsdash's event contents.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from contracts import PUT_EVENTS_MAX_ENTRIES, PUT_EVENTS_MAX_ENTRY_BYTES
from runtime_common.backoff import backoff_seconds

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html lists
# these as non-retryable: sending them again cannot succeed. Any other code (InternalFailure,
# ThrottlingException, or one AWS adds later) is treated as transient and retried.
NON_RETRYABLE_ERROR_CODES = frozenset(
    {
        "AccessDeniedException",
        "InvalidAccountIdException",
        "InvalidArgument",
        "MalformedDetail",
        "RedactionFailure",
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeException",
    }
)

# The Time parameter counts as 14 bytes whatever its value (eb-putevent-size.html).
_TIME_PARAMETER_BYTES = 14

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BASE_DELAY_SECONDS = 0.1
DEFAULT_MAX_DELAY_SECONDS = 5.0


class PutEventsError(Exception):
    """Base class of this module's errors."""


class EntryTooLargeError(PutEventsError, ValueError):
    """An entry exceeds the PutEvents entry size limit; it was not sent (nor was any other)."""

    def __init__(self, index: int, size: int, limit: int) -> None:
        self.index = index
        self.size = size
        self.limit = limit
        super().__init__(
            f"PutEvents entry #{index} is {size} bytes, over the {limit}-byte entry limit "
            "(Source + DetailType + Detail + Resources in UTF-8, plus 14 bytes for Time); "
            "nothing was sent. Split its Detail into several events."
        )


@dataclass(frozen=True)
class FailedEntry:
    """An entry EventBridge did not accept, with the error code of its last attempt."""

    index: int  # position in the caller's `entries`
    entry: Mapping[str, Any]
    error_code: str
    error_message: str


@dataclass(frozen=True)
class PutEventsReport:
    """What happened to a `put_events` call's entries."""

    event_ids: tuple[str | None, ...]  # per input entry, None where it failed
    failed: tuple[FailedEntry, ...]
    calls: int  # PutEvents requests made, retries included
    attempts: int  # rounds of sending (1 when nothing needed a retry)

    @property
    def sent(self) -> int:
        return sum(1 for event_id in self.event_ids if event_id is not None)


class PutEventsFailed(PutEventsError):
    """Some entries still failed after the retries; `report` says which, and why."""

    def __init__(self, report: PutEventsReport) -> None:
        self.report = report
        self.failures = report.failed
        codes = sorted({failure.error_code for failure in report.failed})
        first = report.failed[0]
        super().__init__(
            f"{len(report.failed)} of {len(report.event_ids)} PutEvents entries failed after "
            f"{report.attempts} attempt(s) (error codes: {', '.join(codes)}); first: entry "
            f"#{first.index}: {first.error_code}: {first.error_message}"
        )


def entry_size(entry: Mapping[str, Any]) -> int:
    """The size EventBridge counts against the entry limit, computed the way AWS documents it
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html)."""
    size = _TIME_PARAMETER_BYTES if entry.get("Time") is not None else 0
    size += _utf8_length(entry.get("Source"))
    size += _utf8_length(entry.get("DetailType"))
    size += _utf8_length(entry.get("Detail"))
    size += sum(_utf8_length(resource) for resource in entry.get("Resources") or ())
    return size


def _utf8_length(value: str | None) -> int:
    return len(value.encode("utf-8")) if value is not None else 0


def put_events(
    client: EventBridgeClient,
    entries: Sequence[Mapping[str, Any]],
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    base_delay_seconds: float = DEFAULT_BASE_DELAY_SECONDS,
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
    raise_on_failure: bool = True,
) -> PutEventsReport:
    """Send `entries` (PutEventsRequestEntry dicts) and return what happened to each.

    Entries failing with a retryable code are resent, alone, up to `max_attempts` rounds in
    total. A whole-request ClientError (botocore has already retried throttling on it) fails
    that batch's entries with the error's code. Raises EntryTooLargeError before any call if an
    entry is over the limit, and PutEventsFailed at the end if any entry was not accepted
    (unless `raise_on_failure` is False, for callers that inspect the report themselves).
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    sizes = [entry_size(entry) for entry in entries]
    for index, size in enumerate(sizes):
        if size > PUT_EVENTS_MAX_ENTRY_BYTES:
            raise EntryTooLargeError(index, size, PUT_EVENTS_MAX_ENTRY_BYTES)

    event_ids: list[str | None] = [None] * len(entries)
    final_failures: dict[int, FailedEntry] = {}
    pending = list(range(len(entries)))
    calls = 0
    attempts = 0
    while pending and attempts < max_attempts:
        if attempts:
            sleep(
                backoff_seconds(
                    attempts,
                    base_seconds=base_delay_seconds,
                    cap_seconds=max_delay_seconds,
                    jitter=jitter,
                )
            )
        attempts += 1
        retry: list[int] = []
        for batch in _batches(pending, sizes):
            calls += 1
            for index, outcome in zip(
                batch, _send(client, [entries[i] for i in batch]), strict=True
            ):
                if isinstance(outcome, str):
                    event_ids[index] = outcome
                    final_failures.pop(index, None)
                    continue
                error_code, error_message = outcome
                final_failures[index] = FailedEntry(
                    index, entries[index], error_code, error_message
                )
                if error_code not in NON_RETRYABLE_ERROR_CODES:
                    retry.append(index)
        pending = retry

    report = PutEventsReport(
        event_ids=tuple(event_ids),
        failed=tuple(final_failures[index] for index in sorted(final_failures)),
        calls=calls,
        attempts=attempts,
    )
    if report.failed and raise_on_failure:
        raise PutEventsFailed(report)
    return report


def _batches(indexes: Sequence[int], sizes: Sequence[int]) -> Iterator[list[int]]:
    """Consecutive runs of at most 10 entries whose sizes add up to at most 256 KB."""
    batch: list[int] = []
    batch_bytes = 0
    for index in indexes:
        full = len(batch) == PUT_EVENTS_MAX_ENTRIES
        if batch and (full or batch_bytes + sizes[index] > PUT_EVENTS_MAX_ENTRY_BYTES):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(index)
        batch_bytes += sizes[index]
    if batch:
        yield batch


def _send(
    client: EventBridgeClient, batch: Sequence[Mapping[str, Any]]
) -> list[str | tuple[str, str]]:
    """One PutEvents call: per entry, its EventId, or (ErrorCode, ErrorMessage)."""
    try:
        request = cast("list[PutEventsRequestEntryTypeDef]", [dict(entry) for entry in batch])
        response = client.put_events(Entries=request)
    except ClientError as error:
        details = error.response.get("Error", {})
        failure = (details.get("Code", "Unknown"), details.get("Message", str(error)))
        return [failure] * len(batch)
    results = response["Entries"]
    if len(results) != len(batch):
        # The API promises one result per request entry, in order; without that we cannot
        # tell which entries to resend.
        raise PutEventsError(
            f"PutEvents returned {len(results)} result entries for {len(batch)} request entries"
        )
    outcomes: list[str | tuple[str, str]] = []
    for result in results:
        event_id = result.get("EventId")
        if event_id and not result.get("ErrorCode"):
            outcomes.append(event_id)
        else:
            outcomes.append((result.get("ErrorCode", "Unknown"), result.get("ErrorMessage", "")))
    return outcomes
