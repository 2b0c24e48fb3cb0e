"""The resource policy of our dedicated bus: who may PutEvents on it (docs/architecture.md §4, §5).

We own only the statements whose Sid starts with `dsdash-`; any other statement on the bus is
kept exactly as read. The hub admits its spokes either with one statement conditioned on
`aws:PrincipalOrgID` (constant size however many spokes) or with one statement per account; a
spoke admits its hub account(s) with one statement each.

Writing: statements that must go are removed one by one with RemovePermission, then, if anything
is added or changed, the whole policy is written with PutPermission(Policy=...), which replaces
the bus policy in one call. Removing first makes the result identical in AWS and in moto (moto
gap: moto merges a PutPermission policy into the existing statements instead of replacing
them). The projected policy is measured before any write, so a change that would pass the
10,240-character quota is refused with the bus left untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

import contracts
from contracts import BUS_POLICY_MAX_CHARS
from enrollment.connection.runtime.connection_errors import (
    EventBridgeQuotaExceeded,
    EventBusNotFound,
)

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

Statement = dict[str, Any]

STATEMENT_SID_PREFIX = "dsdash-"
ORGANIZATION_STATEMENT_SID = contracts.ORGANIZATION_STATEMENT_ID
ACCOUNT_STATEMENT_SID_PREFIX = contracts.ACCOUNT_STATEMENT_ID_PREFIX
PUT_EVENTS_ACTION = "events:PutEvents"

# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
BUS_POLICY_QUOTA_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"


@dataclass(frozen=True)
class EventBus:
    """Our bus as described by EventBridge, with the parts of its ARN the actions need."""

    name: str
    arn: str
    partition: str
    region: str
    account_id: str
    policy: Mapping[str, Any] | None


@dataclass(frozen=True)
class PolicyChanges:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def describe_bus(events: EventBridgeClient, bus_name: str) -> EventBus:
    try:
        response = events.describe_event_bus(Name=bus_name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise EventBusNotFound(
                f"event bus {bus_name!r} does not exist in this account and region; "
                "deploy the hub or spoke stack first"
            ) from error
        raise
    arn = response["Arn"]
    # arn:<partition>:events:<region>:<account>:event-bus/<name>
    _, partition, _, region, account_id, _ = arn.split(":", 5)
    policy_text = response.get("Policy")
    return EventBus(
        name=response["Name"],
        arn=arn,
        partition=partition,
        region=region,
        account_id=account_id,
        policy=json.loads(policy_text) if policy_text else None,
    )


def account_statement_sid(account_id: str) -> str:
    return f"{ACCOUNT_STATEMENT_SID_PREFIX}{account_id}"


def organization_statement(bus: EventBus, organization_id: str) -> Statement:
    # Principal "*" is safe only together with this condition: it admits exactly the accounts
    # of our organization (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html).
    return {
        "Sid": ORGANIZATION_STATEMENT_SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": PUT_EVENTS_ACTION,
        "Resource": bus.arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
    }


def account_statement(bus: EventBus, account_id: str) -> Statement:
    return {
        "Sid": account_statement_sid(account_id),
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{bus.partition}:iam::{account_id}:root"},
        "Action": PUT_EVENTS_ACTION,
        "Resource": bus.arn,
    }


def _as_sorted_list(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else [value]


def _canonical(statement: Statement) -> Statement:
    """A statement in one spelling, so that the same grant compares equal however IAM or
    CloudFormation wrote it back: a one-item list or a bare string for Action and Resource, an
    account id or its root ARN as principal. Without this, a policy AWS returns reformatted would
    be rewritten (and reported changed) on every EBPut."""
    canonical = dict(statement)
    for key in ("Action", "Resource"):
        if key in canonical:
            canonical[key] = _as_sorted_list(canonical[key])
    principal = canonical.get("Principal")
    if isinstance(principal, dict) and "AWS" in principal:
        # "123456789012" and "arn:aws:iam::123456789012:root" name the same principal.
        canonical["Principal"] = {
            "AWS": sorted(
                str(value).split(":")[4] if str(value).startswith("arn:") else str(value)
                for value in _as_sorted_list(principal["AWS"])
            )
        }
    return canonical


def current_statements(bus: EventBus) -> list[Statement]:
    if bus.policy is None:
        return []
    statements = bus.policy.get("Statement", [])
    # IAM grammar allows a single statement object instead of a list.
    return [statements] if isinstance(statements, dict) else list(statements)


def is_ours(statement: Mapping[str, Any]) -> bool:
    return str(statement.get("Sid", "")).startswith(STATEMENT_SID_PREFIX)


def policy_text(statements: list[Statement]) -> str:
    """The policy as we send it. Its length is the projected size checked against the quota:
    json.dumps' default separators are no shorter than what EventBridge stores, so the check
    errs on the safe side."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def reconcile_statements(
    events: EventBridgeClient,
    bus: EventBus,
    desired: Mapping[str, Statement],
    *,
    purpose: str,
) -> PolicyChanges:
    """Make our statements on `bus` exactly `desired` (by Sid); keep everyone else's.

    `purpose` says in the quota message what the statements are for, e.g. "60 spoke accounts".
    """
    existing = current_statements(bus)
    ours = {str(statement["Sid"]): statement for statement in existing if is_ours(statement)}
    foreign = [statement for statement in existing if not is_ours(statement)]

    added = tuple(sid for sid in sorted(desired) if sid not in ours)
    updated = tuple(
        sid
        for sid in sorted(desired)
        if sid in ours and _canonical(ours[sid]) != _canonical(desired[sid])
    )
    removed = tuple(sid for sid in sorted(ours) if sid not in desired)
    changes = PolicyChanges(added=added, updated=updated, removed=removed)
    if not (added or updated or removed):
        return changes

    new_statements = foreign + [desired[sid] for sid in sorted(desired)]
    new_policy = policy_text(new_statements)
    if (added or updated) and len(new_policy) > BUS_POLICY_MAX_CHARS:
        raise EventBridgeQuotaExceeded(
            f"refusing to write the policy of bus {bus.name!r}: EventBridge allows at most "
            f"{BUS_POLICY_MAX_CHARS:,} characters in an event bus policy, and granting PutEvents "
            f"to {purpose} with {len(desired)} dsdash statement(s) "
            f"(plus {len(foreign)} other statement(s)) needs {len(new_policy):,} characters. "
            "Use the organization mode (one aws:PrincipalOrgID statement of constant size) or "
            f"connect fewer accounts outside the organization. See {BUS_POLICY_QUOTA_DOC}"
        )

    for sid in removed:
        remove_statement(events, bus.name, sid)
    if added or updated:
        events.put_permission(EventBusName=bus.name, Policy=new_policy)
    return changes


def remove_statement(events: EventBridgeClient, bus_name: str, sid: str) -> bool:
    """Remove one statement by Sid; False if it was already gone (a concurrent run, a retry)."""
    try:
        events.remove_permission(EventBusName=bus_name, StatementId=sid)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True
