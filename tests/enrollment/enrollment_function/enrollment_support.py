"""A simulated organization on moto for the enrollment tests: management, hub and 3 spokes.

Each account holds what our stacks would deploy there, created through the public APIs:
- hub: the `dsdash-hub` bus, the hub table (key layout from hub_stack.table_design), the roles
  `dsdash-hub-enrollment` and `dsdash-hub-refresh-forwarder`, and the real connection function
  (`enrollment.connection.runtime.connection.handler`) as a moto Lambda function;
- each spoke: the `dsdash` bus, `dsdash-spoke-enrollment-<region>`,
  `dsdash-spoke-metric-forwarder-<region>` and the spoke connection function;
- management: the spoke StackSet `dsdash-spoke-fraud` with one stack instance per spoke (the
  reconciler's job, done here by hand) and the reconciler function.

moto gap: Lambda code never runs in moto; `sandbox.lambda_runtime` runs the real handlers
in-process with each function's environment and its account's credentials.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import boto3
import pytest

from contracts import (
    HUB_BUS_NAME,
    HUB_CONNECTION_FUNCTION_NAME,
    HUB_ENROLLMENT_ROLE_NAME,
    HUB_REFRESH_FORWARDER_ROLE_NAME,
    HUB_TABLE_NAME,
    ORG_RECONCILER_FUNCTION_NAME,
    SPOKE_BUS_NAME,
    SPOKE_CONNECTION_FUNCTION_NAME,
    spoke_enrollment_role_name,
    spoke_metric_forwarder_role_name,
)
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import ProjectTargeting, TargetingSettings
from hub_stack import table_design
from runtime_common.settings import environment_of
from sandbox.credentials import account_credentials
from sandbox.lambda_runtime import LambdaRuntime

REGION = "eu-west-1"
HUB_NAME = "central"
PROJECT = "fraud"
PROJECT_TAG = "dsdash:project"
ENVIRONMENT_TAG = "dsdash:environment"
EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
SPOKE_TEMPLATE = json.dumps(
    {
        "Parameters": {"Environment": {"Type": "String", "Default": "unassigned"}},
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
    }
)
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def load_event(file_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / file_name).read_text(encoding="utf-8"))
    return loaded


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the sandbox runs the installed source\n")
    return buffer.getvalue()


@dataclass
class SimulatedOrganization:
    management: boto3.Session
    runtime: LambdaRuntime
    organization_id: str
    root_id: str
    management_account_id: str
    hub_account_id: str
    ou_ids: dict[str, str]  # environment -> OU id
    spokes: dict[str, str]  # spoke account id -> environment
    bus_policy_mode: str
    sleeps: list[float] = field(default_factory=list)

    # --- sessions and settings --------------------------------------------------------------

    def session(self, account_id: str, region: str = REGION) -> boto3.Session:
        return account_credentials(account_id, region).session(region)

    @property
    def hub(self) -> boto3.Session:
        return self.session(self.hub_account_id)

    def settings(self, **overrides: Any) -> EnrollmentSettings:
        values: dict[str, Any] = {
            "hub_account_id": self.hub_account_id,
            "hub_region": REGION,
            "hub_name": HUB_NAME,
            "spoke_regions": (REGION,),
            "targeting": self.targeting(),
            "max_attempts": 3,
            "backoff_base_seconds": 1.0,
            "backoff_max_seconds": 4.0,
        }
        values.update(overrides)
        return EnrollmentSettings(**values)

    def targeting(self) -> TargetingSettings:
        return TargetingSettings(
            management_account_id=self.management_account_id,
            regions=(REGION,),
            projects=MappingProxyType({PROJECT: ProjectTargeting(PROJECT, ("dev", "prod"))}),
            project_tag_key=PROJECT_TAG,
            environment_tag_key=ENVIRONMENT_TAG,
        )

    def environment_variables(self) -> dict[str, str]:
        """The enrollment function's environment, as the org stack would set it."""
        return {
            "HUB_ACCOUNT_ID": self.hub_account_id,
            "HUB_REGION": REGION,
            "HUB_NAME": HUB_NAME,
            "SPOKE_REGIONS": REGION,
            **environment_of(self.targeting()),
            "MAX_ATTEMPTS": "3",
            "BACKOFF_BASE_SECONDS": "1",
            "BACKOFF_MAX_SECONDS": "4",
        }

    # --- the organization -------------------------------------------------------------------

    def create_account(self, name: str, parent_id: str) -> str:
        organizations = self.management.client("organizations", region_name="us-east-1")
        account_id: str = organizations.create_account(
            AccountName=name, Email=f"{name}@example.com"
        )["CreateAccountStatus"]["AccountId"]
        if parent_id != self.root_id:
            self.move_account(account_id, parent_id)
        return account_id

    def move_account(self, account_id: str, destination_id: str) -> None:
        organizations = self.management.client("organizations", region_name="us-east-1")
        source_id = organizations.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        organizations.move_account(
            AccountId=account_id, SourceParentId=source_id, DestinationParentId=destination_id
        )

    # --- the spoke StackSet ------------------------------------------------------------------

    @property
    def cloudformation(self) -> Any:
        return self.management.client("cloudformation", region_name=REGION)

    def stack_set_arn(self) -> str:
        arn: str = self.cloudformation.describe_stack_set(StackSetName=stackset_name(PROJECT))[
            "StackSet"
        ]["StackSetARN"]
        return arn

    def deploy_stack_instance(self, account_id: str, environment: str | None) -> None:
        """What the reconciler does: an instance through the account's OU, narrowed to it."""
        organizations = self.management.client("organizations", region_name="us-east-1")
        parent = organizations.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        arguments: dict[str, Any] = {
            "StackSetName": stackset_name(PROJECT),
            "DeploymentTargets": {
                "OrganizationalUnitIds": [parent],
                "AccountFilterType": "INTERSECTION",
                "Accounts": [account_id],
            },
            "Regions": [REGION],
        }
        if environment is not None:
            arguments["ParameterOverrides"] = [
                {"ParameterKey": "Environment", "ParameterValue": environment}
            ]
        self.cloudformation.create_stack_instances(**arguments)

    def delete_stack_instance(self, account_id: str) -> None:
        organizations = self.management.client("organizations", region_name="us-east-1")
        parent = organizations.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        self.cloudformation.delete_stack_instances(
            StackSetName=stackset_name(PROJECT),
            DeploymentTargets={
                "OrganizationalUnitIds": [parent],
                "AccountFilterType": "INTERSECTION",
                "Accounts": [account_id],
            },
            Regions=[REGION],
            RetainStacks=False,
        )

    def stack_instance_event(self, account_id: str, action: str = "CREATE") -> dict[str, Any]:
        """The sample event, pointed at this StackSet and the account's instance."""
        file_name = (
            "cfn_StackInstanceStatusChange_delete_succeeded.json"
            if action == "DELETE"
            else "cfn_StackInstanceStatusChange_create_succeeded.json"
        )
        event = copy.deepcopy(load_event(file_name))
        arn = self.stack_set_arn()
        event["resources"] = [arn]
        event["detail"]["stack-set-arn"] = arn
        event["detail"]["action"] = action
        event["detail"]["stack-id"] = (
            f"arn:aws:cloudformation:{REGION}:{account_id}:stack/"
            f"StackSet-{stackset_name(PROJECT)}-0a1b2c3d/4e5f6a7b-0000-4000-8000-000000000000"
        )
        return event

    # --- what the stacks deploy --------------------------------------------------------------

    def _role(self, session: boto3.Session, name: str) -> str:
        arn: str = session.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST
        )["Role"]["Arn"]
        return arn

    def _function(
        self, session: boto3.Session, name: str, handler: str, variables: dict[str, str]
    ) -> None:
        role = self._role(session, f"{name}-execution")
        session.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler=handler,
            Code={"ZipFile": _zip()},
            Timeout=60,
            Environment={"Variables": variables},
        )

    def deploy_hub(self) -> None:
        hub = self.hub
        hub.client("events").create_event_bus(Name=HUB_BUS_NAME)
        create_hub_table(hub.client("dynamodb"))
        self._role(hub, HUB_ENROLLMENT_ROLE_NAME)
        forwarder = self._role(hub, HUB_REFRESH_FORWARDER_ROLE_NAME)
        self._function(
            hub,
            HUB_CONNECTION_FUNCTION_NAME,
            "enrollment.connection.runtime.connection.handler",
            {
                "DSDASH_UNIT": "hub",
                "BUS_NAME": HUB_BUS_NAME,
                "FORWARDER_ROLE_ARN": forwarder,
                "BUS_POLICY_MODE": self.bus_policy_mode,
                "ORGANIZATION_ID": self.organization_id,
                "SPOKE_REGIONS": REGION,
            },
        )

    def deploy_spoke_stack(self, account_id: str) -> None:
        spoke = self.session(account_id)
        spoke.client("events").create_event_bus(Name=SPOKE_BUS_NAME)
        self._role(spoke, spoke_enrollment_role_name(REGION))
        forwarder = self._role(spoke, spoke_metric_forwarder_role_name(REGION))
        self._function(
            spoke,
            SPOKE_CONNECTION_FUNCTION_NAME,
            "enrollment.connection.runtime.connection.handler",
            {
                "DSDASH_UNIT": "spoke",
                "BUS_NAME": SPOKE_BUS_NAME,
                "FORWARDER_ROLE_ARN": forwarder,
                "HUB_REGION": REGION,
            },
        )

    def remove_spoke_stack(self, account_id: str) -> None:
        """What deleting the spoke's stack instance removes: its function and bus."""
        spoke = self.session(account_id)
        spoke.client("lambda").delete_function(FunctionName=SPOKE_CONNECTION_FUNCTION_NAME)

    def deploy_reconciler(self) -> None:
        self._function(
            self.management,
            ORG_RECONCILER_FUNCTION_NAME,
            "org_stack.reconciler.runtime.handler.handler",
            environment_of(self.targeting()),
        )

    # --- reading state back ------------------------------------------------------------------

    def parameters(self, session: boto3.Session, path: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        paginator = session.client("ssm").get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=path, Recursive=True):
            for parameter in page["Parameters"]:
                found[parameter["Name"]] = {
                    "Value": parameter["Value"],
                    "Type": parameter["Type"],
                    "Version": parameter["Version"],
                }
        return found

    def bus(self, session: boto3.Session, bus_name: str) -> dict[str, Any]:
        """Policy statements, rules and targets of a bus, as EventBridge reports them."""
        events = session.client("events")
        policy = events.describe_event_bus(Name=bus_name).get("Policy")
        rules: dict[str, Any] = {}
        for page in events.get_paginator("list_rules").paginate(EventBusName=bus_name):
            for rule in page["Rules"]:
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus_name)
                rules[rule["Name"]] = {
                    "EventPattern": json.loads(rule["EventPattern"]),
                    "Targets": sorted(targets["Targets"], key=lambda t: t["Id"]),
                }
        statements = json.loads(policy)["Statement"] if policy else []
        return {"Statements": sorted(statements, key=lambda s: s["Sid"]), "Rules": rules}

    def hub_targets(self) -> list[dict[str, Any]]:
        return [
            target
            for rule in self.bus(self.hub, HUB_BUS_NAME)["Rules"].values()
            for target in rule["Targets"]
        ]

    def registry(self) -> dict[str, dict[str, Any]]:
        """Spoke registry items, read straight from the table (not through HubStore)."""
        table = self.hub.resource("dynamodb").Table(HUB_TABLE_NAME)
        items = table.query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": table_design.SPOKE_REGISTRY_PARTITION},
        )["Items"]
        return {item["SK"]: dict(item) for item in items}

    def full_state(self) -> dict[str, Any]:
        """Everything enrollment may change, for replay comparisons (UpdatedAt left out)."""
        registry = {
            account: {k: v for k, v in item.items() if k != "UpdatedAt"}
            for account, item in self.registry().items()
        }
        return {
            "hub_parameters": self.parameters(self.hub, "/monitored_projects"),
            "hub_bus": self.bus(self.hub, HUB_BUS_NAME),
            "spokes": {
                account: {
                    "parameters": self.parameters(self.session(account), "/monitors"),
                    "bus": self.bus(self.session(account), SPOKE_BUS_NAME),
                }
                for account in self.spokes
            },
            "registry": registry,
        }


def create_hub_table(dynamodb: Any) -> None:
    """The hub table as hub_stack.table_design defines it (keys, GSI ByMetricName, TTL)."""
    table_design.create_table(dynamodb, HUB_TABLE_NAME)


def build_simulated_organization(
    bus_policy_mode: str, monkeypatch: pytest.MonkeyPatch
) -> SimulatedOrganization:
    """Management, hub (with the reconciler), and three spokes in two tagged OUs, each with its
    stack instance and spoke stack; the enrollment function's environment set. Call inside
    mock_aws() and moto_stacksets.service_managed_stacksets()."""
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
