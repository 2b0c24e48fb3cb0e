"""Enrollment at scale: AWS calls to enroll one more spoke when N are enrolled already.

On moto, with the real code: the enrollment function's handlers for the two events a new
account produces (its MoveAccount into a tagged OU, then its stack instance's CREATE SUCCEEDED),
the reconciler function that MoveAccount starts (through the sandbox's Lambda runtime), and the
hub and spoke connection functions enrollment invokes (organization mode: the hub refresh topic
route, as the hub stack sets it). The N spokes already enrolled are simulated directly: their
hub parameters `/monitored_projects/<project>/<env>/<account>` and their registry items, which
is the hub-side state an enrollment could read. Every AWS call of the new account's path is
counted with a botocore `before-call` hook on every session created (bench.call_counting).

Not simulated for the N spokes: their stack instances (moto ignores ListStackInstances' account
filter, which AWS applies) and their subscriptions to the hub topic (in their own accounts;
enrollment never reads them).

Figures: `calls_per_account` (a mapping from N to calls), with the goal of at most 30 at every
size, and the busiest operations of the largest size.
"""

from __future__ import annotations

import io
import json
import zipfile
from types import MappingProxyType
from typing import Any, Final

import boto3
from moto import mock_aws
from moto.awslambda.models import lambda_backends
from moto.ssm.models import ssm_backends

from bench.call_counting import count_all_calls
from bench.enrollment_rollout import rollout
from bench.support import BenchmarkResult, stopwatch
from contracts import (
    HUB_BUS_NAME,
    HUB_CONNECTION_FUNCTION_NAME,
    HUB_ENROLLMENT_ROLE_NAME,
    HUB_REFRESH_FORWARDER_ROLE_NAME,
    HUB_TABLE_NAME,
    ORG_RECONCILER_FUNCTION_NAME,
    SPOKE_BUS_NAME,
    SPOKE_CONNECTION_FUNCTION_NAME,
    monitored_account_parameter_name,
    spoke_enrollment_role_name,
    spoke_metric_forwarder_role_name,
)
from enrollment.enrollment_function.runtime.lifecycle_events import STACK_INSTANCE_DETAIL_TYPE
from enrollment.enrollment_function.runtime.lifecycle_triggers import handle_lifecycle_event
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import ProjectTargeting, TargetingSettings
from hub_stack import table_design
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.settings import environment_of
from sandbox import moto_stacksets
from sandbox.credentials import account_credentials
from sandbox.lambda_runtime import LambdaRuntime, patched_lambda_invoke

