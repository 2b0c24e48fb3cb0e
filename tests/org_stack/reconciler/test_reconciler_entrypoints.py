from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from reconciler_support import HOME_REGION, Org

from enrollment.placement.org_tree import read_organization_tree
from enrollment.placement.organizations_events import (
    OrganizationsEventError,
    parse_organizations_event,
)
from org_stack.reconciler.runtime.handler import handler
from org_stack.reconciler.runtime.settings import ReconcilerSettings, ReconcilerSettingsError
from runtime_common.settings import environment_of, read_settings

EVENTS = Path(__file__).resolve().parents[2] / "events"

# What a reader of each sample file sees in it, written out by hand.
EXPECTED = {
    "org_TagResource.json": {
        "EventName": "TagResource",
        "AccountId": None,
        "OrganizationalUnitId": "ou-a1b2-fraudprd",
        "Tags": {"dsdash:project": "fraud-detection", "dsdash:environment": "prod"},
    },
    "org_UntagResource.json": {
        "EventName": "UntagResource",
        "AccountId": None,
        "OrganizationalUnitId": "ou-a1b2-sandbox1",
        "RemovedTagKeys": ["dsdash:environment"],
    },
    "org_MoveAccount.json": {
        "EventName": "MoveAccount",
        "AccountId": "444455556666",
        "SourceParentId": "r-a1b2",
        "DestinationParentId": "ou-a1b2-fraudprd",
        "OrganizationalUnitId": "ou-a1b2-fraudprd",
    },
    "org_CreateAccountResult.json": {
        "EventName": "CreateAccountResult",
        "AccountId": "777788889999",
        "CreateAccountState": "SUCCEEDED",
    },
    "org_CloseAccount.json": {"EventName": "CloseAccount", "AccountId": "555566667777"},
}


def test_every_organizations_sample_event_has_an_expectation() -> None:
    assert sorted(p.name for p in EVENTS.glob("org_*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("file_name", sorted(EXPECTED))
def test_sample_event_parses_to_the_right_account_ou_and_names(file_name: str) -> None:
    event = json.loads((EVENTS / file_name).read_text())
    change = parse_organizations_event(event).to_dict()
    for key, value in EXPECTED[file_name].items():
        assert change[key] == value, key


def test_a_non_organizations_event_is_rejected_with_its_source() -> None:
    with pytest.raises(OrganizationsEventError, match=r"aws\.events"):
        parse_organizations_event({"source": "aws.events", "detail": {}})


def test_settings_round_trip_through_the_environment(org: Org) -> None:
    settings = org.settings()
    environment = environment_of(ReconcilerSettings(replace(settings, call_as="DELEGATED_ADMIN")))
    restored = read_settings(ReconcilerSettings, environment).targeting
    assert restored == replace(settings, call_as="DELEGATED_ADMIN")
    assert restored.projects["churn"].environments == ("dev", "prod")
    assert restored.regions == (HOME_REGION,)
    assert restored.call_as == "DELEGATED_ADMIN"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "MANAGEMENT_ACCOUNT_ID: is not set"),
        ({"PROJECTS": "{"}, "PROJECTS: is not JSON"),
        ({"PROJECTS": "[]"}, "PROJECTS: must map each project name"),
        ({"PROJECTS": '{"churn": {}}'}, "PROJECTS: project 'churn' lacks its environments"),
        (
            {"PROJECTS": '{"churn": {"environments": ["dev"], "accounts": {"dev": ["12"]}}}'},
            "PROJECTS: project 'churn': '12' is not a 12-digit AWS account id",
        ),
        ({"CALL_AS": "ROOT"}, "CALL_AS: 'ROOT' is not one of 'SELF', 'DELEGATED_ADMIN'"),
        ({"ORGANIZATION_REGIONS": "eu-west-1,Frankfurt"}, "ORGANIZATION_REGIONS: 'Frankfurt'"),
    ],
)
def test_bad_settings_say_what_is_wrong(environ: dict[str, str], message: str) -> None:
    valid = {
        "MANAGEMENT_ACCOUNT_ID": "999999999999",
        "ORGANIZATION_REGIONS": HOME_REGION,
        "PROJECTS": '{"churn": {"environments": ["dev"]}}',
    }
    with pytest.raises(ReconcilerSettingsError, match=message):
        read_settings(
            ReconcilerSettings,
            {**valid, **environ} if environ else {},
            error=ReconcilerSettingsError,
        )


