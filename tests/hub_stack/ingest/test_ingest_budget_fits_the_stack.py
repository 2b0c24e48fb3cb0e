"""The ingest's time budget and the hub stack's function timeout agree: one
throttled call fits in the reserve a record is started with, and the reserve leaves room in the
function's timeout for the records before it."""

from __future__ import annotations

from hub_stack.ingest.infrastructure import INGEST_FUNCTION_TIMEOUT
from hub_stack.ingest.runtime.ingest_budget import CALL_TIME_BOUND_SECONDS, RECORD_RESERVE_SECONDS


def test_one_throttled_call_fits_in_the_reserve_and_the_reserve_in_the_timeout() -> None:
    timeout = INGEST_FUNCTION_TIMEOUT.to_seconds()
    assert CALL_TIME_BOUND_SECONDS < RECORD_RESERVE_SECONDS
    # At least half the invocation goes to starting records: a batch of 100 ordinary records
    # takes a few seconds (bench ingest), so none is handed back for lack of time.
    assert RECORD_RESERVE_SECONDS <= timeout / 2
