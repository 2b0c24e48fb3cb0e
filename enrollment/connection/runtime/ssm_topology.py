"""Who our peers are, read from the SSM parameters the enrollment function writes (docs/architecture.md §4).

- In a spoke, `/monitors/<HubName>` holds a hub account id: the spoke sends metrics there.
- In the hub, `/monitored_projects/<Project>/<env>/<AccountId>` holds that spoke's account id.
  The sample's older form `/monitored_projects/<Project>/<env>` (account id as value) is also read.
  We accept a comma-separated list in that form too, because the sample's users who had several
  accounts per stage stored them as an SSM StringList, whose value is exactly such a list.

A parameter we cannot read as account ids is never skipped: `MalformedPeerParameters` names every
one of them, and the action stops before writing, because pruning "gone" peers from an incomplete
list would disconnect a live spoke.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import boto3

from contracts import MONITORED_PROJECTS_PREFIX, MONITORS_PREFIX
from enrollment.connection.runtime.connection_errors import (
    InvalidAccountId,
    MalformedPeerParameters,
)
from runtime_common.aws import client
from runtime_common.identifiers import is_account_id

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


def validate_account_id(value: str, *, what: str = "account id") -> str:
    """Return `value` if it is a 12-digit AWS account id, else raise InvalidAccountId."""
    if not is_account_id(value):
        raise InvalidAccountId(f"{what} {value!r} is not a 12-digit AWS account id")
    return value


@dataclass(frozen=True)
class PeerAccounts:
    """The peer account ids found, sorted, with the parameters that named each one."""

    accounts: tuple[str, ...]
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


def iter_parameters_by_path(ssm: SSMClient, path: str) -> Iterator[tuple[str, str]]:
    """Yield (name, value) of every parameter under `path`, recursively.

    The paginator keeps calling while a NextToken comes back, even after an empty page: SSM
    applies filters and permission checks after reading a page, so an empty page does not mean
    the end (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html).
    """
    paginator = ssm.get_paginator("get_parameters_by_path")
    for page in paginator.paginate(Path=path, Recursive=True, WithDecryption=False):
        for parameter in page.get("Parameters", []):
            yield parameter["Name"], parameter["Value"]


def read_hub_accounts(session: boto3.Session | None) -> PeerAccounts:
    """In a spoke: the hub account ids from `/monitors/<HubName>`."""
    ssm: SSMClient = client(session, "ssm")
    sources: dict[str, list[str]] = {}
    problems: list[str] = []
    for name, value in iter_parameters_by_path(ssm, MONITORS_PREFIX):
        segments = name[len(MONITORS_PREFIX) :].split("/")
        account_id = value.strip()
        if len(segments) != 1:
            problems.append(f"{name}: expected {MONITORS_PREFIX}<HubName>, one level deep")
        elif not is_account_id(account_id):
            problems.append(f"{name}: value {value!r} is not a 12-digit hub account id")
        else:
            sources.setdefault(account_id, []).append(name)
    return _peer_accounts(sources, problems)


def read_spoke_accounts(session: boto3.Session | None) -> PeerAccounts:
    """In the hub: the spoke account ids from `/monitored_projects/...`, both forms."""
    ssm: SSMClient = client(session, "ssm")
    sources: dict[str, list[str]] = {}
    problems: list[str] = []
    for name, value in iter_parameters_by_path(ssm, MONITORED_PROJECTS_PREFIX):
        segments = name[len(MONITORED_PROJECTS_PREFIX) :].split("/")
        if len(segments) == 3:
            account_id = value.strip()
            if account_id != segments[2] or not is_account_id(account_id):
                problems.append(
                    f"{name}: value {value!r} must be the 12-digit account id that ends the name"
                )
                continue
            sources.setdefault(account_id, []).append(name)
        elif len(segments) == 2:
            account_ids = [item.strip() for item in value.split(",")]
            bad = [item for item in account_ids if not is_account_id(item)]
            if bad:
                problems.append(
                    f"{name}: value {value!r} is not a 12-digit account id or a comma-separated "
                    f"list of them (bad: {', '.join(repr(item) for item in bad)})"
                )
                continue
            for account_id in account_ids:
                sources.setdefault(account_id, []).append(name)
        else:
            problems.append(
                f"{name}: expected {MONITORED_PROJECTS_PREFIX}<Project>/<env>/<AccountId> "
                f"or {MONITORED_PROJECTS_PREFIX}<Project>/<env>"
            )
    return _peer_accounts(sources, problems)


def _peer_accounts(sources: dict[str, list[str]], problems: list[str]) -> PeerAccounts:
    if problems:
        raise MalformedPeerParameters(problems)
    return PeerAccounts(
        accounts=tuple(sorted(sources)),
        sources=MappingProxyType({account: tuple(names) for account, names in sources.items()}),
    )