def test_handler_reconciles_everything_on_an_organizations_event(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="dev")
    account = org.account(workloads)
    org.account(org.ou("Churn", project="churn", environment="prod"))
    for name, value in environment_of(ReconcilerSettings(org.settings())).items():
        monkeypatch.setenv(name, value)
    event = json.loads((EVENTS / "org_TagResource.json").read_text())

    result = handler(event, None, session=boto3.Session(region_name=HOME_REGION))

    assert json.loads(json.dumps(result)) == result
    assert result["trigger"]["EventName"] == "TagResource"
    # The event named another OU: the handler still reconciled both projects.
    assert {change["project"] for change in result["created"]} == {"fraud", "churn"}
    assert org.environments("fraud") == {account: "dev"}


def test_tree_reading_continues_past_empty_pages() -> None:
    organizations = boto3.client("organizations", region_name="us-east-1")
    root = {"Id": "r-a1b2", "Arn": "arn:aws:organizations::1:root/o-x/r-a1b2", "Name": "Root"}
    ou = {
        "Id": "ou-a1b2-teamaaaa",
        "Arn": "arn:aws:organizations::1:ou/o-x/ou-a1b2-teamaaaa",
        "Name": "Team",
    }
    with Stubber(organizations) as stub:
        stub.add_response("list_roots", {"Roots": [root]})
        # An empty first page with a NextToken, then the OU.
        stub.add_response(
            "list_organizational_units_for_parent",
            {"OrganizationalUnits": [], "NextToken": "t1"},
            {"ParentId": "r-a1b2"},
        )
        stub.add_response(
            "list_organizational_units_for_parent",
            {"OrganizationalUnits": [ou]},
            {"ParentId": "r-a1b2", "NextToken": "t1"},
        )
        stub.add_response(
            "list_accounts_for_parent", {"Accounts": [], "NextToken": "t2"}, {"ParentId": "r-a1b2"}
        )
        stub.add_response(
            "list_accounts_for_parent",
            {"Accounts": [{"Id": "222233334444", "Name": "a", "State": "ACTIVE"}]},
            {"ParentId": "r-a1b2", "NextToken": "t2"},
        )
        stub.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceId": "r-a1b2"})
        stub.add_response(
            "list_organizational_units_for_parent",
            {"OrganizationalUnits": []},
            {"ParentId": ou["Id"]},
        )
        stub.add_response("list_accounts_for_parent", {"Accounts": []}, {"ParentId": ou["Id"]})
        stub.add_response(
            "list_tags_for_resource", {"Tags": [], "NextToken": "t3"}, {"ResourceId": ou["Id"]}
        )
        stub.add_response(
            "list_tags_for_resource",
            {"Tags": [{"Key": "dsdash:project", "Value": "fraud"}]},
            {"ResourceId": ou["Id"], "NextToken": "t3"},
        )

        tree = read_organization_tree(organizations)

        stub.assert_no_pending_responses()
    assert tree.node("r-a1b2").child_ids == (ou["Id"],)
    assert tree.node("r-a1b2").account_ids == ("222233334444",)
    assert dict(tree.node(ou["Id"]).tags) == {"dsdash:project": "fraud"}


