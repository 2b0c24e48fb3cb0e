"""The connection function's contract at its edges: payloads, environment, paging, packing."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from contracts import HUB_BUS_NAME
from enrollment.connection.runtime.connection import ConnectionSettings, handler
from enrollment.connection.runtime.connection_errors import (
    InvalidAccountId,
    InvalidConnectionSettings,
    UnknownConnectionAction,
)
from enrollment.connection.runtime.forwarding_rules import pack_fanout_targets
from enrollment.connection.runtime.ssm_topology import iter_parameters_by_path
from runtime_common.settings import read_settings

MOTO_DEFAULT_ACCOUNT = "123456789012"

HUB_ENVIRONMENT = {
    "DSDASH_UNIT": "hub",
    "BUS_NAME": HUB_BUS_NAME,
    "FORWARDER_ROLE_ARN": f"arn:aws:iam::{MOTO_DEFAULT_ACCOUNT}:role/dsdash-hub-refresh-forwarder",
    "BUS_POLICY_MODE": "organization",
    "ORGANIZATION_ID": "o-abcdef1234",
    "SPOKE_REGIONS": "us-east-1, eu-west-1",
}


@pytest.fixture
def hub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in HUB_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"action": "EBput"}, "unknown connection action 'EBput'"),
        ({"action": "ebrule"}, "unknown connection action 'ebrule'"),
        ({}, "has no 'action'"),
        ({"account": "200000000001"}, "has no 'action'"),
        ("EBPut", "must be an object"),
    ],
)
def test_unknown_or_missing_action_is_refused_with_the_valid_ones(
    hub_environment: None, payload: object, expected: str
) -> None:
    with pytest.raises(UnknownConnectionAction) as refusal:
        handler(payload, None)
    assert expected in str(refusal.value)
    assert "EBPut, EBRule, Disconnect" in str(refusal.value)


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "Disconnect"},
        {"action": "Disconnect", "account": "12345"},
        {"action": "Disconnect", "account": 200000000001},
        {"action": "Disconnect", "account": "2000000000011"},
    ],
)
def test_disconnect_needs_one_twelve_digit_account(
    hub_environment: None, payload: dict[str, object]
) -> None:
    with pytest.raises(InvalidAccountId) as refusal:
        handler(payload, None)
    assert repr(payload.get("account")) in str(refusal.value)


def test_incomplete_environment_names_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSDASH_UNIT", "hub")
    monkeypatch.setenv("BUS_NAME", HUB_BUS_NAME)
    monkeypatch.setenv("FORWARDER_ROLE_ARN", "dsdash-hub-refresh-forwarder")
    monkeypatch.setenv("SPOKE_REGIONS", "eu-west-1,Frankfurt")
    monkeypatch.setenv("REFRESH_FANOUT", "carrier-pigeon")
    with pytest.raises(InvalidConnectionSettings) as refusal:
        handler({"action": "EBPut"}, None)
    assert [variable for variable, _ in refusal.value.problems] == [
        "FORWARDER_ROLE_ARN",
        "SPOKE_REGIONS",
        "REFRESH_FANOUT",
    ]
    message = str(refusal.value)
    assert "FORWARDER_ROLE_ARN: 'dsdash-hub-refresh-forwarder'" in message
    assert "'Frankfurt'" in message


def test_the_organization_mode_needs_the_organization_id() -> None:
    environment = {
        "DSDASH_UNIT": "hub",
        "BUS_NAME": HUB_BUS_NAME,
        "FORWARDER_ROLE_ARN": "arn:aws:iam::100000000001:role/forwarder",
        "SPOKE_REGIONS": "eu-west-1",
    }
    with pytest.raises(InvalidConnectionSettings, match="ORGANIZATION_ID: is not set"):
        read_settings(ConnectionSettings, environment, error=InvalidConnectionSettings)
    per_account = read_settings(
        ConnectionSettings,
        {**environment, "BUS_POLICY_MODE": "per-account"},
        error=InvalidConnectionSettings,
    )
    assert (per_account.bus_policy_mode, per_account.organization_id) == ("per-account", None)


def test_spoke_settings_need_the_hub_region() -> None:
    with pytest.raises(InvalidConnectionSettings, match="HUB_REGION"):
        read_settings(
            ConnectionSettings,
            {
                "DSDASH_UNIT": "spoke",
                "BUS_NAME": "dsdash",
                "FORWARDER_ROLE_ARN": "arn:aws:iam::200000000001:role/forwarder",
            },
            error=InvalidConnectionSettings,
        )


def test_handler_connects_the_hub_and_reports_what_changed(hub_environment: None) -> None:
    with mock_aws():
        boto3.client("events").create_event_bus(Name=HUB_BUS_NAME)
        boto3.client("ssm").put_parameter(
            Name="/monitored_projects/Churn/prod/200000000001", Value="200000000001", Type="String"
        )

        first = handler({"action": "EBRule"}, None)
        second = handler({"action": "EBRule"}, None)

    assert first["changed"] is True
    assert first["rules_created"] == ["dsdash-refresh-fanout-000"]
    assert sorted(first["targets_put"]) == [
        "dsdash-refresh-fanout-000/spoke-200000000001-eu-west-1",
        "dsdash-refresh-fanout-000/spoke-200000000001-us-east-1",
    ]
    assert second["changed"] is False


def test_parameter_paging_continues_past_an_empty_page() -> None:
    # SSM filters after reading a page, so a page may be empty while more follow.
    ssm = boto3.client("ssm", region_name="eu-west-1")
    path = "/monitored_projects/"
    with Stubber(ssm) as stubber:
        stubber.add_response(
            "get_parameters_by_path",
            {"Parameters": [], "NextToken": "page-2"},
            {"Path": path, "Recursive": True, "WithDecryption": False},
        )
        stubber.add_response(
            "get_parameters_by_path",
            {"Parameters": [{"Name": f"{path}Churn/prod", "Value": "200000000001"}]},
            {"Path": path, "Recursive": True, "WithDecryption": False, "NextToken": "page-2"},
        )
        assert list(iter_parameters_by_path(ssm, path)) == [(f"{path}Churn/prod", "200000000001")]
        stubber.assert_no_pending_responses()


def test_fanout_packing_keeps_spokes_in_their_rule_and_fills_gaps_first() -> None:
    existing = {0: ["a", "b", "c", "d", "e"], 1: ["f", "h"]}

    # "g" arrives, "b" is gone: nobody moves, the two free slots take the newcomers.
    placement = pack_fanout_targets(existing, ["a", "c", "d", "e", "f", "g", "h", "i"])

    assert placement == [["a", "c", "d", "e", "g"], ["f", "h", "i"]]


def test_fanout_packing_empties_surplus_rules_into_free_slots() -> None:
    existing = {0: ["a", "b"], 1: ["c"], 2: ["d", "e", "f"]}

    placement = pack_fanout_targets(existing, ["a", "b", "c", "d", "e", "f"])

    assert len(placement) == 2
    assert placement[0][:2] == ["a", "b"]
    assert placement[1][0] == "c"
    assert sorted(target for rule in placement for target in rule) == ["a", "b", "c", "d", "e", "f"]
    assert all(len(rule) <= 5 for rule in placement)


def test_a_grant_written_back_in_another_spelling_is_not_rewritten() -> None:
    # IAM and CloudFormation may return a statement reformatted: a one-item list for Action,
    # the account id for its root ARN. The same grant must not be rewritten on every EBPut.
    from enrollment.connection.runtime.bus_policy import (
        EventBus,
        account_statement,
        reconcile_statements,
    )

    spoke = "222222222222"
    bus_arn = "arn:aws:events:eu-west-1:111111111111:event-bus/dsdash-hub"
    bare = EventBus("dsdash-hub", bus_arn, "aws", "eu-west-1", "111111111111", None)
    desired = account_statement(bare, spoke)
    written_back = {
        **desired,
        "Action": [desired["Action"]],
        "Resource": [bus_arn],
        "Principal": {"AWS": spoke},
    }
    bus = EventBus(
        "dsdash-hub",
        bus_arn,
        "aws",
        "eu-west-1",
        "111111111111",
        {"Version": "2012-10-17", "Statement": [written_back]},
    )

    class NoWrites:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"unexpected EventBridge call {name}")

    changes = reconcile_statements(
        NoWrites(),  # type: ignore[arg-type]
        bus,
        {desired["Sid"]: desired},
        purpose="1 spoke account",
    )
    assert (changes.added, changes.updated, changes.removed) == ((), (), ())

    # A real difference still is one.
    other = {**written_back, "Principal": {"AWS": "333333333333"}}
    bus_with_other = EventBus(
        "dsdash-hub", bus_arn, "aws", "eu-west-1", "111111111111", {"Statement": [other]}
    )
    with pytest.raises(AssertionError, match="unexpected EventBridge call"):
        reconcile_statements(
            NoWrites(),  # type: ignore[arg-type]
            bus_with_other,
            {desired["Sid"]: desired},
            purpose="1 spoke account",
        )
