"""The connection actions at scale (60 spokes, the bus-policy and rules-per-bus quotas, the hub's
cost whatever the number of spokes), each account in its own moto account.

moto gap: moto stores bus policies but does not enforce them on put_events (docs/architecture.md §6), so
these tests assert the configuration (policies, rules, targets), not delivery.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from connection_world import (
    HUB,
    HUB_BUS_ARN,
    HUB_FORWARDER_ROLE,
    ORGANIZATION_ID,
    OTHER_REGION,
    REGION,
    Organization,
    fanout_rules,
    fanout_target_arns,
    spoke_account,
    spoke_bus,
    statements,
)

from contracts import BUS_POLICY_MAX_CHARS, HUB_BUS_NAME, MAX_TARGETS_PER_RULE
from enrollment.connection.runtime.connection import (
    connect_forwarding_rules,
    disconnect_account,
    grant_put_events,
)
from enrollment.connection.runtime.connection_errors import (
    EventBridgeQuotaExceeded,
)


@pytest.mark.slow
def test_sixty_spokes_connect_with_a_constant_size_org_policy_and_packed_fanout(aws: None) -> None:
    organization = Organization()
    organization.add_spokes(1)
    organization.connect_all()
    policy_with_one_spoke = organization.hub_snapshot()["bus"]["Policy"]

    organization.add_spokes(59)
    organization.connect_all()
    hub = organization.hub_snapshot()

    # The hub policy: one org-conditioned statement, the same size as with one spoke.
    assert len(hub["bus"]["Policy"]) == len(policy_with_one_spoke)
    [statement] = statements(hub)
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}}
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == HUB_BUS_ARN

    # The fan-out: ceil(60 / 5) rules, none over 5 targets, every spoke bus exactly once.
    rules = fanout_rules(hub)
    assert len(rules) == math.ceil(60 / MAX_TARGETS_PER_RULE) == 12
    assert all(len(rule["targets"]) <= MAX_TARGETS_PER_RULE for rule in rules.values())
    assert all(
        target["RoleArn"] == HUB_FORWARDER_ROLE
        for rule in rules.values()
        for target in rule["targets"]
    )
    assert fanout_target_arns(hub) == sorted(spoke_bus(account) for account in organization.spokes)
    for rule in rules.values():
        pattern = json.loads(rule["rule"]["EventPattern"])
        assert pattern["source"] == ["metric_fetch"]
        assert pattern["account"] == [HUB]

    # Each spoke forwards its own metric events to the hub bus, and admits the hub.
    for account in organization.spokes:
        spoke = organization.spoke_snapshot(account)
        forward = spoke["rules"][f"dsdash-forward-metrics-to-{HUB}"]
        pattern = json.loads(forward["rule"]["EventPattern"])
        assert pattern["source"] == ["metric_extractor"]
        assert pattern["account"] == [account]
        [target] = forward["targets"]
        assert target["Arn"] == HUB_BUS_ARN
        assert target["RoleArn"] == organization.spoke_settings(account).forwarder_role_arn
        [admission] = statements(spoke)
        assert admission["Principal"] == {"AWS": f"arn:aws:iam::{HUB}:root"}


@pytest.mark.slow
@pytest.mark.parametrize("bus_policy_mode", ["organization", "per-account"])
def test_connecting_twice_changes_nothing(aws: None, bus_policy_mode: str) -> None:
    organization = Organization(
        bus_policy_mode=bus_policy_mode, spoke_regions=(REGION, OTHER_REGION)
    )
    organization.add_spokes(12)
    first = organization.connect_all()
    assert all(report.changed for report in first)
    before = {
        "hub": organization.hub_snapshot(),
        **{
            f"{account}/{region}": organization.spoke_snapshot(account, region)
            for account, region in organization.spoke_units()
        },
    }

    second = organization.connect_all()

    assert [report for report in second if report.changed] == []
    after = {
        "hub": organization.hub_snapshot(),
        **{
            f"{account}/{region}": organization.spoke_snapshot(account, region)
            for account, region in organization.spoke_units()
        },
    }
    assert after == before


@pytest.mark.slow
def test_disconnect_of_one_spoke_leaves_the_other_59_intact(aws: None) -> None:
    organization = Organization()
    organization.add_spokes(60)
    organization.connect_all()
    leaving = spoke_account(17)
    hub_before = organization.hub_snapshot()
    spokes_before = {
        account: organization.spoke_snapshot(account) for account in organization.spokes
    }

    organization.forget_spoke(leaving)
    hub_report = disconnect_account(organization.hub_session, organization.hub_settings, leaving)
    spoke_report = disconnect_account(
        organization.session(leaving), organization.spoke_settings(leaving), HUB
    )

    hub_after = organization.hub_snapshot()
    assert [target.split("/")[1] for target in hub_report.targets_removed] == [
        f"spoke-{leaving}-{REGION}"
    ]
    assert fanout_target_arns(hub_after) == sorted(
        arn for arn in fanout_target_arns(hub_before) if arn != spoke_bus(leaving)
    )
    # Every other spoke bus stays in the rule it was in.
    for name, rule in fanout_rules(hub_before).items():
        assert fanout_rules(hub_after)[name]["targets"] == [
            target for target in rule["targets"] if target["Arn"] != spoke_bus(leaving)
        ]
    assert hub_after["bus"]["Policy"] == hub_before["bus"]["Policy"]

    # The leaving spoke no longer forwards to or admits the hub; the others are untouched.
    assert spoke_report.rules_deleted == (f"dsdash-forward-metrics-to-{HUB}",)
    assert organization.spoke_snapshot(leaving)["rules"] == {}
    assert statements(organization.spoke_snapshot(leaving)) == []
    for account in organization.spokes:
        assert organization.spoke_snapshot(account) == spokes_before[account]

    # Disconnect is idempotent, and the next EBRule needs no repacking for a single gap.
    assert not disconnect_account(
        organization.hub_session, organization.hub_settings, leaving
    ).changed
    assert not connect_forwarding_rules(organization.hub_session, organization.hub_settings).changed


def test_per_account_mode_refuses_before_the_policy_passes_the_quota(aws: None) -> None:
    organization = Organization(bus_policy_mode="per-account")
    organization.add_spokes(40)
    organization.connect_all()
    before = organization.hub_snapshot()
    assert len(before["bus"]["Policy"]) < BUS_POLICY_MAX_CHARS

    organization.add_spokes(20)
    with pytest.raises(EventBridgeQuotaExceeded) as refusal:
        grant_put_events(organization.hub_session, organization.hub_settings)

    message = str(refusal.value)
    assert "10,240 characters" in message
    assert "60 spoke account(s)" in message
    needed = int(re.search(r"needs ([\d,]+) characters", message).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert needed > BUS_POLICY_MAX_CHARS
    # Nothing was written: the 40 statements are still exactly as before.
    assert organization.hub_snapshot() == before


def test_fanout_refuses_before_passing_the_rules_per_bus_quota(aws: None) -> None:
    organization = Organization()
    hub_events = organization.hub_session.client("events")
    # More than one ListRules page (moto pages at 50), so only full pagination sees them all.
    for number in range(295):
        hub_events.put_rule(
            Name=f"team-rule-{number:03d}",
            EventBusName=HUB_BUS_NAME,
            EventPattern=json.dumps({"source": ["team"]}),
        )
    organization.add_spokes(60)
    grant_put_events(organization.hub_session, organization.hub_settings)

    with pytest.raises(EventBridgeQuotaExceeded) as refusal:
        connect_forwarding_rules(organization.hub_session, organization.hub_settings)

    message = str(refusal.value)
    assert "300 rules per event bus" in message
    assert "needs 12 dsdash rule(s), 307 rules in total" in message
    assert fanout_rules(organization.hub_snapshot()) == {}


def test_organization_mode_hub_ebput_costs_the_same_whatever_the_number_of_spokes(
    aws: None,
) -> None:
    organization = Organization()
    organization.add_spokes(23)
    calls: list[str] = []
    organization.hub_session.events.register(
        "before-call.*.*", lambda model, **_: calls.append(model.name)
    )

    first = grant_put_events(organization.hub_session, organization.hub_settings)
    calls_with_23 = list(calls)
    organization.add_spokes(40)
    calls.clear()
    second = grant_put_events(organization.hub_session, organization.hub_settings)

    # One statement names the organization; no spoke parameter is read, so 63 spokes cost
    # what 23 did, and the second run changes nothing.
    assert "GetParametersByPath" not in calls_with_23
    assert calls == ["DescribeEventBus"]
    assert first.statements_added == ("dsdash-organization",)
    assert [statement["Sid"] for statement in statements(organization.hub_snapshot())] == [
        "dsdash-organization"
    ]
    assert not second.changed