def test_an_event_about_one_account_reconciles_it_without_walking_the_organization(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    workloads = org.ou("Workloads", project="fraud")
    dev = org.ou("Dev", parent=workloads, environment="dev")
    moved = org.account(dev)
    untouched = org.account(org.ou("Churn", project="churn", environment="prod"))
    for name, value in environment_of(ReconcilerSettings(org.settings())).items():
        monkeypatch.setenv(name, value)
    event = json.loads((EVENTS / "org_MoveAccount.json").read_text())
    event["detail"]["requestParameters"].update(
        accountId=moved, sourceParentId=org.root_id, destinationParentId=dev
    )
    session = boto3.Session(region_name=HOME_REGION)
    organization_calls: list[str] = []
    session.events.register(
        "before-call.organizations", lambda model, **_: organization_calls.append(model.name)
    )

    result = handler(event, None, session=session)

    # Its path to the root only: the account, Dev, Workloads, the root.
    assert sorted(set(organization_calls)) == [
        "DescribeAccount",
        "ListParents",
        "ListTagsForResource",
    ]
    assert organization_calls.count("ListTagsForResource") == 3
    [created] = result["created"]
    assert (created["account_filter_type"], created["filter_account_ids"]) == (
        "INTERSECTION",
        [moved],
    )
    # Its assignment root: Workloads resolves to no environment, so the instance goes through Dev.
    assert created["organizational_unit_ids"] == [dev]
    assert org.environments("fraud") == {moved: "dev"}
    assert untouched not in org.environments("churn"), "other accounts wait for their own event"
    # A replay finds the instance as wanted and writes nothing.
    org.recorder.clear()
    handler(event, None, session=session)
    assert org.recorder.writes() == []


def _move_event(account: str, source: str, destination: str) -> dict[str, object]:
    event = json.loads((EVENTS / "org_MoveAccount.json").read_text())
    event["detail"]["requestParameters"].update(
        accountId=account, sourceParentId=source, destinationParentId=destination
    )
    return event


def test_a_move_reads_the_wanted_stackset_and_the_previous_one_only_when_named(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    churn = org.ou("Churn", project="churn", environment="prod")
    fraud = org.ou("Fraud", project="fraud", environment="dev")
    account = org.account(churn)
    for name, value in environment_of(ReconcilerSettings(org.settings())).items():
        monkeypatch.setenv(name, value)
    session = boto3.Session(region_name=HOME_REGION)
    handler(_move_event(account, org.root_id, churn), None, session=session)
    assert org.environments("churn") == {account: "prod"}
    org.organizations.move_account(
        AccountId=account, SourceParentId=churn, DestinationParentId=fraud
    )
    listed: list[str] = []
    session.events.register(
        "before-parameter-build.cloudformation.ListStackInstances",
        lambda params, **_: listed.append(params["StackSetName"]),
    )

    handler(_move_event(account, churn, fraud), None, session=session)

    # One StackSet read for the new project's account, however many projects the config has.
    assert listed == ["dsdash-spoke-fraud"]
    assert org.environments("fraud") == {account: "dev"}
    assert org.environments("churn") == {account: "prod"}, "left to the request naming it"

    # The enrollment function names the registry's previous project: its instance goes.
    listed.clear()
    request = {
        "source": "dsdash.enrollment",
        "detail-type": "reconcile request",
        "detail": {"reason": "MoveAccount", "account": account, "previous_projects": ["churn"]},
    }
    handler(request, None, session=session)
    assert sorted(listed) == ["dsdash-spoke-churn", "dsdash-spoke-fraud"]
    assert org.environments("churn") == {}
    assert org.environments("fraud") == {account: "dev"}


def test_an_account_moved_out_of_every_tagged_ou_loses_its_instances_everywhere(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    churn = org.ou("Churn", project="churn", environment="prod")
    untagged = org.ou("Parking")
    account = org.account(churn)
    for name, value in environment_of(ReconcilerSettings(org.settings())).items():
        monkeypatch.setenv(name, value)
    session = boto3.Session(region_name=HOME_REGION)
    handler(_move_event(account, org.root_id, churn), None, session=session)
    org.organizations.move_account(
        AccountId=account, SourceParentId=churn, DestinationParentId=untagged
    )

    result = handler(_move_event(account, churn, untagged), None, session=session)

    assert [change["stack_set_name"] for change in result["deleted"]] == ["dsdash-spoke-churn"]
    assert org.environments("churn") == {}
