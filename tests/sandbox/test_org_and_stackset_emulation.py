"""Organizations lifecycle events and service-managed StackSet auto-deployment in the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sandbox_deploy_support import MANAGEMENT_ACCOUNT, session

from enrollment.enrollment_function.runtime.lifecycle_triggers import parse_lifecycle_event
from enrollment.placement.organizations_events import parse_organizations_event
from sandbox import moto_stacksets
from sandbox.org_events import OrganizationsEventEmitter, organizations_lifecycle_events
from sandbox.stackset_autodeploy import StackSetAutoDeployer, service_managed_auto_deployment

REGION = "eu-west-1"
SPOKE_TEMPLATE = {
    "Parameters": {"Environment": {"Type": "String", "Default": "unassigned"}},
    "Resources": {
        "Marker": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": "/dsdash/environment",
                "Type": "String",
                "Value": {"Ref": "Environment"},
            },
        }
    },
}


@dataclass
class Organization:
    management: boto3.Session
    emitter: OrganizationsEventEmitter
    root_id: str
    project_ou: str
    nested_ou: str
    other_ou: str

    def account(self, name: str, parent: str) -> str:
        organizations = self.management.client("organizations")
        account_id: str = organizations.create_account(
            AccountName=name, Email=f"{name}@example.com"
        )["CreateAccountStatus"]["AccountId"]
        organizations.move_account(
            AccountId=account_id, SourceParentId=self.root_id, DestinationParentId=parent
        )
        return account_id


@pytest.fixture
def organization() -> Iterator[Organization]:
    with (
        mock_aws(),
        moto_stacksets.service_managed_stacksets(),
        service_managed_auto_deployment(),
        organizations_lifecycle_events() as emitter,
    ):
        management = session(MANAGEMENT_ACCOUNT, "us-east-1")
        organizations = management.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        root_id = organizations.list_roots()["Roots"][0]["Id"]

        def ou(name: str, parent: str) -> str:
            unit_id: str = organizations.create_organizational_unit(ParentId=parent, Name=name)[
                "OrganizationalUnit"
            ]["Id"]
            return unit_id

        project_ou = ou("alpha", root_id)
        yield Organization(
            management,
            emitter,
            root_id,
            project_ou,
            ou("alpha-dev", ou("alpha-teams", project_ou)),
            ou("other", root_id),
        )


def _stack_set(management_in_region: boto3.Session) -> Any:
    cloudformation = management_in_region.client("cloudformation")
    cloudformation.create_stack_set(
        StackSetName="dsdash-spoke-alpha",
        TemplateBody=json.dumps(SPOKE_TEMPLATE),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    return cloudformation


def _environment_marker(account_id: str) -> str:
    value: str = (
        session(account_id)
        .client("ssm")
        .get_parameter(Name="/dsdash/environment")["Parameter"]["Value"]
    )
    return value


def _stacks(account_id: str) -> list[str]:
    return [
        s["StackName"]
        for s in session(account_id).client("cloudformation").describe_stacks()["Stacks"]
    ]


def test_organizations_calls_emit_cloudtrail_shaped_events_that_the_parser_accepts(
    organization: Organization,
) -> None:
    spoke = organization.account("alpha-1", organization.project_ou)
    organizations = organization.management.client("organizations")
    organizations.tag_resource(
        ResourceId=organization.project_ou, Tags=[{"Key": "dsdash:project", "Value": "alpha"}]
    )
    organizations.untag_resource(ResourceId=organization.project_ou, TagKeys=["dsdash:project"])
    organizations.close_account(AccountId=spoke)

    changes = [parse_organizations_event(event) for event in organization.emitter.emitted]
    created, moved, tagged, untagged, closed = changes
    assert (created.event_name, created.account_id, created.create_account_state) == (
        "CreateAccountResult",
        spoke,
        "SUCCEEDED",
    )
    assert (moved.account_id, moved.source_parent_id, moved.destination_parent_id) == (
        spoke,
        organization.root_id,
        organization.project_ou,
    )
    assert (tagged.organizational_unit_id, dict(tagged.tags)) == (
        organization.project_ou,
        {"dsdash:project": "alpha"},
    )
    assert untagged.removed_tag_keys == ("dsdash:project",)
    assert (closed.event_name, closed.account_id) == ("CloseAccount", spoke)
    for event in organization.emitter.emitted:
        assert (event["account"], event["region"]) == (MANAGEMENT_ACCOUNT, "us-east-1")


def test_organizations_events_reach_rules_on_the_management_default_bus(
    organization: Organization,
) -> None:
    events = organization.management.client("events")
    logs = organization.management.client("logs")
    logs.create_log_group(logGroupName="/org-events")
    events.put_rule(Name="org", EventPattern=json.dumps({"source": ["aws.organizations"]}))
    events.put_targets(
        Rule="org",
        Targets=[
            {
                "Id": "log",
                "Arn": f"arn:aws:logs:us-east-1:{MANAGEMENT_ACCOUNT}:log-group:/org-events",
            }
        ],
    )
    organization.account("alpha-2", organization.nested_ou)
    messages = [
        json.loads(e["message"])
        for e in logs.filter_log_events(logGroupName="/org-events")["events"]
    ]
    assert [m["detail"]["eventName"] for m in messages] == ["CreateAccountResult", "MoveAccount"]


def test_stack_instances_become_stacks_in_every_target_account_including_nested_ous(
    organization: Organization,
) -> None:
    direct = organization.account("alpha-1", organization.project_ou)
    nested = organization.account("alpha-2", organization.nested_ou)
    outsider = organization.account("other-1", organization.other_ou)
    cloudformation = _stack_set(session(MANAGEMENT_ACCOUNT, REGION))
    cloudformation.create_stack_instances(
        StackSetName="dsdash-spoke-alpha",
        DeploymentTargets={"OrganizationalUnitIds": [organization.project_ou]},
        Regions=[REGION],
        ParameterOverrides=[{"ParameterKey": "Environment", "ParameterValue": "dev"}],
    )
    deployer = StackSetAutoDeployer()
    changes = deployer.sync()

    assert sorted((c.account_id, c.action, c.succeeded) for c in changes) == sorted(
        [(direct, "CREATE", True), (nested, "CREATE", True)]
    )
    assert _environment_marker(direct) == _environment_marker(nested) == "dev"
    assert _stacks(outsider) == []
    [stack_name] = _stacks(nested)
    assert stack_name.startswith("StackSet-dsdash-spoke-alpha-")

    for change in changes:
        parsed = parse_lifecycle_event(dict(change.event))
        assert (parsed.account_id, parsed.region, parsed.action, parsed.detailed_status) == (
            change.account_id,
            REGION,
            "CREATE",
            "SUCCEEDED",
        )
        assert parsed.stack_set_name == "dsdash-spoke-alpha"
        assert change.event["account"] == MANAGEMENT_ACCOUNT
    summaries = cloudformation.list_stack_instances(StackSetName="dsdash-spoke-alpha")["Summaries"]
    assert {s["StackId"] for s in summaries} == {c.stack_id for c in changes}
    assert {s["Status"] for s in summaries} == {"CURRENT"}

    assert deployer.sync() == [], "nothing changed, nothing happens"


def test_accounts_moving_in_are_auto_deployed_and_accounts_moving_out_are_removed(
    organization: Organization,
) -> None:
    staying = organization.account("alpha-1", organization.project_ou)
    cloudformation = _stack_set(session(MANAGEMENT_ACCOUNT, REGION))
    cloudformation.create_stack_instances(
        StackSetName="dsdash-spoke-alpha",
        DeploymentTargets={"OrganizationalUnitIds": [organization.project_ou]},
        Regions=[REGION],
    )
    deployer = StackSetAutoDeployer()
    deployer.sync()

    newcomer = organization.account("alpha-new", organization.nested_ou)
    [arrived] = deployer.sync()
    assert (arrived.account_id, arrived.action, arrived.succeeded) == (newcomer, "CREATE", True)
    # Auto-deployed instances use the StackSet's own parameter values.
    assert _environment_marker(newcomer) == "unassigned"

    organization.management.client("organizations").move_account(
        AccountId=staying,
        SourceParentId=organization.project_ou,
        DestinationParentId=organization.other_ou,
    )
    [departed] = deployer.sync()
    assert (departed.account_id, departed.action, departed.succeeded) == (staying, "DELETE", True)
    assert _stacks(staying) == []
    assert parse_lifecycle_event(dict(departed.event)).action == "DELETE"
    remaining = cloudformation.list_stack_instances(StackSetName="dsdash-spoke-alpha")["Summaries"]
    assert [s["Account"] for s in remaining] == [newcomer]


def test_deleting_instances_removes_their_stacks(organization: Organization) -> None:
    spoke = organization.account("alpha-1", organization.nested_ou)
    cloudformation = _stack_set(session(MANAGEMENT_ACCOUNT, REGION))
    targets = {"OrganizationalUnitIds": [organization.project_ou]}
    cloudformation.create_stack_instances(
        StackSetName="dsdash-spoke-alpha", DeploymentTargets=targets, Regions=[REGION]
    )
    deployer = StackSetAutoDeployer()
    deployer.sync()
    cloudformation.delete_stack_instances(
        StackSetName="dsdash-spoke-alpha",
        DeploymentTargets=targets,
        Regions=[REGION],
        RetainStacks=False,
    )
    [removed] = deployer.sync()
    assert (removed.account_id, removed.action) == (spoke, "DELETE")
    assert _stacks(spoke) == []
    # The OU is no longer a target: a newcomer there gets nothing.
    organization.account("alpha-2", organization.nested_ou)
    assert deployer.sync() == []