REGION: Final = "eu-west-1"
PROJECT: Final = "fraud"
ENVIRONMENT: Final = "dev"
HUB_NAME: Final = "central"
PROJECT_TAG: Final = "dsdash:project"
ENVIRONMENT_TAG: Final = "dsdash:environment"
FULL_SIZES: Final = (10, 100, 1_000, 10_000)
QUICK_SIZES: Final = (10, 100)
CALLS_PER_ACCOUNT_GOAL: Final = 30
SPOKE_TEMPLATE: Final = json.dumps(
    {
        "Parameters": {"Environment": {"Type": "String", "Default": "unassigned"}},
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
    }
)
LAMBDA_TRUST: Final = json.dumps(
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


def _code() -> bytes:
    # moto stores a zip; the sandbox's runtime imports the real handler in-process.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")
    return buffer.getvalue()


def existing_spoke_account(index: int) -> str:
    return f"{300000000000 + index:012d}"


class EnrollmentWorld:
    """Management, hub and one new spoke account on moto, with what our stacks deploy there."""

    def __init__(self) -> None:
        self.management = boto3.Session(region_name=REGION)
        self.runtime = LambdaRuntime()
        organizations = self.management.client("organizations", region_name="us-east-1")
        organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
        self.organization_id: str = organization["Id"]
        self.management_account_id: str = organization["MasterAccountId"]
        root_id = organizations.list_roots()["Roots"][0]["Id"]
        self.ou_id: str = organizations.create_organizational_unit(
            ParentId=root_id, Name=f"{PROJECT}-{ENVIRONMENT}"
        )["OrganizationalUnit"]["Id"]
        organizations.tag_resource(
            ResourceId=self.ou_id,
            Tags=[
                {"Key": PROJECT_TAG, "Value": PROJECT},
                {"Key": ENVIRONMENT_TAG, "Value": ENVIRONMENT},
            ],
        )
        self.hub_account_id = self._create_account(organizations, "hub")
        self.new_account_id = self._create_account(organizations, "new-spoke")
        organizations.move_account(
            AccountId=self.new_account_id,
            SourceParentId=root_id,
            DestinationParentId=self.ou_id,
        )
        self.management.client("cloudformation").create_stack_set(
            StackSetName=stackset_name(PROJECT),
            TemplateBody=SPOKE_TEMPLATE,
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
            Parameters=[{"ParameterKey": "Environment", "ParameterValue": "unassigned"}],
        )
        self._deploy_hub()
        self._deploy_spoke()
        self._function(
            self.management,
            ORG_RECONCILER_FUNCTION_NAME,
            "org_stack.reconciler.runtime.handler.handler",
            environment_of(self.targeting()),
        )

    @staticmethod
    def _create_account(organizations: Any, name: str) -> str:
        account_id: str = organizations.create_account(
            AccountName=name, Email=f"{name}@example.com"
        )["CreateAccountStatus"]["AccountId"]
        return account_id

    def session(self, account_id: str) -> boto3.Session:
        return account_credentials(account_id, REGION).session(REGION)

    def targeting(self) -> TargetingSettings:
        return TargetingSettings(
            management_account_id=self.management_account_id,
            regions=(REGION,),
            projects=MappingProxyType({PROJECT: ProjectTargeting(PROJECT, (ENVIRONMENT, "prod"))}),
            project_tag_key=PROJECT_TAG,
            environment_tag_key=ENVIRONMENT_TAG,
        )

    def settings(self) -> EnrollmentSettings:
        return EnrollmentSettings(
            hub_account_id=self.hub_account_id,
            hub_region=REGION,
            hub_name=HUB_NAME,
            spoke_regions=(REGION,),
            targeting=self.targeting(),
            max_attempts=1,
            hub_bus_policy="organization",  # as the org stack sets it from the config
        )

    def _role(self, session: boto3.Session, name: str) -> str:
        arn: str = session.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST
        )["Role"]["Arn"]
        return arn

    def _function(
        self, session: boto3.Session, name: str, handler: str, variables: dict[str, str]
    ) -> None:
        session.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=self._role(session, f"{name}-execution"),
            Handler=handler,
            Code={"ZipFile": _code()},
            Timeout=60,
            Environment={"Variables": variables},
        )

    def _deploy_hub(self) -> None:
        hub = self.session(self.hub_account_id)
        hub.client("events").create_event_bus(Name=HUB_BUS_NAME)
        table_design.create_table(hub.client("dynamodb"), HUB_TABLE_NAME)
        self._role(hub, HUB_ENROLLMENT_ROLE_NAME)
        forwarder = self._role(hub, HUB_REFRESH_FORWARDER_ROLE_NAME)
        # As hub_stack sets it in organization mode.
        self._function(
            hub,
            HUB_CONNECTION_FUNCTION_NAME,
            "enrollment.connection.runtime.connection.handler",
            {
                "DSDASH_UNIT": "hub",
                "BUS_NAME": HUB_BUS_NAME,
                "FORWARDER_ROLE_ARN": forwarder,
                "BUS_POLICY_MODE": "organization",
                "ORGANIZATION_ID": self.organization_id,
                "SPOKE_REGIONS": REGION,
                "REFRESH_FANOUT": "topic",
            },
        )

    def _deploy_spoke(self) -> None:
        spoke = self.session(self.new_account_id)
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

    def simulate_enrolled_spokes(self, count: int) -> None:
        """The hub-side state of `count` enrolled spokes, written directly (not counted)."""
        ssm = ssm_backends[self.hub_account_id][REGION]
        store = HubStore(HUB_TABLE_NAME, self.session(self.hub_account_id))
        for index in range(count):
            account = existing_spoke_account(index)
            parameter: dict[str, Any] = {
                "name": monitored_account_parameter_name(PROJECT, ENVIRONMENT, account),
                "description": None,
                "value": account,
                "parameter_type": "String",
                "allowed_pattern": None,
                "keyid": None,
                "overwrite": True,
                "tags": [],
                "data_type": "text",
                "tier": None,
                "policies": None,
            }
            ssm.put_parameter(**parameter)
            store.registry.set_spoke_state(
                account,
                SpokeState.ENROLLED,
                reason="simulated",
                project_name=PROJECT,
                environment=ENVIRONMENT,
            )

    def move_account_event(self) -> dict[str, Any]:
        """The CloudTrail event of the new account's MoveAccount, as EventBridge delivers it."""
        return {
            "source": "aws.organizations",
            "detail-type": "AWS API Call via CloudTrail",
            "detail": {
                "eventSource": "organizations.amazonaws.com",
                "eventName": "MoveAccount",
                "requestParameters": {
                    "accountId": self.new_account_id,
                    "destinationParentId": self.ou_id,
                },
            },
        }

    def reconcile_account_moved(self, event: dict[str, Any]) -> None:
        """The reconciler function, invoked as its MoveAccount rule would invoke it."""
        # EventBridge invokes it: not a call of our code, so not through a counted client.
        function = lambda_backends[self.management_account_id][REGION].get_function(
            ORG_RECONCILER_FUNCTION_NAME
        )
        outcome = self.runtime.invoke(function, event)
        if not outcome.succeeded:
            raise RuntimeError(f"the reconciler failed: {outcome.error_message}")

    def stack_instance_created(self) -> dict[str, Any]:
        """What StackSets emits once the reconciler created the new account's instance."""
        cloudformation = self.management.client("cloudformation")
        arn = cloudformation.describe_stack_set(StackSetName=stackset_name(PROJECT))["StackSet"][
            "StackSetARN"
        ]
        return {
            "source": "aws.cloudformation",
            "detail-type": STACK_INSTANCE_DETAIL_TYPE,
            "detail": {
                "stack-set-arn": arn,
                "stack-id": (
                    f"arn:aws:cloudformation:{REGION}:{self.new_account_id}:stack/"
                    f"StackSet-{stackset_name(PROJECT)}-1/00000000-0000-4000-8000-000000000000"
                ),
                "action": "CREATE",
                "status-details": {"status": "CURRENT", "detailed-status": "SUCCEEDED"},
            },
        }


