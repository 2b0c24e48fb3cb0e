"""Connection actions in other orders than enrollment's end in the same state.

Enrollment runs EBPut hub -> EBPut spoke -> EBRule spoke -> EBRule hub, but a retried or swept
enrollment, two enrollments at once, or an offboarding racing an EBRule can interleave them
differently. Whatever the order, once every action has run the buses, policies, rules and targets
must be the ones the canonical order produces. Permutations are chosen deterministically (a fixed
stride through itertools.permutations), each on a fresh moto organization.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from moto import mock_aws
from test_connection_on_moto import HUB, Organization, spoke_account

from enrollment.connection.runtime.connection import (
    connect_forwarding_rules,
    disconnect_account,
    grant_put_events,
)

Action = tuple[str, Callable[[Organization], Any]]
BUS_POLICY_MODES = ("organization", "per-account")


def _connect_actions(spokes: Sequence[str]) -> list[Action]:
    actions: list[Action] = [
        ("EBPut hub", lambda org: grant_put_events(org.hub_session, org.hub_settings)),
        ("EBRule hub", lambda org: connect_forwarding_rules(org.hub_session, org.hub_settings)),
    ]
    for account in spokes:
        actions += [
            (
                f"EBPut {account}",
                lambda org, a=account: grant_put_events(org.session(a), org.spoke_settings(a)),
            ),
            (
                f"EBRule {account}",
                lambda org, a=account: connect_forwarding_rules(
                    org.session(a), org.spoke_settings(a)
                ),
            ),
        ]
    return actions


def _state(organization: Organization, accounts: Sequence[str]) -> dict[str, Any]:
    return {
        "hub": _comparable(organization.hub_snapshot()),
        **{account: _comparable(organization.spoke_snapshot(account)) for account in accounts},
    }


def _comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without the bus's timestamps (each run creates its buses anew), and with the
    policy's statements as a set: their order has no meaning to IAM."""
    bus = {
        key: value
        for key, value in snapshot["bus"].items()
        if key not in ("CreationTime", "LastModifiedTime", "Policy")
    }
    policy = json.loads(snapshot["bus"]["Policy"]) if snapshot["bus"].get("Policy") else {}
    statements = sorted(policy.get("Statement", []), key=json.dumps)
    return {"bus": bus, "statements": statements, "rules": snapshot["rules"]}


def _every_nth(orders: Sequence[Sequence[Action]], count: int) -> list[Sequence[Action]]:
    stride = max(1, len(orders) // count)
    return [*orders[::stride][:count], list(reversed(orders[0]))]


def _canonical_connected(mode: str, spoke_count: int) -> dict[str, Any]:
    with mock_aws():
        organization = Organization(bus_policy_mode=mode)
        spokes = organization.add_spokes(spoke_count)
        organization.connect_all()
        return _state(organization, spokes)


@pytest.mark.slow
@pytest.mark.parametrize("mode", BUS_POLICY_MODES)
def test_connecting_in_any_order_ends_where_enrollments_order_ends(mode: str) -> None:
    expected = _canonical_connected(mode, spoke_count=2)
    spokes = [spoke_account(1), spoke_account(2)]
    orders = list(itertools.permutations(_connect_actions(spokes)))

    for order in _every_nth(orders, 2):
        with mock_aws():
            organization = Organization(bus_policy_mode=mode)
            organization.add_spokes(2)
            for _, action in order:
                action(organization)
            assert _state(organization, spokes) == expected, [name for name, _ in order]


@pytest.mark.slow
@pytest.mark.parametrize("mode", BUS_POLICY_MODES)
def test_offboarding_interleaved_with_a_rerun_ends_as_if_the_spoke_never_came(mode: str) -> None:
    staying, leaving = spoke_account(1), spoke_account(2)
    with mock_aws():
        never_came = Organization(bus_policy_mode=mode)
        never_came.add_spokes(2)
        never_came.forget_spoke(leaving)
        never_came.connect_all()
        expected = _state(never_came, [staying])
        untouched_spoke_bus = _comparable(never_came.spoke_snapshot(leaving))

    offboarding: list[Action] = [
        (
            "Disconnect on the hub",
            lambda org: disconnect_account(org.hub_session, org.hub_settings, leaving),
        ),
        (
            "Disconnect on the spoke",
            lambda org: disconnect_account(org.session(leaving), org.spoke_settings(leaving), HUB),
        ),
        ("EBPut hub", lambda org: grant_put_events(org.hub_session, org.hub_settings)),
        ("EBRule hub", lambda org: connect_forwarding_rules(org.hub_session, org.hub_settings)),
    ]
    for order in _every_nth(list(itertools.permutations(offboarding)), 4):
        with mock_aws():
            organization = Organization(bus_policy_mode=mode)
            organization.add_spokes(2)
            organization.connect_all()
            organization.forget_spoke(leaving)
            for _, action in order:
                action(organization)
            names = [name for name, _ in order]
            assert _state(organization, [staying]) == expected, names
            assert _comparable(organization.spoke_snapshot(leaving)) == untouched_spoke_bus, names
