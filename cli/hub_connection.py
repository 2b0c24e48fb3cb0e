"""Where the operators' console finds the hub, and how it says it cannot.

The hub's account and region come from `config/projects.yaml` (`hub.region`); `--profile`,
`--region` and `--endpoint-url` override what the usual AWS settings would choose, so the same
commands reach a real hub or a sandbox. The table and bus names are fixed contracts
(`contracts.HUB_TABLE_NAME`, `contracts.HUB_BUS_NAME`).

Every AWS failure an operator can cause or fix (hub unreachable, no credentials, unknown profile,
table missing, access denied) becomes a `HubUnavailableError` with one readable line; the
commands print it on stderr and exit 1, never with a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)

import contracts
from config.loader import default_config_path, load_config
from config.model import DsdashConfig
from hub_stack.runtime.store import HubStore

# An operator waits at the terminal: give up on an unreachable hub within seconds instead of the
# eight adaptive attempts (with backoff up to 20 s each) the Lambdas use. Three attempts still
# ride out a throttled call.
# https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
CONSOLE_CLIENT_CONFIG: Final = Config(
    retries={"mode": "adaptive", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
)

# Error codes that mean "these credentials are not accepted", as opposed to a missing resource.
_CREDENTIAL_ERROR_CODES: Final = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
    }
)
_ACCESS_DENIED_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException"})


class HubUnavailableError(Exception):
    """The hub cannot be used from here; the message is one line an operator can act on."""


@dataclass(frozen=True)
class HubOptions:
    """What the command line said about where the hub is (None: use the config and defaults)."""

    config_path: Path | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


class HubSession(boto3.Session):
    """A boto3 session whose clients all talk to one endpoint (a sandbox) with console retries.

    Runtime code (`HubStore`, `emit_refresh`, enrollment) builds its own clients from the
    session it is handed, through `runtime_common.aws.client`. Overriding `client` here is the
    one place that points all of them at `--endpoint-url` and gives them console timeouts,
    without every runtime function growing an endpoint parameter. The console's settings win
    over the caller's config: the caller does not know it runs at a terminal.
    """

    def __init__(self, *, endpoint_url: str | None = None, **session_arguments: Any) -> None:
        super().__init__(**session_arguments)
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url is not None:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        given: Config | None = kwargs.get("config")
        kwargs["config"] = (
            given.merge(CONSOLE_CLIENT_CONFIG) if given is not None else CONSOLE_CLIENT_CONFIG
        )
        return super().client(*args, **kwargs)


def open_session(profile: str | None, region: str, endpoint_url: str | None) -> HubSession:
    """The operator's session. A seam for tests, which hook botocore events on it."""
    try:
        return HubSession(profile_name=profile, region_name=region, endpoint_url=endpoint_url)
    except ProfileNotFound:
        raise HubUnavailableError(
            f"AWS profile {profile!r} is not configured (check --profile, AWS_PROFILE and "
            "~/.aws/config)"
        ) from None


@dataclass(frozen=True)
class HubConnection:
    """An open line to the hub: the config, the session, and the names of its table and bus."""

    config: DsdashConfig
    session: HubSession
    region: str
    endpoint_url: str | None
    table_name: str = contracts.HUB_TABLE_NAME
    bus_name: str = contracts.HUB_BUS_NAME

    def store(self, clock: Callable[[], datetime] | None = None) -> HubStore:
        if clock is None:
            return HubStore(self.table_name, self.session)
        return HubStore(self.table_name, self.session, clock=clock)

    @property
    def refresh_topic_arn(self) -> str | None:
        """The hub refresh topic spokes subscribe to (organization mode); None in per-account
        mode, where the hub bus's fan-out rules carry refreshes."""
        if self.config.hub.bus_policy != "organization":
            return None
        partition = self.session.get_partition_for_region(self.config.hub.region)
        return contracts.refresh_topic_arn(
            partition, self.config.hub.region, self.config.hub.account_id
        )

    def describe(self) -> str:
        """Where the hub is, for messages: `table dsdash-hub-metrics in eu-west-1 (at URL)`."""
        place = f"table {self.table_name} in {self.region}"
        return f"{place} at {self.endpoint_url}" if self.endpoint_url else place


def connect(options: HubOptions) -> HubConnection:
    """Load the config and open a session for the hub it names; no AWS call is made yet.

    Raises config.errors.ConfigError for a bad config file, HubUnavailableError for an unknown
    profile.
    """
    config = load_config(options.config_path or default_config_path())
    region = options.region or config.hub.region
    session = open_session(options.profile, region, options.endpoint_url)
    return HubConnection(
        config=config, session=session, region=region, endpoint_url=options.endpoint_url
    )


@contextmanager
def reporting_hub_errors(connection: HubConnection) -> Iterator[None]:
    """Turn the AWS failures an operator can fix into one-line HubUnavailableError messages.

    Anything else (a bug, an unexpected response) propagates unchanged: hiding it would hide a
    defect, not help the operator.
    """
    try:
        yield
    except BotocoreConnectionError as error:
        raise HubUnavailableError(
            f"cannot reach the hub ({connection.describe()}): {_first_line(error)}"
        ) from None
    except HTTPClientError as error:
        # Read timeouts and broken connections after connecting.
        raise HubUnavailableError(
            f"the connection to the hub broke ({connection.describe()}): {_first_line(error)}"
        ) from None
    except (NoCredentialsError, PartialCredentialsError, TokenRetrievalError) as error:
        raise HubUnavailableError(
            f"no usable AWS credentials ({_first_line(error)}); pass --profile, set "
            "AWS_PROFILE or AWS_ACCESS_KEY_ID, or log in with `aws sso login`"
        ) from None
    except NoRegionError:
        raise HubUnavailableError(
            "no AWS region: set hub.region in the config or pass --region"
        ) from None
    except ClientError as error:
        raise HubUnavailableError(_client_error_message(error, connection)) from None


def _client_error_message(error: ClientError, connection: HubConnection) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = _first_line(details.get("Message", "")) or code
    operation = error.operation_name
    if code == "ResourceNotFoundException":
        return (
            f"the hub {connection.describe()} does not exist ({operation}: {message}); "
            "deploy the hub stack, or check --region/--profile/--endpoint-url"
        )
    if code in _CREDENTIAL_ERROR_CODES:
        return f"AWS did not accept the credentials ({operation}: {code}: {message})"
    if code in _ACCESS_DENIED_CODES:
        return (
            f"access denied to the hub {connection.describe()} ({operation}: {message}); "
            "use a role with read access to the hub table"
        )
    return f"the hub refused {operation} ({connection.describe()}): {code}: {message}"


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