def enroll_one_more(existing: int) -> dict[str, Any]:
    """Calls of the new account's whole path with `existing` spokes enrolled."""
    with mock_aws(), moto_stacksets.service_managed_stacksets():
        world = EnrollmentWorld()
        world.simulate_enrolled_spokes(existing)
        settings = world.settings()
        with patched_lambda_invoke(world.runtime):
            moved = world.move_account_event()
            with count_all_calls(world.management) as placed:
                # Both functions' rules receive the MoveAccount event.
                handle_lifecycle_event(moved, settings, session=world.management)
                world.reconcile_account_moved(moved)
            change = world.stack_instance_created()
            with stopwatch() as watch, count_all_calls(world.management) as enrolled:
                report = handle_lifecycle_event(change, settings, session=world.management)
        registry = HubStore(HUB_TABLE_NAME, world.session(world.hub_account_id)).registry.get_spoke(
            world.new_account_id
        )
    failed = [record for record in world.runtime.history if not record.succeeded]
    return {
        "calls": placed.total() + enrolled.total(),
        "move_calls": placed.total(),
        "enroll_calls": enrolled.total(),
        "top": (placed.calls + enrolled.calls).most_common(6),
        "move_breakdown": dict(placed.calls),
        "enroll_breakdown": dict(enrolled.calls),
        "state": registry.state.value if registry else None,
        "report_state": report.state,
        "failed_invocations": [record.error for record in failed],
        "seconds": watch.seconds,
    }


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(
        name="enrollment",
        title="Enrollment: AWS calls to enroll one more spoke with N enrolled (moto)",
    )
    section = result.section("The new account's MoveAccount + reconcile + StackInstance CREATE")
    per_size: dict[str, Any] = {}
    largest: dict[str, Any] = {}
    for size in QUICK_SIZES if quick else FULL_SIZES:
        with stopwatch() as watch:
            measured = enroll_one_more(size)
        per_size[str(size)] = measured["calls"]
        largest = measured
        section.add(
            f"{size:,} enrolled: calls",
            measured["calls"],
            f"{measured['move_calls']} on MoveAccount (reconciler: path, instance; enrollment: "
            "registry check), "
            f"{measured['enroll_calls']} on the instance event; ended {measured['state']}; "
            f"goal <= {CALLS_PER_ACCOUNT_GOAL}; {watch.seconds:.1f} s with set-up",
        )
        if measured["failed_invocations"]:
            result.notes.append(f"{size}: failed invocations {measured['failed_invocations']}")
    section.add(
        "busiest operations (largest N)",
        ", ".join(f"{name} {count}" for name, count in largest.get("top", [])),
    )
    result.figures["calls_per_account"] = per_size
    result.figures["calls_per_account_max"] = max(per_size.values())
    result.figures["calls_per_account_goal"] = CALLS_PER_ACCOUNT_GOAL
    result.figures["calls_per_account_flat"] = len(set(per_size.values())) == 1
    if quick:
        # The rollout deploys the whole CDK app into the sandbox: a minute or more of synth and
        # deploy, too long for the quick run `make test` makes. `make bench` runs it.
        result.notes.append("rollout_200: full mode only (python -m bench --only enrollment)")
        return result
    measured = rollout(quick=quick)
    moved = result.section(
        f"{measured['accounts']} accounts moved into a tagged OU at once (sandbox: real "
        "reconciler, StackSet auto-deployment, enrollment)"
    )
    per_account = measured["calls"] / measured["accounts"]
    moved.add("enrolled", measured["enrolled"], f"of {measured['accounts']}")
    moved.add(
        "calls per account",
        per_account,
        f"{measured['calls']:,} calls in our functions; busiest "
        + ", ".join(f"{name} {count}" for name, count in measured["top"])
        + f"; {measured['seconds']:.1f} s",
    )
    result.figures[f"rollout_{measured['accounts']}"] = {
        "enrolled": measured["enrolled"],
        "calls_per_account": per_account,
        "calls": measured["calls"],
    }
    return result
