"""The enrollment function: connects spokes to the hub as accounts come and go (docs/architecture.md §2).

It runs in the org stack's account, the management account or the StackSets delegated
administrator (function `dsdash-org-enrollment`; docs/architecture.md §7), and reacts to:

- "CloudFormation StackSet StackInstance Status Change" for our spoke StackSets
  (`dsdash-spoke-<project>`; any other StackSet is ignored with a log line):
  - CREATE or UPDATE with detailed status SUCCEEDED: the spoke stack exists in that account and
    region, so `enroll_account` connects it (below);
  - DELETE SUCCEEDED: the spoke stack is gone, so `offboard_account` disconnects it.
- Organizations CreateAccountResult (SUCCEEDED), Control Tower CreateManagedAccount (SUCCEEDED)
  and MoveAccount: the account is recorded as pending when the OU tags place it in a project and
  environment, and a reconcile is started (asynchronous invoke of the reconciler), which creates
  its stack instance; its StackInstance event then enrolls it. A MoveAccount out of every tagged
  OU offboards a known spoke.
- Organizations CloseAccount: offboards a known spoke.

Enrolling (`enroll_account`), in order:
1. project from the StackSet, environment from the instance's `Environment` parameter override
   (DescribeStackInstance), else from the OU tags (the reconciler's desired state); a
   disagreement between the two is reported as a conflict, and the override wins because it is
   what the deployed extractor puts in its events;
2. assume `dsdash-hub-enrollment` in the hub and record the spoke as pending (reason
   "enrolling"), unless it is already enrolled for that project and environment: a replay must
   not make ingest reject a healthy spoke's events while it re-asserts the wiring. Then assume
   `dsdash-spoke-enrollment-<region>` in the spoke (see `cross_account`: no other role, ever);
3. write `/monitors/<HubName>` (hub account id) in the spoke and
   `/monitored_projects/<Project>/<env>/<AccountId>` in the hub, and delete the hub parameters
   that still name the account under another project or environment;
4. invoke the connection functions: EBPut hub, EBPut spoke, EBRule spoke, EBRule hub (in
   organization mode only the spoke's two: the hub keeps nothing per spoke, see
   `EnrollmentSettings.hub_bus_policy`);
5. mark the spoke enrolled in the hub registry.

Offboarding (`offboard_account`): delete `/monitors/<HubName>` and run Disconnect in each spoke
region (skipped, with a note, when the spoke cannot be reached: a closed account, a deleted stack),
delete every hub parameter naming the account, run Disconnect in the hub, mark it offboarded.
Metric history is never touched.

Failure and repair. A new account is not usable for some minutes (IAM propagation, functions
still being created), so each step is retried with exponential backoff on AccessDenied,
ResourceNotFound and throttling errors. When the last attempt fails the registry records the
state `failed` with the step and the AWS error code, and `EnrollmentStepFailed` is raised so the
Lambda's asynchronous retries and the reconcile schedule try again. Every step is idempotent
(parameters are only written when different, connection actions are idempotent), so re-running
the whole sequence repairs a spoke left half-connected, and replaying any event, in any order,
converges: a stack instance event is checked against the stack instance as it is now, and the
account events against the OU tags as they are now.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final, Literal, TypeVar

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from contracts import (
    HUB_CONNECTION_FUNCTION_NAME,
    HUB_TABLE_NAME,
    MONITORED_PROJECTS_PREFIX,
    ORG_RECONCILER_FUNCTION_NAME,
    SPOKE_CONNECTION_FUNCTION_NAME,
    monitor_parameter_name,
    monitored_account_parameter_name,
)
from enrollment.runtime.cross_account import (
    assume_enrollment_role,
    hub_enrollment_role_arn,
    spoke_enrollment_role_arn,
)
from enrollment.runtime.enrollment_errors import (
    AssignmentUnresolved,
    EnrollmentSettingsError,
    EnrollmentStepFailed,
    InvalidEnrollmentRequest,
)
from enrollment.runtime.lifecycle_events import (
    LifecycleEvent,
    ManagedAccountCreated,
    OperatorRequest,
    StackInstanceStatusChange,
    parse_lifecycle_event,
)
from hub_stack.runtime.store import HubStore, SpokeRecord, SpokeState, parse_timestamp
from org_stack.runtime.account_placement import desired_state_of_account
from org_stack.runtime.org_tree import read_organization_tree
from org_stack.runtime.organizations_events import OrganizationsChange
from org_stack.runtime.reconciler import (
    ENVIRONMENT_PARAMETER,
    DesiredState,
    ReconcilerSettings,
    ReconcilerSettingsError,
    compute_desired_state,
)
from org_stack.runtime.stackset_names import stackset_name
from runtime_common.aws import client, session_or_default

__all__ = [
    "EnrollmentReport",
    "EnrollmentSettings",
    "enroll_account",
    "handle_lifecycle_event",
    "handler",
    "offboard_account",
]

logger = Logger(service="dsdash-org-enrollment")

T = TypeVar("T")
Sleep = Callable[[float], None]
ReportAction = Literal["enroll", "offboard", "pending", "ignored"]

# A spoke pending longer than this lost its StackInstance event (or the enrollment it started):
# the sweep finishes it. StackSets usually deploy a new account's instance within minutes.
PENDING_GRACE: Final = timedelta(minutes=30)

# Errors a new account or a just-deployed stack gives for a few minutes, and throttling.
THROTTLING_ERROR_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "TooManyUpdates",
        "ProvisionedThroughputExceededException",
    }
)
RETRYABLE_ERROR_CODES: Final = THROTTLING_ERROR_CODES | {
    "AccessDenied",
    "AccessDeniedException",
    "ResourceNotFoundException",
    # Invoke while the function is still being created or updated (state Pending).
    "ResourceConflictException",
}
# While offboarding, these mean the spoke side is gone (closed account, deleted stack): the
# hub side is cleaned anyway.
SPOKE_UNREACHABLE_ERROR_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        # The connection function's own error when the spoke bus no longer exists.
        "EventBusNotFound",
    }
)
# Organizations events the org stack also routes to the reconciler (lifecycle_rules); Control
# Tower's CreateManagedAccount is not one, so enrollment starts that reconcile itself.
RECONCILER_OWN_EVENTS: Final = frozenset({"MoveAccount", "CreateAccountResult"})
ENROLLED_REASON: Final = "enrolled: parameters written, connection actions run"
ENROLLING_REASON: Final = "enrolling"
ACCOUNT_ID_PATTERN: Final = re.compile(r"^\d{12}$")
REGION_PATTERN: Final = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


# --------------------------------------------------------------------------------------------
# Settings and report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentSettings:
    """Where the hub is and how hard to try. See `from_env` for the environment variables."""

    hub_account_id: str
    hub_region: str
    hub_name: str
    spoke_regions: tuple[str, ...]
    # The config the reconciler works from (projects, environments, tag keys, CallAs).
    targeting: ReconcilerSettings
    hub_table_name: str = HUB_TABLE_NAME
    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    # Where the reconciler function runs; None: the enrollment function's own region.
    reconciler_region: str | None = None
    # The hub's bus policy mode (config hub.bus_policy), None when unknown. In "organization"
    # mode the hub keeps nothing per spoke: its bus policy is the hub stack's one organization
    # statement and spokes subscribe to its refresh topic, so enrollment skips the hub's EBPut
    # and EBRule (two invocations and their calls per account). Unknown: both run, as before.
    hub_bus_policy: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not ACCOUNT_ID_PATTERN.match(self.hub_account_id):
            problems.append(f"HUB_ACCOUNT_ID {self.hub_account_id!r} is not a 12-digit account id")
        if not REGION_PATTERN.match(self.hub_region):
            problems.append(f"HUB_REGION {self.hub_region!r} is not an AWS region name")
        if not self.hub_name or "/" in self.hub_name:
            problems.append(f"HUB_NAME {self.hub_name!r} must be a non-empty name without '/'")
        if not self.hub_table_name:
            problems.append("HUB_TABLE_NAME is empty")
        if not self.spoke_regions:
            problems.append("SPOKE_REGIONS is empty")
        problems.extend(
            f"SPOKE_REGIONS entry {region!r} is not an AWS region name"
            for region in self.spoke_regions
            if not REGION_PATTERN.match(region)
        )
        if self.max_attempts < 1:
            problems.append(f"MAX_ATTEMPTS {self.max_attempts} must be at least 1")
        if self.backoff_base_seconds < 0 or self.backoff_max_seconds < 0:
            problems.append("BACKOFF_BASE_SECONDS and BACKOFF_MAX_SECONDS must not be negative")
        if problems:
            raise EnrollmentSettingsError(
                "invalid enrollment function settings: " + "; ".join(problems)
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EnrollmentSettings:
        """Read HUB_ACCOUNT_ID, HUB_REGION, HUB_NAME, SPOKE_REGIONS (comma-separated), CONFIG
        and CALL_AS (as the reconciler reads them), and the optional HUB_TABLE_NAME,
        MAX_ATTEMPTS, BACKOFF_BASE_SECONDS, BACKOFF_MAX_SECONDS, RECONCILER_REGION,
        HUB_BUS_POLICY."""
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise EnrollmentSettingsError(f"environment variable {name} is not set")
            return value

        def number(name: str, default: float) -> float:
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                return float(text)
            except ValueError:
                raise EnrollmentSettingsError(
                    f"environment variable {name} must be a number, got {text!r}"
                ) from None

        attempts = number("MAX_ATTEMPTS", 5)
        if attempts != int(attempts):
            raise EnrollmentSettingsError(f"MAX_ATTEMPTS must be a whole number, got {attempts}")
        try:
            targeting = ReconcilerSettings.from_env(env)
        except ReconcilerSettingsError as error:
            raise EnrollmentSettingsError(str(error)) from error
        regions = {item.strip() for item in required("SPOKE_REGIONS").split(",")}
        return cls(
            hub_account_id=required("HUB_ACCOUNT_ID"),
            hub_region=required("HUB_REGION"),
            hub_name=required("HUB_NAME"),
            spoke_regions=tuple(sorted(region for region in regions if region)),
            targeting=targeting,
            hub_table_name=env.get("HUB_TABLE_NAME", "").strip() or HUB_TABLE_NAME,
            max_attempts=int(attempts),
            backoff_base_seconds=number("BACKOFF_BASE_SECONDS", 2.0),
            backoff_max_seconds=number("BACKOFF_MAX_SECONDS", 60.0),
            reconciler_region=env.get("RECONCILER_REGION", "").strip() or None,
            hub_bus_policy=env.get("HUB_BUS_POLICY", "").strip() or None,
        )

    def backoff_seconds(self, failed_attempt: int) -> float:
        """Pause after the n-th failed attempt: base, 2 x base, 4 x base, ... capped."""
        return float(
            min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (failed_attempt - 1))
        )


@dataclass
class EnrollmentReport:
    """What one enrollment, offboarding or lifecycle event did, for logs and the CLI."""

    account_id: str | None
    action: ReportAction
    project: str | None = None
    environment: str | None = None
    regions: tuple[str, ...] = ()
    # The registry state written last (None when the registry was not touched).
    state: str | None = None
    reason: str = ""
    # Each completed step and how many attempts it took.
    steps: list[dict[str, Any]] = field(default_factory=list)
    # The connection functions' reports, by step.
    connection_reports: dict[str, Any] = field(default_factory=dict)
    parameters_written: list[str] = field(default_factory=list)
    parameters_deleted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trigger: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return result


# --------------------------------------------------------------------------------------------
# Steps with retries
# --------------------------------------------------------------------------------------------


class _FunctionFailed(Exception):
    """A connection function ran and raised; its errorType is the step's error code."""

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        super().__init__(message)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)


@dataclass
class _Steps:
    account_id: str
    settings: EnrollmentSettings
    sleep: Sleep
    report: EnrollmentReport

    def run(
        self,
        step: str,
        operation: Callable[[], T],
        *,
        retry_on: frozenset[str] = RETRYABLE_ERROR_CODES,
    ) -> T:
        """Run one idempotent step, retrying `retry_on` errors with exponential backoff."""
        attempt = 1
        while True:
            try:
                result = operation()
            except ClientError as error:
                code = _error_code(error)
                if code in retry_on and attempt < self.settings.max_attempts:
                    pause = self.settings.backoff_seconds(attempt)
                    logger.info(
                        "step failed, retrying",
                        extra={
                            "account_id": self.account_id,
                            "step": step,
                            "error_code": code,
                            "attempt": attempt,
                            "pause_seconds": pause,
                        },
                    )
                    self.sleep(pause)
                    attempt += 1
                    continue
                raise EnrollmentStepFailed(
                    self.account_id, step, code, _error_message(error)
                ) from error
            except _FunctionFailed as error:
                # A connection action refused (quota, malformed peers): retrying cannot help.
                raise EnrollmentStepFailed(
                    self.account_id, step, error.error_type, str(error)
                ) from error
            self.report.steps.append({"step": step, "attempts": attempt})
            return result


