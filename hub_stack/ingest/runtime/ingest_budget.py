"""The ingest function's time budget: no record may hold a batch past the function's timeout.

The function runs 60 s with batches of up to 100 records (hub_stack/stack.py). With the default
adaptive retries at 8 attempts, one permanently throttled DynamoDB write held its record for
about 52 s, so a batch with one such record timed out again and again, and every record of it was
redelivered with it. Two bounds stop that (docs/architecture.md §7, "Retry budget"):

- per call: the ingest's DynamoDB client retries in standard mode, 3 attempts in total, with
  short connect and read timeouts. Standard mode sleeps at most 1 s, then 2 s, between attempts
  (`random() * 2 ** (attempt - 1)`, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html),
  so a throttled call gives up within `CALL_RETRY_SLEEP_BOUND_SECONDS` of backoff plus three
  round trips, and its record is reported as a batch item failure for SQS to redeliver later;
- per batch: a record is started only while `RECORD_RESERVE_SECONDS` remain before the timeout;
  the records left are reported as failures untouched, so SQS redelivers them (with their
  receive count raised by one) instead of the invocation timing out with all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botocore.config import Config

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

CALL_MAX_ATTEMPTS: Final = 3
CONNECT_TIMEOUT_SECONDS: Final = 2
READ_TIMEOUT_SECONDS: Final = 5
# Standard mode's backoff before attempt n+1 is at most 2 ** (n - 1) seconds.
CALL_RETRY_SLEEP_BOUND_SECONDS: Final = float(sum(2**n for n in range(CALL_MAX_ATTEMPTS - 1)))
# Worst case of one call: its sleeps plus every attempt running into both timeouts.
CALL_TIME_BOUND_SECONDS: Final = CALL_RETRY_SLEEP_BOUND_SECONDS + CALL_MAX_ATTEMPTS * (
    CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
)
# A record is started only with this much time left: one call's worst case, plus the ordinary
# work of a large event (one conditional write per datapoint).
RECORD_RESERVE_SECONDS: Final = 30.0

INGEST_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": CALL_MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)


class TimeBudgetExhausted(Exception):
    """Too little of the invocation is left to start this record; SQS will redeliver it."""


class BatchDeadline:
    """Whether another record may start, from the Lambda context's remaining time."""

    def __init__(
        self, context: LambdaContext | None, reserve_seconds: float = RECORD_RESERVE_SECONDS
    ) -> None:
        self._context = context
        self._reserve_seconds = reserve_seconds

    def remaining_seconds(self) -> float | None:
        """Seconds left in the invocation; None without a Lambda context (tests, tools)."""
        if self._context is None:
            return None
        return self._context.get_remaining_time_in_millis() / 1000

    def check_room_for_a_record(self, message_id: str) -> None:
        remaining = self.remaining_seconds()
        if remaining is not None and remaining < self._reserve_seconds:
            raise TimeBudgetExhausted(
                f"message {message_id} not started: {remaining:.1f} s left in the invocation, "
                f"{self._reserve_seconds:.0f} s are kept for one record"
            )
