"""Evaluation of EventBridge bus resource policies for cross-account delivery.

moto gap (docs/architecture.md §6): moto stores bus policies but never enforces them, so a forgotten EBPut
would go unnoticed. The sandbox evaluates the receiving bus's policy for `events:PutEvents` by the
sending account, covering the statement shapes EventBridge documents for cross-account delivery
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html): an account
principal (`"123456789012"` or its root ARN) and `"*"` restricted by `aws:PrincipalOrgID`.
Anything else (Deny statements, other conditions) is treated conservatively: a Deny that names
the sender wins, and an Allow with a condition we do not evaluate does not grant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

PUT_EVENTS_ACTIONS = frozenset({"events:PutEvents", "events:*", "*"})


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_accounts(principal: Any) -> tuple[bool, set[str]]:
    """Return (is_wildcard, named account ids) of a statement's Principal."""
    if principal == "*":
        return True, set()
    accounts: set[str] = set()
    wildcard = False
    if isinstance(principal, dict):
        for value in _as_list(principal.get("AWS")):
            account = (
                value.split(":")[4]
                if isinstance(value, str) and value.startswith("arn:")
                else value
            )
            # moto stores PutPermission's Principal "*" as "arn:aws:iam::*:root".
            if account == "*":
                wildcard = True
            elif isinstance(account, str):
                accounts.add(account)
    return wildcard, accounts


def _condition_satisfied(condition: Any, sender_org_id: str | None) -> bool | None:
    """True/False when we can evaluate the condition, None when it has operators we do not."""
    if not condition:
        return True
    satisfied = True
    for operator, clauses in condition.items():
        if operator != "StringEquals" or not isinstance(clauses, dict):
            return None
        for key, expected in clauses.items():
            if key.lower() != "aws:principalorgid":
                return None
            satisfied = (
                satisfied and sender_org_id is not None and sender_org_id in _as_list(expected)
            )
    return satisfied


def _statement_applies(
    statement: dict[str, Any], sender_account: str, sender_org_id: str | None
) -> bool:
    actions = set(_as_list(statement.get("Action")))
    if not actions & PUT_EVENTS_ACTIONS:
        return False
    wildcard, accounts = _principal_accounts(statement.get("Principal"))
    if not wildcard and sender_account not in accounts:
        return False
    return _condition_satisfied(statement.get("Condition"), sender_org_id) is True


def permits_put_events(
    policy_document: str | None, sender_account: str, sender_org_id: str | None
) -> bool:
    """Whether a bus with this policy accepts events from `sender_account`."""
    if not policy_document:
        return False
    statements: Iterable[dict[str, Any]] = _as_list(json.loads(policy_document).get("Statement"))
    allowed = False
    for statement in statements:
        if not _statement_applies(statement, sender_account, sender_org_id):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed
