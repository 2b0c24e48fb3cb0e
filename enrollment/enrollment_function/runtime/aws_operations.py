"""The AWS operations enrollment is made of, each idempotent: the hub and spoke parameters, the
connection function invocations, the stack instance as CloudFormation has it now, the account's
placement (`enrollment.placement`), the reconcile request, and the roles it assumes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from contracts import (
    MONITORED_PROJECTS_PREFIX,
    ORG_RECONCILER_FUNCTION_NAME,
    monitored_account_parameter_name,
)
from enrollment.enrollment_function.runtime.cross_account import (
    assume_enrollment_role,
    hub_enrollment_role_arn,
    spoke_enrollment_role_arn,
)
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from enrollment.enrollment_function.runtime.steps import (
    RETRYABLE_ERROR_CODES,
    FunctionFailed,
    Steps,
    error_code,
)
from enrollment.placement.account_path import desired_state_of_account
from enrollment.placement.org_tree import read_organization_tree
from enrollment.placement.policy import DesiredState, compute_desired_state
from enrollment.placement.stackset_names import ENVIRONMENT_PARAMETER
from runtime_common.aws import client

logger = Logger(service="dsdash-org-enrollment")


def invoke_connection(session: boto3.Session, function_name: str, payload: dict[str, Any]) -> Any:
    """Run a connection action synchronously; a FunctionError in the response is a failure."""
    response = client(session, "lambda").invoke(
        FunctionName=function_name,
        InvocationType="RequestResponse",
        Payload=json.dumps(payload).encode("utf-8"),
    )
    body = response["Payload"].read()
    document = json.loads(body) if body else None
    if response.get("FunctionError"):
        details = document if isinstance(document, Mapping) else {}
        raise FunctionFailed(
            str(details.get("errorType") or response["FunctionError"]),
            f"{function_name} {payload.get('action')}: "
            f"{details.get('errorMessage') or body.decode('utf-8', errors='replace')}",
        )
    return document


def ensure_parameter(session: boto3.Session, name: str, value: str) -> bool:
    """Write a String parameter unless it already holds `value`; True if written.

    A first enrollment creates it in one call (PutParameter without Overwrite). Only when it
    exists is it read, and rewritten only when different: a replay must not add a parameter
    version each time (SSM keeps at most 100:
    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-versions.html).
    """
    ssm = client(session, "ssm")
    try:
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=False)
    except ClientError as error:
        if error_code(error) != "ParameterAlreadyExists":
            raise
    else:
        return True
    current = ssm.get_parameter(Name=name)["Parameter"]
    if current.get("Value") == value and current.get("Type") == "String":
        return False
    ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return True


def delete_parameter(session: boto3.Session, name: str) -> bool:
    """Delete a parameter; a missing one is not an error (False)."""
    try:
        client(session, "ssm").delete_parameter(Name=name)
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return False
        raise
    return True


@dataclass(frozen=True)
class HubParameter:
    name: str
    value: str
    type: str

    @property
    def segments(self) -> list[str]:
        return self.name[len(MONITORED_PROJECTS_PREFIX) :].split("/")


def hub_parameters(session: boto3.Session) -> Iterator[HubParameter]:
    # Paged to the end: SSM may return an empty page with a NextToken.
    paginator = client(session, "ssm").get_paginator("get_parameters_by_path")
    for page in paginator.paginate(Path=MONITORED_PROJECTS_PREFIX, Recursive=True):
        for parameter in page.get("Parameters", []):
            yield HubParameter(
                parameter["Name"], parameter.get("Value", ""), parameter.get("Type", "String")
            )


def remove_account_from_hub_parameters(
    session: boto3.Session, account_id: str, *, keep: str | None = None
) -> list[str]:
    """Delete every hub parameter naming `account_id` except `keep`; return what changed.

    The per-account form `<Project>/<env>/<AccountId>` is deleted. The sample's form
    `<Project>/<env>` is deleted when its value is the account, and rewritten without it when it
    is a comma-separated list (`ssm_topology` reads both). Only offboarding passes no `keep` for
    the sample form: enrollment leaves operator-written sample parameters alone.
    """
    changed: list[str] = []
    for parameter in list(hub_parameters(session)):
        segments = parameter.segments
        if len(segments) == 3 and segments[2] == account_id and parameter.name != keep:
            if delete_parameter(session, parameter.name):
                changed.append(parameter.name)
        elif len(segments) == 2 and keep is None:
            listed = [item.strip() for item in parameter.value.split(",")]
            if account_id not in listed:
                continue
            remaining = [item for item in listed if item != account_id]
            if remaining:
                client(session, "ssm").put_parameter(
                    Name=parameter.name,
                    Value=",".join(remaining),
                    Type=parameter.type,
                    Overwrite=True,
                )
                changed.append(parameter.name)
            elif delete_parameter(session, parameter.name):
                changed.append(parameter.name)
    return changed


STACK_INSTANCE_NOT_FOUND: Final = "StackInstanceNotFoundException"

# DeleteParameters accepts at most 10 names per call (API reference).
DELETE_PARAMETERS_MAX_NAMES: Final = 10


def remove_other_assignments(
    session: boto3.Session, account_id: str, settings: EnrollmentSettings, *, keep: str
) -> list[str]:
    """Delete the account's per-account hub parameters under every other configured project and
    environment; return the names deleted.

    The candidate names come from the config, not from listing /monitored_projects: the listing
    cost one call per 10 enrolled spokes on every enrollment. Missing names are no error
    (DeleteParameters reports them as InvalidParameters). The sample's `<Project>/<env>` form is
    operator-written and left alone, as before; offboarding still removes the account from it.
    """
    candidates = [
        monitored_account_parameter_name(project.name, environment, account_id)
        for project in settings.targeting.projects.values()
        for environment in project.environments
    ]
    names = sorted(name for name in candidates if name != keep)
    ssm = client(session, "ssm")
    deleted: list[str] = []
    for start in range(0, len(names), DELETE_PARAMETERS_MAX_NAMES):
        response = ssm.delete_parameters(Names=names[start : start + DELETE_PARAMETERS_MAX_NAMES])
        deleted.extend(response.get("DeletedParameters", []))
    return deleted


def current_stack_instance(
    cloudformation: Any, stack_set: str, account_id: str, region: str, call_as: str
) -> dict[str, Any] | None:
    """The stack instance as CloudFormation has it now, with its overrides, or None.

    Described directly, a missing instance being StackInstanceNotFoundException: one call, where
    listing first cost two on every StackSet event (issue 11's budget of 30 calls per account).
    The sandbox fills moto's gap (an internal error instead of that exception) in
    `sandbox.moto_stacksets`.
    """
    try:
        described: dict[str, Any] = cloudformation.describe_stack_instance(
            StackSetName=stack_set,
            StackInstanceAccount=account_id,
            StackInstanceRegion=region,
            CallAs=call_as,
        )["StackInstance"]
    except ClientError as error:
        if error_code(error) == STACK_INSTANCE_NOT_FOUND:
            return None
        raise
    return described


def environment_override(instance: Mapping[str, Any]) -> str | None:
    for override in instance.get("ParameterOverrides") or []:
        if override.get("ParameterKey") == ENVIRONMENT_PARAMETER:
            value = override.get("ParameterValue")
            return str(value) if value else None
    return None


def desired_state(management: boto3.Session, settings: EnrollmentSettings) -> DesiredState:
    """The whole organization's desired state: for the sweep, which looks at every spoke."""
    tree = read_organization_tree(client(management, "organizations"))
    return compute_desired_state(tree, settings.targeting)


def desired_state_of(
    management: boto3.Session, settings: EnrollmentSettings, account_id: str
) -> DesiredState:
    """One account's desired state, from its path to the root only: an event about one account
    costs the same calls in an organization of 10 or 10,000 accounts (`enrollment.placement.account_path`)."""
    return desired_state_of_account(
        client(management, "organizations"), account_id, settings.targeting, read_state=False
    )


def start_reconcile(
    management: boto3.Session, settings: EnrollmentSettings, trigger: Mapping[str, Any]
) -> None:
    """Invoke the reconciler asynchronously: it creates the account's stack instance, whose
    StackInstance event then enrolls it."""
    client(management, "lambda", region_name=settings.reconciler_region).invoke(
        FunctionName=ORG_RECONCILER_FUNCTION_NAME,
        InvocationType="Event",
        Payload=json.dumps(
            {"source": "dsdash.enrollment", "detail-type": "reconcile request", "detail": trigger}
        ).encode("utf-8"),
    )


def partition_of(management: boto3.Session, settings: EnrollmentSettings) -> str:
    return str(management.get_partition_for_region(settings.hub_region))


def assume_hub(
    management: boto3.Session, settings: EnrollmentSettings, steps: Steps, partition: str
) -> boto3.Session:
    arn = hub_enrollment_role_arn(partition, settings.hub_account_id)
    return steps.run(
        "assume hub enrollment role",
        lambda: assume_enrollment_role(
            management, arn, region=settings.hub_region, session_suffix=steps.account_id
        ),
    )


def assume_spoke(
    management: boto3.Session,
    steps: Steps,
    partition: str,
    region: str,
    *,
    retry_on: frozenset[str] = RETRYABLE_ERROR_CODES,
) -> boto3.Session:
    arn = spoke_enrollment_role_arn(partition, steps.account_id, region)
    return steps.run(
        f"assume spoke enrollment role in {region}",
        lambda: assume_enrollment_role(
            management, arn, region=region, session_suffix=steps.account_id
        ),
        retry_on=retry_on,
    )
