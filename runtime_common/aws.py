"""Client construction for the runtimes: injected sessions, adaptive retries.

Handlers never create clients at import time. They build them from a `boto3.Session` passed in
(tests and the sandbox hand over another account's credentials) or from the default session.
"""

from __future__ import annotations

from typing import Any, cast

import boto3
from botocore.config import Config

# Adaptive mode adds client-side rate limiting on throttling errors, which matters when hundreds
# of spokes refresh at once (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
ADAPTIVE_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})


def session_or_default(session: boto3.Session | None) -> boto3.Session:
    return session if session is not None else boto3.Session()


def client(
    session: boto3.Session | None,
    service_name: str,
    region_name: str | None = None,
    *,
    config: Config = ADAPTIVE_RETRIES,
) -> Any:
    """A client with adaptive retries (or `config`, for a caller with a time budget). Returns Any
    so callers may annotate with mypy_boto3 types."""
    # The boto3 stubs only type literal service names; callers annotate the concrete client.
    return cast(Any, session_or_default(session)).client(
        service_name, region_name=region_name, config=config
    )