def _record_failure(store: HubStore | None, failure: EnrollmentStepFailed) -> None:
    logger.error(
        "enrollment step failed",
        extra={
            "account_id": failure.account_id,
            "step": failure.step,
            "error_code": failure.error_code,
            "error": failure.detail,
        },
    )
    if store is None:
        return  # the hub itself is unreachable: the log and the raised error are all we have
    try:
        store.set_spoke_state(failure.account_id, SpokeState.FAILED, reason=failure.reason)
    except ClientError as error:
        logger.error(
            "could not record the failure in the hub registry",
            extra={"account_id": failure.account_id, "error": str(error)},
        )


# --------------------------------------------------------------------------------------------
# AWS operations (each idempotent)
# --------------------------------------------------------------------------------------------


def _invoke_connection(session: boto3.Session, function_name: str, payload: dict[str, Any]) -> Any:
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
        raise _FunctionFailed(
            str(details.get("errorType") or response["FunctionError"]),
            f"{function_name} {payload.get('action')}: "
            f"{details.get('errorMessage') or body.decode('utf-8', errors='replace')}",
        )
    return document


def _ensure_parameter(session: boto3.Session, name: str, value: str) -> bool:
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
        if _error_code(error) != "ParameterAlreadyExists":
            raise
    else:
        return True
    current = ssm.get_parameter(Name=name)["Parameter"]
    if current.get("Value") == value and current.get("Type") == "String":
        return False
    ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return True


def _delete_parameter(session: boto3.Session, name: str) -> bool:
    """Delete a parameter; a missing one is not an error (False)."""
    try:
        client(session, "ssm").delete_parameter(Name=name)
    except ClientError as error:
        if _error_code(error) == "ParameterNotFound":
            return False
        raise
    return True


@dataclass(frozen=True)
class _HubParameter:
    name: str
    value: str
    type: str

    @property
    def segments(self) -> list[str]:
        return self.name[len(MONITORED_PROJECTS_PREFIX) :].split("/")


def _hub_parameters(session: boto3.Session) -> Iterator[_HubParameter]:
    # Paged to the end: SSM may return an empty page with a NextToken.
    paginator = client(session, "ssm").get_paginator("get_parameters_by_path")
    for page in paginator.paginate(Path=MONITORED_PROJECTS_PREFIX, Recursive=True):
        for parameter in page.get("Parameters", []):
            yield _HubParameter(
                parameter["Name"], parameter.get("Value", ""), parameter.get("Type", "String")
            )


def _remove_account_from_hub_parameters(
    session: boto3.Session, account_id: str, *, keep: str | None = None
) -> list[str]:
    """Delete every hub parameter naming `account_id` except `keep`; return what changed.

    The per-account form `<Project>/<env>/<AccountId>` is deleted. The sample's form
    `<Project>/<env>` is deleted when its value is the account, and rewritten without it when it
    is a comma-separated list (`ssm_topology` reads both). Only offboarding passes no `keep` for
    the sample form: enrollment leaves operator-written sample parameters alone.
    """
    changed: list[str] = []
    for parameter in list(_hub_parameters(session)):
        segments = parameter.segments
        if len(segments) == 3 and segments[2] == account_id and parameter.name != keep:
            if _delete_parameter(session, parameter.name):
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
            elif _delete_parameter(session, parameter.name):
                changed.append(parameter.name)
    return changed


STACK_INSTANCE_NOT_FOUND: Final = "StackInstanceNotFoundException"

# DeleteParameters accepts at most 10 names per call (API reference).
DELETE_PARAMETERS_MAX_NAMES: Final = 10


