"""A moto organization and spoke StackSets for the reconciler tests.

moto's service-managed StackSet gaps are filled by `sandbox.moto_stacksets` (see its docstring);
the helpers here read results back through the public CloudFormation API, independently of the
reconciler's own reading code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import ProjectTargeting, TargetingSettings
from sandbox import moto_stacksets

HOME_REGION = "eu-west-1"
PROJECT_TAG = "dsdash:project"
ENVIRONMENT_TAG = "dsdash:environment"
WRITE_OPERATIONS = frozenset(
    {"CreateStackInstances", "UpdateStackInstances", "DeleteStackInstances"}
)
SPOKE_TEMPLATE = json.dumps(
    {
        "Parameters": {"Environment": {"Type": "String", "Default": "unassigned"}},
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
    }
)


@dataclass
class CallRecorder:
    """Records CloudFormation API calls and their parameters, through botocore's
    before-parameter-build event (fired once per API call, before serialisation)."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, params) for name, params in self.calls if name in WRITE_OPERATIONS]

    def clear(self) -> None:
        self.calls.clear()


@dataclass
class Org:
    organizations: Any
    cloudformation: Any
    root_id: str
    management_account_id: str
    recorder: CallRecorder
    _counter: int = 0

    def ou(self, name: str, parent: str | None = None, **tags: str) -> str:
        ou_id: str = self.organizations.create_organizational_unit(
            ParentId=parent or self.root_id, Name=name
        )["OrganizationalUnit"]["Id"]
        if tags:
            self.tag(ou_id, **tags)
        return ou_id

    def account(self, parent: str) -> str:
        self._counter += 1
        status = self.organizations.create_account(
            AccountName=f"acct-{self._counter}", Email=f"acct-{self._counter}@example.com"
        )["CreateAccountStatus"]
        account_id: str = status["AccountId"]
        self.organizations.move_account(
            AccountId=account_id, SourceParentId=self.root_id, DestinationParentId=parent
        )
        return account_id

    def tag(
        self, resource_id: str, project: str | None = None, environment: str | None = None, **_: str
    ) -> None:
        tags = {}
        if project is not None:
            tags[PROJECT_TAG] = project
        if environment is not None:
            tags[ENVIRONMENT_TAG] = environment
        self.organizations.tag_resource(
            ResourceId=resource_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )

    def untag(self, resource_id: str, *keys: str) -> None:
        self.organizations.untag_resource(ResourceId=resource_id, TagKeys=list(keys))

    def environments(self, project: str, region: str = HOME_REGION) -> dict[str, str | None]:
        """account id -> Environment override of that project's instance in `region`."""
        name = stackset_name(project)
        result: dict[str, str | None] = {}
        for summary in self.cloudformation.list_stack_instances(StackSetName=name)["Summaries"]:
            if summary["Region"] != region:
                continue
            assert summary["Account"] not in result, "two instances for one account and region"
            instance = self.cloudformation.describe_stack_instance(
                StackSetName=name,
                StackInstanceAccount=summary["Account"],
                StackInstanceRegion=region,
            )["StackInstance"]
            overrides = {
                o["ParameterKey"]: o["ParameterValue"]
                for o in instance.get("ParameterOverrides", [])
            }
            result[summary["Account"]] = overrides.get("Environment")
        return result

    def settings(self, **overrides: Any) -> TargetingSettings:
        values: dict[str, Any] = {
            "management_account_id": self.management_account_id,
            "regions": (HOME_REGION,),
            "projects": MappingProxyType(
                {
                    "fraud": ProjectTargeting("fraud", ("dev", "int", "prod")),
                    "churn": ProjectTargeting("churn", ("dev", "prod")),
                }
            ),
            "project_tag_key": PROJECT_TAG,
            "environment_tag_key": ENVIRONMENT_TAG,
            "max_wait_seconds": 60.0,
            "poll_interval_seconds": 10.0,
        }
        values.update(overrides)
        return TargetingSettings(**values)


@pytest.fixture
def org() -> Iterator[Org]:
    with mock_aws(), moto_stacksets.service_managed_stacksets():
        organizations = boto3.client("organizations", region_name="us-east-1")
        organizations.create_organization(FeatureSet="ALL")
        root_id = organizations.list_roots()["Roots"][0]["Id"]
        management = organizations.describe_organization()["Organization"]["MasterAccountId"]
        cloudformation = boto3.client("cloudformation", region_name=HOME_REGION)
        for project in ("fraud", "churn"):
            cloudformation.create_stack_set(
                StackSetName=stackset_name(project),
                TemplateBody=SPOKE_TEMPLATE,
                PermissionModel="SERVICE_MANAGED",
                AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                Parameters=[{"ParameterKey": "Environment", "ParameterValue": "unassigned"}],
            )
        recorder = CallRecorder()
        cloudformation.meta.events.register("before-parameter-build.cloudformation", recorder)
        yield Org(organizations, cloudformation, root_id, management, recorder)
