from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from enrollment_support import (
    ENVIRONMENT_TAG,
    PROJECT,
    PROJECT_TAG,
    REGION,
    SPOKE_TEMPLATE,
    SimulatedOrganization,
)
from moto import mock_aws

from org_stack.runtime.stackset_names import stackset_name
from sandbox import moto_stacksets
from sandbox.lambda_runtime import LambdaRuntime, patched_lambda_invoke


def _organization(bus_policy_mode: str, monkeypatch: pytest.MonkeyPatch) -> SimulatedOrganization:
    management = boto3.Session(region_name=REGION)
    organizations = management.client("organizations", region_name="us-east-1")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    ou_ids = {}
    for environment in ("dev", "prod"):
        ou_id = organizations.create_organizational_unit(
            ParentId=root_id, Name=f"{PROJECT}-{environment}"
        )["OrganizationalUnit"]["Id"]
        organizations.tag_resource(
            ResourceId=ou_id,
            Tags=[
                {"Key": PROJECT_TAG, "Value": PROJECT},
                {"Key": ENVIRONMENT_TAG, "Value": environment},
            ],
        )
        ou_ids[environment] = ou_id
    management.client("cloudformation").create_stack_set(
        StackSetName=stackset_name(PROJECT),
        TemplateBody=SPOKE_TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        Parameters=[{"ParameterKey": "Environment", "ParameterValue": "unassigned"}],
    )
    org = SimulatedOrganization(
        management=management,
        runtime=LambdaRuntime(),
        organization_id=organization["Id"],
        root_id=root_id,
        management_account_id=organization["MasterAccountId"],
        hub_account_id="",
        ou_ids=ou_ids,
        spokes={},
        bus_policy_mode=bus_policy_mode,
    )
    org.hub_account_id = org.create_account("hub", root_id)
    org.deploy_hub()
    org.deploy_reconciler()
    for number, environment in enumerate(("dev", "dev", "prod"), start=1):
        account_id = org.create_account(f"spoke-{number}", ou_ids[environment])
        org.deploy_stack_instance(account_id, environment)
        org.deploy_spoke_stack(account_id)
        org.spokes[account_id] = environment
    for name, value in org.environment_variables().items():
        monkeypatch.setenv(name, value)
    return org


@pytest.fixture(params=["organization", "per-account"])
def any_mode_org(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimulatedOrganization]:
    """The organization with the hub bus policy in each mode."""
    with mock_aws(), moto_stacksets.service_managed_stacksets():
        org = _organization(request.param, monkeypatch)
        with patched_lambda_invoke(org.runtime):
            yield org


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedOrganization]:
    """The organization with the default (organization) hub bus policy mode."""
    with mock_aws(), moto_stacksets.service_managed_stacksets():
        organization = _organization("organization", monkeypatch)
        with patched_lambda_invoke(organization.runtime):
            yield organization
