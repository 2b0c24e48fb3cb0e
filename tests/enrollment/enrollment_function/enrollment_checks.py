"""What the enrollment tests ask of a simulated organization: enroll an account as its stack
instance event would, and read back whether the hub admits a spoke and the spoke forwards to it."""

from __future__ import annotations

from typing import Any

from enrollment_support import REGION, SimulatedOrganization

from contracts import HUB_BUS_NAME, SPOKE_BUS_NAME
from enrollment.enrollment_function.runtime.handler import handler


def enroll(org: SimulatedOrganization, account_id: str) -> dict[str, Any]:
    return handler(
        org.stack_instance_event(account_id), None, session=org.management, sleep=org.sleeps.append
    )


def hub_bus_arn(org: SimulatedOrganization) -> str:
    return f"arn:aws:events:{REGION}:{org.hub_account_id}:event-bus/{HUB_BUS_NAME}"


def spoke_bus_arn(account_id: str) -> str:
    return f"arn:aws:events:{REGION}:{account_id}:event-bus/{SPOKE_BUS_NAME}"


def admits(org: SimulatedOrganization, account_id: str) -> bool:
    """Whether the hub bus policy lets `account_id` PutEvents, in either policy mode."""
    for statement in org.bus(org.hub, HUB_BUS_NAME)["Statements"]:
        condition = statement.get("Condition", {}).get("StringEquals", {})
        if statement["Principal"] == "*" and condition == {
            "aws:PrincipalOrgID": org.organization_id
        }:
            return True
        if statement["Principal"] == {"AWS": f"arn:aws:iam::{account_id}:root"}:
            return True
    return False


def forwards_to_hub(org: SimulatedOrganization, account_id: str) -> bool:
    rules = org.bus(org.session(account_id), SPOKE_BUS_NAME)["Rules"]
    return any(
        target["Arn"] == hub_bus_arn(org) and target.get("RoleArn")
        for rule in rules.values()
        for target in rule["Targets"]
    )


def fanned_out_to(org: SimulatedOrganization) -> set[str]:
    return {target["Arn"] for target in org.hub_targets()}