def _remove_other_assignments(
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


def _current_stack_instance(
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
        if _error_code(error) == STACK_INSTANCE_NOT_FOUND:
            return None
        raise
    return described


def _environment_override(instance: Mapping[str, Any]) -> str | None:
    for override in instance.get("ParameterOverrides") or []:
        if override.get("ParameterKey") == ENVIRONMENT_PARAMETER:
            value = override.get("ParameterValue")
            return str(value) if value else None
    return None


def _desired_state(management: boto3.Session, settings: EnrollmentSettings) -> DesiredState:
    """The whole organization's desired state: for the sweep, which looks at every spoke."""
    tree = read_organization_tree(client(management, "organizations"))
    return compute_desired_state(tree, settings.targeting)


def _desired_state_of(
    management: boto3.Session, settings: EnrollmentSettings, account_id: str
) -> DesiredState:
    """One account's desired state, from its path to the root only: an event about one account
    costs the same calls in an organization of 10 or 10,000 accounts (account_placement)."""
    return desired_state_of_account(
        client(management, "organizations"), account_id, settings.targeting, read_state=False
    )


def _start_reconcile(
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


# --------------------------------------------------------------------------------------------
# Enroll and offboard
# --------------------------------------------------------------------------------------------


def _validate_account(account_id: str) -> None:
    if not ACCOUNT_ID_PATTERN.match(account_id):
        raise InvalidEnrollmentRequest(f"account {account_id!r} is not a 12-digit account id")


def _validate_regions(regions: Sequence[str], settings: EnrollmentSettings) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(regions))
    unknown = [region for region in chosen if region not in settings.spoke_regions]
    if not chosen or unknown:
        raise InvalidEnrollmentRequest(
            f"regions {list(chosen)!r} must be a non-empty subset of the configured spoke "
            f"regions {list(settings.spoke_regions)!r}"
        )
    return chosen


def _partition(management: boto3.Session, settings: EnrollmentSettings) -> str:
    return str(management.get_partition_for_region(settings.hub_region))


def _assume_hub(
    management: boto3.Session, settings: EnrollmentSettings, steps: _Steps, partition: str
) -> boto3.Session:
    arn = hub_enrollment_role_arn(partition, settings.hub_account_id)
    return steps.run(
        "assume hub enrollment role",
        lambda: assume_enrollment_role(
            management, arn, region=settings.hub_region, session_suffix=steps.account_id
        ),
    )


def _assume_spoke(
    management: boto3.Session,
    steps: _Steps,
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


def enroll_account(  # noqa: PLR0917 (the CLI's documented positional signature)
    account_id: str,
    project: str,
    environment: str,
    regions: Sequence[str],
    settings: EnrollmentSettings,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> EnrollmentReport:
    """Connect one spoke account (in `regions`) to the hub as `project`/`environment`.

    `session` acts in the management account (the function's own role, or the operator's for
    `dsdash enroll`); it is only used to assume the two enrollment roles. Raises
    `EnrollmentStepFailed` after recording the failure in the hub registry.
    """
    _validate_account(account_id)
    targeting = settings.targeting.projects.get(project)
    if targeting is None or environment not in targeting.environments:
        known = {name: list(p.environments) for name, p in settings.targeting.projects.items()}
        raise InvalidEnrollmentRequest(
            f"cannot enroll account {account_id} as {project!r}/{environment!r}: not a "
            f"configured project and environment ({known})"
        )
    chosen_regions = _validate_regions(regions, settings)
    management = session_or_default(session)
    report = EnrollmentReport(
        account_id=account_id,
        action="enroll",
        project=project,
        environment=environment,
        regions=chosen_regions,
    )
    steps = _Steps(account_id, settings, sleep, report)
    partition = _partition(management, settings)
    store: HubStore | None = None
    try:
        hub = _assume_hub(management, settings, steps, partition)
        store = HubStore(settings.hub_table_name, hub)
        hub_store = store
        existing = steps.run("read spoke registry", lambda: hub_store.get_spoke(account_id))
        if not _is_recorded_as(existing, project, environment):
            steps.run(
                "record pending",
                lambda: hub_store.set_spoke_state(
                    account_id,
                    SpokeState.PENDING,
                    reason=ENROLLING_REASON,
                    project_name=project,
                    environment=environment,
                ),
            )
        spokes = {
            region: _assume_spoke(management, steps, partition, region) for region in chosen_regions
        }

        monitor_name = monitor_parameter_name(settings.hub_name)
        for region, spoke in spokes.items():
            if steps.run(
                f"write {monitor_name} in {region}",
                partial(_ensure_parameter, spoke, monitor_name, settings.hub_account_id),
            ):
                report.parameters_written.append(f"{account_id}/{region}:{monitor_name}")
        hub_parameter = monitored_account_parameter_name(project, environment, account_id)
        if steps.run(
            f"write {hub_parameter} in the hub",
            lambda: _ensure_parameter(hub, hub_parameter, account_id),
        ):
            report.parameters_written.append(f"{settings.hub_account_id}:{hub_parameter}")
        stale = steps.run(
            "delete stale hub parameters",
            lambda: _remove_other_assignments(hub, account_id, settings, keep=hub_parameter),
        )
        report.parameters_deleted.extend(f"{settings.hub_account_id}:{name}" for name in stale)

        # The order matters: both sides grant PutEvents before either creates a rule that
        # targets the other's bus (docs/architecture.md §1).
        hub_side_per_spoke = settings.hub_bus_policy != "organization"
        if hub_side_per_spoke:
            _connection_step(
                steps, "EBPut hub", hub, HUB_CONNECTION_FUNCTION_NAME, {"action": "EBPut"}
            )
        for region, spoke in spokes.items():
            _connection_step(
                steps,
                f"EBPut spoke {region}",
                spoke,
                SPOKE_CONNECTION_FUNCTION_NAME,
                {"action": "EBPut"},
            )
        for region, spoke in spokes.items():
            _connection_step(
                steps,
                f"EBRule spoke {region}",
                spoke,
                SPOKE_CONNECTION_FUNCTION_NAME,
                {"action": "EBRule"},
            )
        if hub_side_per_spoke:
            _connection_step(
                steps, "EBRule hub", hub, HUB_CONNECTION_FUNCTION_NAME, {"action": "EBRule"}
            )
        else:
            report.notes.append(
                "hub EBPut and EBRule skipped: in organization mode the hub bus admits the "
                "organization and spokes subscribe to the hub refresh topic"
            )

        steps.run(
            "record enrolled",
            lambda: hub_store.set_spoke_state(
                account_id,
                SpokeState.ENROLLED,
                reason=ENROLLED_REASON,
                project_name=project,
                environment=environment,
            ),
        )
    except EnrollmentStepFailed as failure:
        _record_failure(store, failure)
        raise
    report.state = SpokeState.ENROLLED.value
    report.reason = ENROLLED_REASON
    logger.info("spoke enrolled", extra={"report": report.to_dict()})
    return report


def _is_recorded_as(existing: SpokeRecord | None, project: str, environment: str) -> bool:
    """Enrolled, or already pending, as this project and environment: no state to write first."""
    return (
        existing is not None
        and existing.state in (SpokeState.ENROLLED, SpokeState.PENDING)
        and existing.project_name == project
        and existing.environment == environment
    )


def _is_enrolled_as(existing: SpokeRecord | None, project: str, environment: str) -> bool:
    return (
        existing is not None
        and existing.state is SpokeState.ENROLLED
        and existing.project_name == project
        and existing.environment == environment
    )


def _connection_step(
    steps: _Steps, step: str, session: boto3.Session, function_name: str, payload: dict[str, Any]
) -> None:
    steps.report.connection_reports[step] = steps.run(
        step, partial(_invoke_connection, session, function_name, payload)
    )


def offboard_account(
    account_id: str,
    settings: EnrollmentSettings,
    session: boto3.Session | None = None,
    reason: str = "offboarded",
    *,
    regions: Sequence[str] | None = None,
    sleep: Sleep = time.sleep,
) -> EnrollmentReport:
    """Disconnect one account from the hub and mark it offboarded; its metric history stays.

    The spoke side (its `/monitors/<HubName>` and Disconnect of the hub) is best effort in each
    of `regions` (default: every configured spoke region): an unreachable spoke is skipped with
    a note. The hub side always runs. Raises `EnrollmentStepFailed` after recording it.
    """
    _validate_account(account_id)
    chosen_regions = _validate_regions(regions or settings.spoke_regions, settings)
    management = session_or_default(session)
    report = EnrollmentReport(account_id=account_id, action="offboard", regions=chosen_regions)
    steps = _Steps(account_id, settings, sleep, report)
    partition = _partition(management, settings)
    store: HubStore | None = None
    try:
        hub = _assume_hub(management, settings, steps, partition)
        store = HubStore(settings.hub_table_name, hub)
        hub_store = store
        existing = steps.run("read spoke registry", lambda: hub_store.get_spoke(account_id))
        if existing is not None:
            report.project, report.environment = existing.project_name, existing.environment

        skipped = [
            region
            for region in chosen_regions
            if not _disconnect_spoke_region(management, settings, steps, partition, region)
        ]

        # Parameters first, then Disconnect: otherwise the next EBPut/EBRule reconnects it.
        deleted = steps.run(
            "delete hub parameters", lambda: _remove_account_from_hub_parameters(hub, account_id)
        )
        report.parameters_deleted.extend(f"{settings.hub_account_id}:{name}" for name in deleted)
        _connection_step(
            steps,
            "Disconnect hub",
            hub,
            HUB_CONNECTION_FUNCTION_NAME,
            {"action": "Disconnect", "account": account_id},
        )
        final_reason = reason
        if skipped:
            final_reason += f" (spoke unreachable in {', '.join(skipped)}; hub side cleaned)"
        steps.run(
            "record offboarded",
            lambda: hub_store.set_spoke_state(
                account_id, SpokeState.OFFBOARDED, reason=final_reason
            ),
        )
    except EnrollmentStepFailed as failure:
        _record_failure(store, failure)
        raise
    report.state = SpokeState.OFFBOARDED.value
    report.reason = final_reason
    logger.info("spoke offboarded", extra={"report": report.to_dict()})
    return report


def _disconnect_spoke_region(
    management: boto3.Session,
    settings: EnrollmentSettings,
    steps: _Steps,
    partition: str,
    region: str,
) -> bool:
    """Remove the spoke's side in one region; False (with a note) if the spoke is unreachable.

    Only throttling is retried here: a closed account or a deleted stack stays unreachable.
    """
    monitor_name = monitor_parameter_name(settings.hub_name)
    try:
        spoke = _assume_spoke(management, steps, partition, region, retry_on=THROTTLING_ERROR_CODES)
        if steps.run(
            f"delete {monitor_name} in {region}",
            lambda: _delete_parameter(spoke, monitor_name),
            retry_on=THROTTLING_ERROR_CODES,
        ):
            steps.report.parameters_deleted.append(f"{steps.account_id}/{region}:{monitor_name}")
        steps.report.connection_reports[f"Disconnect spoke {region}"] = steps.run(
            f"Disconnect spoke {region}",
            lambda: _invoke_connection(
                spoke,
                SPOKE_CONNECTION_FUNCTION_NAME,
                {"action": "Disconnect", "account": settings.hub_account_id},
            ),
            retry_on=THROTTLING_ERROR_CODES,
        )
    except EnrollmentStepFailed as failure:
        if failure.error_code not in SPOKE_UNREACHABLE_ERROR_CODES:
            raise
        steps.report.notes.append(f"spoke side in {region} skipped: {failure.reason}")
        logger.warning(
            "spoke unreachable while offboarding; hub side is still cleaned",
            extra={"account_id": steps.account_id, "region": region, "reason": failure.reason},
        )
        return False
    return True


# --------------------------------------------------------------------------------------------
# Lifecycle events
# --------------------------------------------------------------------------------------------


def handle_lifecycle_event(
    lifecycle: LifecycleEvent,
    settings: EnrollmentSettings,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> EnrollmentReport:
    """Act on one parsed lifecycle event (see the module docstring)."""
    management = session_or_default(session)
    if isinstance(lifecycle, StackInstanceStatusChange):
        report = _on_stack_instance_change(lifecycle, settings, management, sleep)
    elif isinstance(lifecycle, ManagedAccountCreated):
        if not lifecycle.succeeded or lifecycle.account_id is None:
            report = _ignored(lifecycle.account_id, f"CreateManagedAccount state {lifecycle.state}")
        else:
            report = _on_account_placed(
                lifecycle.account_id, "CreateManagedAccount", settings, management, sleep
            )
    elif isinstance(lifecycle, OperatorRequest):
        report = handle_operator_request(lifecycle, settings, session=management, sleep=sleep)
    else:
        report = _on_organizations_change(lifecycle, settings, management, sleep)
    report.trigger = lifecycle.to_dict()
    return report


def _ignored(account_id: str | None, why: str) -> EnrollmentReport:
    logger.info("event ignored", extra={"account_id": account_id, "why": why})
    return EnrollmentReport(account_id=account_id, action="ignored", notes=[why])


def _on_stack_instance_change(
    change: StackInstanceStatusChange,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    if change.project is None:
        return _ignored(change.account_id, f"StackSet {change.stack_set_name} is not a dsdash one")
    if change.action not in ("CREATE", "UPDATE", "DELETE") or not change.succeeded:
        return _ignored(
            change.account_id,
            f"{change.action} {change.detailed_status} of {change.stack_set_name} in "
            f"{change.region}: only SUCCEEDED creates, updates and deletes change enrollment",
        )
    if change.region not in settings.spoke_regions:
        return _ignored(
            change.account_id,
            f"region {change.region} is not a configured spoke region; the reconciler removes "
            "the instance",
        )
    cloudformation = client(management, "cloudformation", region_name=change.stack_set_region)
    instance = _current_stack_instance(
        cloudformation,
        change.stack_set_name,
        change.account_id,
        change.region,
        settings.targeting.call_as,
    )
    if change.action == "DELETE":
        if instance is not None:
            return _ignored(
                change.account_id,
                f"stale DELETE: the instance of {change.stack_set_name} in {change.region} "
                "exists again",
            )
        return _on_stack_instance_deleted(change, settings, management, sleep)
    if instance is None:
        return _ignored(
            change.account_id,
            f"stale {change.action}: the instance of {change.stack_set_name} in {change.region} "
            "no longer exists",
        )
    project = change.project
    # The reconciler sets the Environment override from the OU tags, and the deployed extractor
    # reports it: it is the assignment. Only an instance without one (deployed by hand, or by
    # auto-deployment before the reconciler's update) is resolved from the tags, so a rollout to
    # hundreds of accounts does not spend Organizations' API rate on one tree walk per event.
    environment = _environment_override(instance) or _environment_from_tags(
        change, project, _desired_state_of(management, settings, change.account_id)
    )
    return enroll_account(
        change.account_id,
        project,
        environment,
        (change.region,),
        settings,
        session=management,
        sleep=sleep,
    )


def _environment_from_tags(
    change: StackInstanceStatusChange, project: str, desired: DesiredState
) -> str:
    wanted = desired.instances.get(change.account_id)
    if wanted is not None and wanted.project == project:
        return wanted.environment
    why = (
        f"the OU tags place it in project {wanted.project!r}"
        if wanted is not None
        else "the OU tags place it in no project (untagged or conflicting tags)"
    )
    raise AssignmentUnresolved(
        f"cannot tell the environment of account {change.account_id} in {project}: its stack "
        f"instance of {change.stack_set_name} in {change.region} has no {ENVIRONMENT_PARAMETER} "
        f"override and {why}"
    )


def _on_stack_instance_deleted(
    change: StackInstanceStatusChange,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    """Offboard, unless the account stays a spoke of this project in other regions (a region
    removed from the config): then only this region's spoke side goes.

    Whether it stays is read from the OU tags, not from the other regions' instances, which
    are being deleted at the same time when the account leaves."""
    wanted = _desired_state_of(management, settings, change.account_id).instances.get(
        change.account_id
    )
    still_wanted = wanted is not None and wanted.project == change.project
    other_regions = [r for r in settings.spoke_regions if r != change.region]
    reason = f"stack instance of {change.stack_set_name} in {change.region} deleted"
    if not (still_wanted and other_regions):
        return offboard_account(change.account_id, settings, management, reason, sleep=sleep)
    report = EnrollmentReport(
        account_id=change.account_id,
        action="offboard",
        project=change.project,
        regions=(change.region,),
        reason=reason,
        notes=[f"hub wiring kept: the account stays a spoke in {', '.join(other_regions)}"],
    )
    steps = _Steps(change.account_id, settings, sleep, report)
    _disconnect_spoke_region(
        management, settings, steps, _partition(management, settings), change.region
    )
    return report


def _on_account_placed(
    account_id: str,
    event_name: str,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    """An account appeared or moved: mark it pending where the OU tags want it, offboard it
    where they no longer do (a move), then start a reconcile of that account.

    For MoveAccount and CreateAccountResult, which the reconciler receives itself, an account the
    registry does not know as a spoke costs two calls and is left to the reconciler: it creates
    the stack instance when the OU tags want one, and that instance's event enrolls it (a lost
    event is found by the sweep, `_unregistered_instances`). Only a known spoke's move is looked
    at here (re-assigned: pending; moved out of every tagged OU: offboarded). A known spoke
    re-assigned to another project also gets a reconcile request naming its previous project:
    the reconciler's one-account pass reads only the StackSet of the project the tags want
    (`org_stack.runtime.account_reconcile`), so the registry is what names the StackSet whose
    instance is now stale."""
    known = (
        _active_spoke(account_id, settings, management, sleep)
        if event_name in RECONCILER_OWN_EVENTS
        else None
    )
    if event_name in RECONCILER_OWN_EVENTS and known is None:
        return _ignored(
            account_id,
            f"{event_name}: not a spoke yet; the reconciler creates its stack instance if the OU "
            "tags want one, and that instance's event enrolls it",
        )
    desired = _desired_state_of(management, settings, account_id)
    wanted = desired.instances.get(account_id)
    if wanted is not None:
        report = _record_pending(
            account_id,
            project=wanted.project,
            environment=wanted.environment,
            event_name=event_name,
            settings=settings,
            management=management,
            sleep=sleep,
        )
    elif account_id in desired.frozen_account_ids:
        report = _ignored(account_id, "the account's OU tags conflict; see the reconciler report")
    elif event_name == "MoveAccount":
        report = _offboard_known_spoke(
            account_id, "moved out of every tagged OU", settings, management, sleep
        )
    else:
        report = _ignored(account_id, "no OU tag places the account in a project")
    trigger: dict[str, Any] = {"reason": event_name, "account": account_id}
    previous = known.project_name if known is not None else None
    if event_name in RECONCILER_OWN_EVENTS:
        if wanted is None or previous is None or previous == wanted.project:
            # The reconciler's own rule receives this event and reconciles the account; starting
            # another reconcile here made every account of a rollout cost two.
            report.notes.append(f"the reconciler handles {event_name} itself")
            return report
        trigger["previous_projects"] = [previous]
        report.notes.append(f"reconcile requested for the instance of previous project {previous}")
    steps = _Steps(account_id, settings, sleep, report)
    steps.run(
        "start reconcile",
        lambda: _start_reconcile(management, settings, trigger),
        retry_on=THROTTLING_ERROR_CODES,
    )
    return report


def _active_spoke(
    account_id: str, settings: EnrollmentSettings, management: boto3.Session, sleep: Sleep
) -> SpokeRecord | None:
    """The registry's record of the account, unless it has none or offboarded it."""
    probe = EnrollmentReport(account_id=account_id, action="ignored")
    steps = _Steps(account_id, settings, sleep, probe)
    hub = _assume_hub(management, settings, steps, _partition(management, settings))
    existing = steps.run(
        "read spoke registry",
        lambda: HubStore(settings.hub_table_name, hub).get_spoke(account_id),
    )
    if existing is None or existing.state is SpokeState.OFFBOARDED:
        return None
    return existing


def _record_pending(
    account_id: str,
    *,
    project: str,
    environment: str,
    event_name: str,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    report = EnrollmentReport(
        account_id=account_id, action="pending", project=project, environment=environment
    )
    steps = _Steps(account_id, settings, sleep, report)
    hub = _assume_hub(management, settings, steps, _partition(management, settings))
    store = HubStore(settings.hub_table_name, hub)
    existing = steps.run("read spoke registry", lambda: store.get_spoke(account_id))
    if _is_enrolled_as(existing, project, environment):
        # A replayed or redundant event must not un-enroll a connected spoke.
        report.notes.append(f"already enrolled as {project}/{environment}")
        report.state = SpokeState.ENROLLED.value
        return report
    reason = f"{event_name}: waiting for the stack instance of {stackset_name(project)}"
    steps.run(
        "record pending",
        lambda: store.set_spoke_state(
            account_id,
            SpokeState.PENDING,
            reason=reason,
            project_name=project,
            environment=environment,
        ),
    )
    report.state, report.reason = SpokeState.PENDING.value, reason
    return report


def _offboard_known_spoke(
    account_id: str,
    reason: str,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    """Offboard an account the registry knows and has not offboarded yet; others are no spoke."""
    probe = EnrollmentReport(account_id=account_id, action="ignored")
    steps = _Steps(account_id, settings, sleep, probe)
    hub = _assume_hub(management, settings, steps, _partition(management, settings))
    existing = steps.run(
        "read spoke registry",
        lambda: HubStore(settings.hub_table_name, hub).get_spoke(account_id),
    )
    if existing is None or existing.state is SpokeState.OFFBOARDED:
        probe.notes.append("not an active dsdash spoke: nothing to offboard")
        return probe
    return offboard_account(account_id, settings, management, reason, sleep=sleep)


def _on_organizations_change(
    change: OrganizationsChange,
    settings: EnrollmentSettings,
    management: boto3.Session,
    sleep: Sleep,
) -> EnrollmentReport:
    account_id = change.account_id
    if account_id is None:
        return _ignored(None, f"{change.event_name} names no account")
    if account_id == settings.targeting.management_account_id:
        return _ignored(account_id, "the management account is never a spoke")
    if change.event_name == "CreateAccountResult":
        if change.create_account_state != "SUCCEEDED":
            return _ignored(account_id, f"CreateAccountResult state {change.create_account_state}")
        return _on_account_placed(account_id, change.event_name, settings, management, sleep)
    if change.event_name == "MoveAccount":
        return _on_account_placed(account_id, change.event_name, settings, management, sleep)
    # CloseAccount (parse_lifecycle_event admits nothing else).
    return _offboard_known_spoke(account_id, "account closed", settings, management, sleep)


def handle_operator_request(
    request: OperatorRequest,
    settings: EnrollmentSettings,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> EnrollmentReport:
    """`dsdash enroll|offboard`, run by this function with its own role (parse_operator_request
    guarantees an account, and a project and environment to enroll)."""
    account_id = request.account_id or ""
    if request.action == "enroll":
        return enroll_account(
            account_id,
            request.project or "",
            request.environment or "",
            request.regions or settings.spoke_regions,
            settings,
            session,
            sleep,
        )
    return offboard_account(
        account_id,
        settings,
        session,
        request.reason or "offboarded by an operator (dsdash offboard)",
        regions=request.regions or None,
        sleep=sleep,
    )


def _unregistered_instances(
    cloudformation: Any, settings: EnrollmentSettings, known: set[str]
) -> list[str]:
    """Accounts with a stack instance of one of our StackSets but no registry item: a new
    account whose instance event was lost (MoveAccount and CreateAccountResult no longer record
    new accounts as pending). Paged to the end; one call per 100 instances and StackSet."""
    found: set[str] = set()
    paginator = cloudformation.get_paginator("list_stack_instances")
    for project in sorted(settings.targeting.projects):
        try:
            for page in paginator.paginate(
                StackSetName=stackset_name(project), CallAs=settings.targeting.call_as
            ):
                found.update(
                    str(summary["Account"])
                    for summary in page.get("Summaries", [])
                    if summary.get("Region") in settings.spoke_regions
                    and summary.get("Account") not in known
                )
        except ClientError as error:
            if _error_code(error) != "StackSetNotFoundException":
                raise
    return sorted(found)


def sweep_unfinished_enrollments(
    settings: EnrollmentSettings,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
    now: datetime | None = None,
) -> list[EnrollmentReport]:
    """Re-run enrollment for spokes recorded `failed`, or `pending` for longer than
    PENDING_GRACE, and for accounts with a stack instance but no registry item (a lost
    instance event), whose stack instances exist: a failed step leaves a state that a re-run
    repairs, and this schedule is that re-run. Spokes the OU tags no longer want, or whose
    instances do not exist yet (the reconciler creates them, and their event enrolls them), are
    left as they are."""
    management = session_or_default(session)
    moment = now or datetime.now(UTC)
    hub = assume_enrollment_role(
        management,
        hub_enrollment_role_arn(_partition(management, settings), settings.hub_account_id),
        region=settings.hub_region,
        session_suffix="sweep",
    )
    spokes = HubStore(settings.hub_table_name, hub).list_spokes()
    unfinished = [
        spoke.account_id
        for spoke in spokes
        if spoke.state == SpokeState.FAILED
        or (
            spoke.state == SpokeState.PENDING
            and (
                spoke.updated_at is None
                or parse_timestamp(spoke.updated_at) < moment - PENDING_GRACE
            )
        )
    ]
    cloudformation = client(management, "cloudformation")
    unfinished += _unregistered_instances(
        cloudformation, settings, {spoke.account_id for spoke in spokes}
    )
    if not unfinished:
        return []
    desired = _desired_state(management, settings)
    reports = []
    for account_id in unfinished:
        wanted = desired.instances.get(account_id)
        if wanted is None:
            reports.append(_ignored(account_id, "sweep: no OU tag wants the account now"))
            continue
        regions = tuple(
            region
            for region in settings.spoke_regions
            if _current_stack_instance(
                cloudformation,
                stackset_name(wanted.project),
                account_id,
                region,
                settings.targeting.call_as,
            )
            is not None
        )
        if not regions:
            reports.append(_ignored(account_id, "sweep: its stack instance does not exist yet"))
            continue
        try:
            reports.append(
                enroll_account(
                    account_id,
                    wanted.project,
                    wanted.environment,
                    regions,
                    settings,
                    management,
                    sleep,
                )
            )
        except EnrollmentStepFailed as failure:
            # Recorded in the registry by enroll_account; the next sweep tries again.
            reports.append(
                EnrollmentReport(
                    account_id=account_id,
                    action="enroll",
                    state=SpokeState.FAILED,
                    reason=failure.reason,
                )
            )
    return reports


def handler(
    event: Any,
    context: Any,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> dict[str, Any]:
    """Lambda entry point. An event of another type raises `UnsupportedLifecycleEvent`; a step
    that keeps failing raises `EnrollmentStepFailed` (after recording it), so asynchronous
    invocation retries it."""
    lifecycle = parse_lifecycle_event(event)
    logger.info("lifecycle event", extra={"event": lifecycle.to_dict()})
    settings = EnrollmentSettings.from_env()
    if isinstance(lifecycle, OperatorRequest) and lifecycle.action == "sweep":
        swept = sweep_unfinished_enrollments(settings, session=session, sleep=sleep)
        result = {"swept": [report.to_dict() for report in swept]}
        logger.info("sweep finished", extra=result)
        return result
    report = handle_lifecycle_event(lifecycle, settings, session=session, sleep=sleep)
    result = report.to_dict()
    logger.info("lifecycle event handled", extra={"report": result})
    return result
