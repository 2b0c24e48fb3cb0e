"""The one backoff schedule for what botocore's retry modes cannot retry.

botocore retries whole-call errors (throttling, 5xx) itself: clients get `Config(retries=...)` in
`runtime_common.aws`. A *successful* response can still leave work undone, which botocore never
retries: PutEvents' failed entries (FailedEntryCount), BatchWriteItem's UnprocessedItems,
BatchGetItem's UnprocessedKeys. Their callers resend only what failed, pausing by this schedule:
capped exponential, optionally with full jitter
(https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).
"""

from __future__ import annotations

from collections.abc import Callable


def backoff_seconds(
    retry_number: int,
    *,
    base_seconds: float,
    cap_seconds: float,
    jitter: Callable[[], float] | None = None,
) -> float:
    """The pause before retry `retry_number` (1 for the first retry): `base * 2**(n - 1)`,
    capped at `cap_seconds`; with `jitter` (a uniform [0, 1) draw), a uniform share of it."""
    if retry_number < 1:
        raise ValueError(f"retry_number counts from 1, got {retry_number}")
    ceiling = min(cap_seconds, base_seconds * 2.0 ** (retry_number - 1))
    return ceiling * jitter() if jitter is not None else ceiling
