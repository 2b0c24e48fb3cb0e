"""Client construction for the runtimes: injected sessions, adaptive retries.

Handlers never create clients at import time. They build them from a `boto3.Session` passed in
(tests and the sandbox hand over another account's credentials) or from the default session.
A handler's own clients come from `warm_client`: made on the first invocation of an execution
environment and kept for the next ones, as AWS recommends for Lambda (client creation loads the
service model and builds a method per operation, tens of milliseconds each time).
"""

from __future__ import annotations

import os
from typing import Any, Final, cast

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


# What the default credential chain and region read in a Lambda execution environment. They are
# fixed for the environment's life, so a warm client stays valid; a process that runs several
# functions (the sandbox, tests) gets one client per identity, never another function's.
_IDENTITY_VARIABLES: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    # Never set in Lambda; a process that switches them (tests, tools) gets other clients.
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
)
_WARM_SESSIONS: dict[tuple[str | None, ...], boto3.Session] = {}
_WARM_CLIENTS: dict[tuple[Any, ...], Any] = {}


def _identity() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _IDENTITY_VARIABLES)


def warm_session() -> boto3.Session:
    """The default session of this execution environment, made once per identity."""
    identity = _identity()
    if identity not in _WARM_SESSIONS:
        _WARM_SESSIONS[identity] = boto3.Session()
    return _WARM_SESSIONS[identity]


def warm_client(service_name: str, *, config: Config = ADAPTIVE_RETRIES) -> Any:
    """`client(None, service_name, config=config)`, made once per execution environment (per
    identity) and reused by later invocations."""
    key = (_identity(), service_name, id(config))
    if key not in _WARM_CLIENTS:
        _WARM_CLIENTS[key] = client(warm_session(), service_name, config=config)
    return _WARM_CLIENTS[key]


def start_cold() -> None:
    """Forget the kept sessions and clients, as a new execution environment starts without them.

    Lambda never needs it. A process that watches the calls a handler makes through the sessions
    it creates (`bench.call_counting`) calls it first, so the handler's next clients are made
    where the watcher sees them rather than reused from before it started watching."""
    _WARM_SESSIONS.clear()
    _WARM_CLIENTS.clear()
