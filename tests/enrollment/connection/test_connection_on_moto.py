"""The connection actions across a hub and many spokes, each in its own moto account.

Accounts are reached the way the enrollment function reaches them: STS AssumeRole, then a session
built from the returned credentials (moto scopes every call to that account).

moto gap: moto stores bus policies but does not enforce them on put_events (docs/architecture.md §6), so
these tests assert the configuration (policies, rules, targets), not delivery.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from connection_world import (
    HUB,
    OTHER_REGION,
    REGION,
    Organization,
    fanout_rules,
    fanout_target_arns,
    spoke_account,
    spoke_bus,
    statements,
)

from contracts import HUB_BUS_NAME, MAX_TARGETS_PER_RULE
from enrollment.connection.runtime.connection import (
    connect_forwarding_rules,
    disconnect_account,
    grant_put_events,
)
from enrollment.connection.runtime.connection_errors import (
    MalformedPeerParameters,
)


def test_fanout_covers_every_spoke_region(aws: None) -> None:
    organization = Organization(spoke_regions=(REGION, OTHER_REGION))
    organization.add_spokes(7)
    organization.connect_all()

    hub = organization.hub_snapshot()
    assert len(fanout_rules(hub)) == math.ceil(7 * 2 / MAX_TARGETS_PER_RULE)
    assert fanout_target_arns(hub) == sorted(
        spoke_bus(account, region)
        for account in organization.spokes
        for region in (REGION, OTHER_REGION)
    )
    assert (
        OTHER_REGION
        in organization.spoke_snapshot(spoke_account(1), OTHER_REGION)["rules"][
            f"dsdash-forward-metrics-to-{HUB}"
        ]["rule"]["Arn"]
    )


def test_ebrule_repacks_gaps_and_deletes_surplus_fanout_rules(aws: None) -> None:
    organization = Organization()
    organization.add_spokes(12)
    organization.connect_all()
    assert len(fanout_rules(organization.hub_snapshot())) == 3

    for number in (2, 4, 6):
        account = spoke_account(number)
        organization.forget_spoke(account)
        disconnect_account(organization.hub_session, organization.hub_settings, account)

    report = connect_forwarding_rules(organization.hub_session, organization.hub_settings)

    hub = organization.hub_snapshot()
    assert report.rules_deleted == ("dsdash-refresh-fanout-002",)
    assert len(fanout_rules(hub)) == math.ceil(9 / MAX_TARGETS_PER_RULE)
    assert fanout_target_arns(hub) == sorted(spoke_bus(account) for account in organization.spokes)


def test_per_account_mode_grants_and_revokes_one_statement_per_spoke(aws: None) -> None:
    organization = Organization(bus_policy_mode="per-account")
    organization.hub_session.client("events").put_permission(
        EventBusName=HUB_BUS_NAME,
        StatementId="partner-audit",
        Principal="999999999999",
        Action="events:PutEvents",
    )
    organization.add_spokes(12)
    organization.connect_all()
    leaving, gone = spoke_account(3), spoke_account(8)

    sids = sorted(statement["Sid"] for statement in statements(organization.hub_snapshot()))
    assert sids == sorted(
        ["partner-audit"] + [f"dsdash-account-{account}" for account in organization.spokes]
    )

    organization.forget_spoke(leaving)
    report = disconnect_account(organization.hub_session, organization.hub_settings, leaving)
    assert report.statements_removed == (f"dsdash-account-{leaving}",)

    # A spoke whose parameter is gone is pruned by the next EBPut/EBRule, without Disconnect.
    organization.forget_spoke(gone)
    assert grant_put_events(
        organization.hub_session, organization.hub_settings
    ).statements_removed == (f"dsdash-account-{gone}",)
    connect_forwarding_rules(organization.hub_session, organization.hub_settings)

    hub = organization.hub_snapshot()
    assert sorted(statement["Sid"] for statement in statements(hub)) == sorted(
        ["partner-audit"] + [f"dsdash-account-{account}" for account in organization.spokes]
    )
    assert fanout_target_arns(hub) == sorted(spoke_bus(account) for account in organization.spokes)


def test_switching_to_organization_mode_replaces_per_account_statements(aws: None) -> None:
    organization = Organization(bus_policy_mode="per-account")
    organization.hub_session.client("events").put_permission(
        EventBusName=HUB_BUS_NAME,
        StatementId="partner-audit",
        Principal="999999999999",
        Action="events:PutEvents",
    )
    organization.add_spokes(3)
    grant_put_events(organization.hub_session, organization.hub_settings)

    organization.hub_settings = dataclasses.replace(
        organization.hub_settings, bus_policy_mode="organization"
    )
    report = grant_put_events(organization.hub_session, organization.hub_settings)

    assert report.statements_added == ("dsdash-organization",)
    assert len(report.statements_removed) == 3
    assert sorted(s["Sid"] for s in statements(organization.hub_snapshot())) == [
        "dsdash-organization",
        "partner-audit",
    ]


def test_sample_form_parameters_are_read(aws: None) -> None:
    organization = Organization()
    ssm = organization.hub_session.client("ssm")
    ssm.put_parameter(Name="/monitored_projects/Legacy/prod", Value="200000000901", Type="String")
    ssm.put_parameter(
        Name="/monitored_projects/Legacy/int", Value="200000000902, 200000000903", Type="StringList"
    )

    report = connect_forwarding_rules(organization.hub_session, organization.hub_settings)

    assert report.peers == ("200000000901", "200000000902", "200000000903")
    assert fanout_target_arns(organization.hub_snapshot()) == [
        spoke_bus("200000000901"),
        spoke_bus("200000000902"),
        spoke_bus("200000000903"),
    ]


def test_a_malformed_parameter_stops_the_action_before_any_write(aws: None) -> None:
    organization = Organization(bus_policy_mode="per-account")
    organization.add_spokes(2)
    ssm = organization.hub_session.client("ssm")
    ssm.put_parameter(Name="/monitored_projects/Legacy/prod", Value="12345", Type="String")
    ssm.put_parameter(
        Name=f"/monitored_projects/Legacy/dev/{spoke_account(9)}",
        Value=spoke_account(8),
        Type="String",
    )

    with pytest.raises(MalformedPeerParameters) as refusal:
        grant_put_events(organization.hub_session, organization.hub_settings)

    assert "/monitored_projects/Legacy/prod" in str(refusal.value)
    assert f"/monitored_projects/Legacy/dev/{spoke_account(9)}" in str(refusal.value)
    assert len(refusal.value.problems) == 2
    assert statements(organization.hub_snapshot()) == []


def test_parameters_are_read_across_every_page(aws: None) -> None:
    # Per-account mode: organization mode's EBPut reads no parameter at all (test below).
    organization = Organization(bus_policy_mode="per-account")
    organization.add_spokes(23)
    calls: list[dict[str, Any]] = []
    organization.hub_session.events.register(
        "provide-client-params.ssm.GetParametersByPath",
        lambda params, **_: calls.append(dict(params)),
    )

    report = grant_put_events(organization.hub_session, organization.hub_settings)

    assert report.peers == tuple(organization.spokes)
    # moto returns 10 parameters per page: 3 pages, the later ones asked for with a NextToken.
    assert len(calls) >= 3
    assert all("NextToken" in call for call in calls[1:])


def test_topic_route_hub_ebrule_keeps_no_rule_per_spoke_and_retires_old_fanout_rules(
    aws: None,
) -> None:
    organization = Organization()
    organization.add_spokes(7)
    organization.connect_all()  # on the bus-rules route: two fan-out rules
    assert len(fanout_rules(organization.hub_snapshot())) == 2
    topic_route = dataclasses.replace(organization.hub_settings, refresh_fanout="topic")
    calls: list[str] = []
    organization.hub_session.events.register(
        "before-call.*.*", lambda model, **_: calls.append(model.name)
    )

    retired = connect_forwarding_rules(organization.hub_session, topic_route)
    calls.clear()
    again = connect_forwarding_rules(organization.hub_session, topic_route)
    calls_of_second_run = list(calls)

    # Spokes now hear refreshes from the hub refresh topic: the old rules would refresh them
    # twice, so they go; afterwards the action is one ListRules, whatever the number of spokes.
    assert sorted(retired.rules_deleted) == [
        "dsdash-refresh-fanout-000",
        "dsdash-refresh-fanout-001",
    ]
    assert fanout_rules(organization.hub_snapshot()) == {}
    assert not again.changed
    assert calls_of_second_run == ["ListRules"]
