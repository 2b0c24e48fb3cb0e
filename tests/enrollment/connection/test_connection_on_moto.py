"""The connection actions across a hub and many spokes, each in its own moto account.

Accounts are reached the way the enrollment function reaches them: STS AssumeRole, then a session
built from the returned credentials (moto scopes every call to that account).

moto gap: moto stores bus policies but does not enforce them on put_events (docs/architecture.md §6), so
these tests assert the configuration (policies, rules, targets), not delivery.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from contracts import BUS_POLICY_MAX_CHARS, HUB_BUS_NAME, MAX_TARGETS_PER_RULE, SPOKE_BUS_NAME
from enrollment.connection.runtime.connection import (
    ConnectionReport,
    ConnectionSettings,
    connect_forwarding_rules,
    disconnect_account,
    grant_put_events,
)
from enrollment.connection.runtime.connection_errors import (
    EventBridgeQuotaExceeded,
    MalformedPeerParameters,
)

HUB = "111111111111"
REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
ORGANIZATION_ID = "o-abcdef1234"
HUB_FORWARDER_ROLE = f"arn:aws:iam::{HUB}:role/dsdash-hub-refresh-forwarder"
HUB_BUS_ARN = f"arn:aws:events:{REGION}:{HUB}:event-bus/{HUB_BUS_NAME}"
SHARED_MODEL_LOADER = botocore.loaders.create_loader()


def spoke_account(number: int) -> str:
    return f"2000000{number:05d}"


def spoke_bus(account: str, region: str = REGION) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{SPOKE_BUS_NAME}"


class Organization:
    """A hub and its spokes on moto, with the SSM parameters enrollment would write."""

    def __init__(
        self,
        *,
        bus_policy_mode: str = "organization",
        spoke_regions: tuple[str, ...] = (REGION,),
    ) -> None:
        self._sessions: dict[tuple[str, str], boto3.Session] = {}
        self.spoke_regions = spoke_regions
        self.spokes: list[str] = []
        self.hub_settings = ConnectionSettings(
            unit="hub",
            bus_name=HUB_BUS_NAME,
            forwarder_role_arn=HUB_FORWARDER_ROLE,
            bus_policy_mode=bus_policy_mode,  # type: ignore[arg-type]
            organization_id=ORGANIZATION_ID,
            spoke_regions=spoke_regions,
        )
        self.hub_session = self.session(HUB)
        self.hub_session.client("events").create_event_bus(Name=HUB_BUS_NAME)

    def session(self, account: str, region: str = REGION) -> boto3.Session:
        if (account, region) not in self._sessions:
            credentials = boto3.client("sts", region_name=REGION).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/dsdash-test", RoleSessionName="dsdash-test"
            )["Credentials"]
            botocore_session = botocore.session.get_session()
            # Sessions share one model loader: parsing the service JSON once per account would
            # make 60 spokes take minutes.
            botocore_session.register_component("data_loader", SHARED_MODEL_LOADER)
            botocore_session.set_credentials(
                credentials["AccessKeyId"],
                credentials["SecretAccessKey"],
                credentials["SessionToken"],
            )
            self._sessions[account, region] = boto3.Session(
                botocore_session=botocore_session, region_name=region
            )
        return self._sessions[account, region]

    def spoke_settings(self, account: str, region: str = REGION) -> ConnectionSettings:
        return ConnectionSettings(
            unit="spoke",
            bus_name=SPOKE_BUS_NAME,
            forwarder_role_arn=f"arn:aws:iam::{account}:role/dsdash-spoke-metric-forwarder-{region}",
            hub_region=REGION,
        )

    def add_spokes(self, count: int) -> list[str]:
        """Deploy `count` more spokes and write the parameters enrollment would write."""
        added = [spoke_account(len(self.spokes) + index + 1) for index in range(count)]
        for account in added:
            for region in self.spoke_regions:
                spoke = self.session(account, region)
                spoke.client("events").create_event_bus(Name=SPOKE_BUS_NAME)
                spoke.client("ssm").put_parameter(
                    Name="/monitors/central", Value=HUB, Type="String"
                )
            project = f"Project{int(account) % 3}"
            self.hub_session.client("ssm").put_parameter(
                Name=f"/monitored_projects/{project}/dev/{account}", Value=account, Type="String"
            )
        self.spokes.extend(added)
        return added

    def forget_spoke(self, account: str) -> None:
        """What offboarding does before Disconnect: delete the hub's parameter."""
        project = f"Project{int(account) % 3}"
        self.hub_session.client("ssm").delete_parameter(
            Name=f"/monitored_projects/{project}/dev/{account}"
        )
        self.spokes.remove(account)

    def connect_all(self) -> list[ConnectionReport]:
        """The enrollment order: EBPut hub, EBPut spokes, EBRule spokes, EBRule hub."""
        reports = [grant_put_events(self.hub_session, self.hub_settings)]
        for account, region in self.spoke_units():
            reports.append(
                grant_put_events(
                    self.session(account, region), self.spoke_settings(account, region)
                )
            )
        for account, region in self.spoke_units():
            reports.append(
                connect_forwarding_rules(
                    self.session(account, region), self.spoke_settings(account, region)
                )
            )
        reports.append(connect_forwarding_rules(self.hub_session, self.hub_settings))
        return reports

    def spoke_units(self) -> Iterator[tuple[str, str]]:
        for account in self.spokes:
            for region in self.spoke_regions:
                yield account, region

    def snapshot(self, account: str, bus_name: str, region: str = REGION) -> dict[str, Any]:
        """Everything EventBridge says about the bus: description, rules, targets."""
        events = self.session(account, region).client("events")
        description: dict[str, Any] = dict(events.describe_event_bus(Name=bus_name))
        description.pop("ResponseMetadata")
        rules: dict[str, Any] = {}
        for page in events.get_paginator("list_rules").paginate(EventBusName=bus_name):
            for rule in page["Rules"]:
                targets = [
                    target
                    for target_page in events.get_paginator("list_targets_by_rule").paginate(
                        Rule=rule["Name"], EventBusName=bus_name
                    )
                    for target in target_page["Targets"]
                ]
                rules[rule["Name"]] = {"rule": rule, "targets": targets}
        return {"bus": description, "rules": rules}

    def hub_snapshot(self) -> dict[str, Any]:
        return self.snapshot(HUB, HUB_BUS_NAME)

    def spoke_snapshot(self, account: str, region: str = REGION) -> dict[str, Any]:
        return self.snapshot(account, SPOKE_BUS_NAME, region)


def statements(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    policy = snapshot["bus"].get("Policy")
    return json.loads(policy)["Statement"] if policy else []


def fanout_rules(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        name: rule
        for name, rule in snapshot["rules"].items()
        if name.startswith("dsdash-refresh-fanout-")
    }


def fanout_target_arns(snapshot: dict[str, Any]) -> list[str]:
    return sorted(
        target["Arn"] for rule in fanout_rules(snapshot).values() for target in rule["targets"]
    )


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


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
