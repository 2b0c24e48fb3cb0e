"""The sandbox's StackSets delegated administrator (sandbox/moto_delegated_admin.py): what moto
lacks is filled the way AWS behaves, so a missing registration or a forgotten CallAs fails in the
sandbox as it would in AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.moto_delegated_admin import STACKSETS_SERVICE_PRINCIPAL
from sandbox.world import SandboxWorld

pytestmark = pytest.mark.slow

REGION = "eu-west-1"
MANAGEMENT = "999999999999"
TEMPLATE = json.dumps(
    {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "probe"}}}}
)


@dataclass
class Organization:
    world: SandboxWorld
    admin: str
    member: str
    ou_id: str
    spoke: str

    def session(self, account_id: str) -> boto3.Session:
        return self.world.session(account_id, REGION)


def _create_account(organizations: object, name: str) -> str:
    status = organizations.create_account(  # type: ignore[attr-defined]
        AccountName=name, Email=f"{name}@example.com"
    )
    return str(status["CreateAccountStatus"]["AccountId"])


@pytest.fixture(scope="module")
def organization() -> Iterator[Organization]:
    with SandboxWorld(seed=3) as world:
        organizations = world.session(MANAGEMENT, REGION).client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        root = organizations.list_roots()["Roots"][0]["Id"]
        ou_id = organizations.create_organizational_unit(
            ParentId=root, Name="team", Tags=[{"Key": "dsdash:project", "Value": "p"}]
        )["OrganizationalUnit"]["Id"]
        spoke = _create_account(organizations, "spoke")
        organizations.move_account(AccountId=spoke, SourceParentId=root, DestinationParentId=ou_id)
        admin = _create_account(organizations, "admin")
        member = _create_account(organizations, "member")
        organizations.enable_aws_service_access(ServicePrincipal=STACKSETS_SERVICE_PRINCIPAL)
        organizations.register_delegated_administrator(
            AccountId=admin, ServicePrincipal=STACKSETS_SERVICE_PRINCIPAL
        )
        yield Organization(world, admin, member, ou_id, spoke)


def test_the_stacksets_service_principal_is_registered(organization: Organization) -> None:
    organizations = organization.session(MANAGEMENT).client("organizations")
    admins = organizations.list_delegated_administrators(
        ServicePrincipal=STACKSETS_SERVICE_PRINCIPAL
    )["DelegatedAdministrators"]
    assert [admin["Id"] for admin in admins] == [organization.admin]


def test_a_delegated_admin_reads_the_organization_a_plain_member_is_refused(
    organization: Organization,
) -> None:
    organizations = organization.session(organization.admin).client("organizations")
    root = organizations.list_roots()["Roots"][0]["Id"]
    ous = organizations.list_organizational_units_for_parent(ParentId=root)
    assert [ou["Id"] for ou in ous["OrganizationalUnits"]] == [organization.ou_id]
    accounts = organizations.list_accounts_for_parent(ParentId=organization.ou_id)["Accounts"]
    assert [account["Id"] for account in accounts] == [organization.spoke]
    tags = organizations.list_tags_for_resource(ResourceId=organization.ou_id)["Tags"]
    assert tags == [{"Key": "dsdash:project", "Value": "p"}]

    member = organization.session(organization.member).client("organizations")
    with pytest.raises(ClientError) as refused:
        member.list_organizational_units_for_parent(ParentId=root)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_delegated_admin_runs_service_managed_stacksets_only_as_delegated_admin(
    organization: Organization,
) -> None:
    cloudformation = organization.session(organization.admin).client("cloudformation")
    with pytest.raises(ClientError) as without_call_as:  # CallAs defaults to SELF
        cloudformation.create_stack_set(
            StackSetName="probe", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED"
        )
    assert without_call_as.value.response["Error"]["Code"] == "ValidationError"

    cloudformation.create_stack_set(
        StackSetName="probe",
        TemplateBody=TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        CallAs="DELEGATED_ADMIN",
    )
    cloudformation.create_stack_instances(
        StackSetName="probe",
        DeploymentTargets={"OrganizationalUnitIds": [organization.ou_id]},
        Regions=[REGION],
        CallAs="DELEGATED_ADMIN",
    )
    # The OU resolves in the organization, not in the (empty) delegated admin's own view.
    summaries = cloudformation.list_stack_instances(StackSetName="probe", CallAs="DELEGATED_ADMIN")[
        "Summaries"
    ]
    assert [summary["Account"] for summary in summaries] == [organization.spoke]

    with pytest.raises(ClientError) as as_self:
        cloudformation.list_stack_instances(StackSetName="probe")
    assert as_self.value.response["Error"]["Code"] == "StackSetNotFoundException"


def test_an_unregistered_member_cannot_call_as_delegated_admin(
    organization: Organization,
) -> None:
    cloudformation = organization.session(organization.member).client("cloudformation")
    with pytest.raises(ClientError) as refused:
        cloudformation.create_stack_set(
            StackSetName="probe",
            TemplateBody=TEMPLATE,
            PermissionModel="SERVICE_MANAGED",
            CallAs="DELEGATED_ADMIN",
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "not registered as a delegated administrator" in str(refused.value)


def test_the_management_account_keeps_calling_as_self(organization: Organization) -> None:
    cloudformation = organization.session(MANAGEMENT).client("cloudformation")
    cloudformation.create_stack_set(
        StackSetName="probe", TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED"
    )
    cloudformation.create_stack_instances(
        StackSetName="probe",
        DeploymentTargets={"OrganizationalUnitIds": [organization.ou_id]},
        Regions=[REGION],
    )
    summaries = cloudformation.list_stack_instances(StackSetName="probe")["Summaries"]
    assert [summary["Account"] for summary in summaries] == [organization.spoke]
