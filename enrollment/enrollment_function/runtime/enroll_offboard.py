"""Enroll and offboard one account: the enrollment function's job (docs/architecture.md §2).

The function runs in the org stack's account, the management account or the StackSets delegated
administrator (function `dsdash-org-enrollment`; docs/architecture.md §7). Which events lead
here is its trigger table (`lifecycle_triggers`): a StackInstance CREATE or UPDATE SUCCEEDED of
our spoke StackSets enrolls the account in that region, a DELETE SUCCEEDED, a CloseAccount or a
move out of every tagged OU offboards it, and account creations and moves record it as pending
until its stack instance exists.

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

import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger

from contracts import (
    HUB_CONNECTION_FUNCTION_NAME,
    SPOKE_CONNECTION_FUNCTION_NAME,
    monitor_parameter_name,
    monitored_account_parameter_name,
)
from enrollment.enrollment_function.runtime.aws_operations import (
    assume_hub,
    assume_spoke,
    delete_parameter,
    ensure_parameter,
    invoke_connection,
    partition_of,
    remove_account_from_hub_parameters,
    remove_other_assignments,
)
from enrollment.enrollment_function.runtime.enrollment_errors import (
    EnrollmentStepFailed,
    InvalidEnrollmentRequest,
)
from enrollment.enrollment_function.runtime.report import EnrollmentReport
from enrollment.enrollment_function.runtime.settings import (
    EnrollmentSettings,
    Sleep,
)
from enrollment.enrollment_function.runtime.steps import (
    SPOKE_UNREACHABLE_ERROR_CODES,
    THROTTLING_ERROR_CODES,
    Steps,
    record_failure,
)
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState
from hub_stack.spoke_registry.registry import SpokeRegistry
from runtime_common.aws import session_or_default
from runtime_common.identifiers import is_account_id

logger = Logger(service="dsdash-org-enrollment")


ENROLLED_REASON: Final = "enrolled: parameters written, connection actions run"
ENROLLING_REASON: Final = "enrolling"


def validate_account(account_id: str) -> None:
    if not is_account_id(account_id):
        raise InvalidEnrollmentRequest(f"account {account_id!r} is not a 12-digit account id")


def validate_regions(regions: Sequence[str], settings: EnrollmentSettings) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(regions))
    unknown = [region for region in chosen if region not in settings.spoke_regions]
    if not chosen or unknown:
        raise InvalidEnrollmentRequest(
            f"regions {list(chosen)!r} must be a non-empty subset of the configured spoke "
            f"regions {list(settings.spoke_regions)!r}"
        )
    return chosen


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
    validate_account(account_id)
    targeting = settings.targeting.projects.get(project)
    if targeting is None or environment not in targeting.environments:
        known = {name: list(p.environments) for name, p in settings.targeting.projects.items()}
        raise InvalidEnrollmentRequest(
            f"cannot enroll account {account_id} as {project!r}/{environment!r}: not a "
            f"configured project and environment ({known})"
        )
    chosen_regions = validate_regions(regions, settings)
    management = session_or_default(session)
    report = EnrollmentReport(
        account_id=account_id,
        action="enroll",
        project=project,
        environment=environment,
        regions=chosen_regions,
    )
    steps = Steps(account_id, settings, sleep, report)
    partition = partition_of(management, settings)
    registry: SpokeRegistry | None = None
    try:
        hub = assume_hub(management, settings, steps, partition)
        registry = SpokeRegistry(settings.hub_table_name, hub)
        hub_registry = registry
        existing = steps.run("read spoke registry", lambda: hub_registry.get_spoke(account_id))
        if not is_recorded_as(existing, project, environment):
            steps.run(
                "record pending",
                lambda: hub_registry.set_spoke_state(
                    account_id,
                    SpokeState.PENDING,
                    reason=ENROLLING_REASON,
                    project_name=project,
                    environment=environment,
                ),
            )
        spokes = {
            region: assume_spoke(management, steps, partition, region) for region in chosen_regions
        }

        monitor_name = monitor_parameter_name(settings.hub_name)
        for region, spoke in spokes.items():
            if steps.run(
                f"write {monitor_name} in {region}",
                partial(ensure_parameter, spoke, monitor_name, settings.hub_account_id),
            ):
                report.parameters_written.append(f"{account_id}/{region}:{monitor_name}")
        hub_parameter = monitored_account_parameter_name(project, environment, account_id)
        if steps.run(
            f"write {hub_parameter} in the hub",
            lambda: ensure_parameter(hub, hub_parameter, account_id),
        ):
            report.parameters_written.append(f"{settings.hub_account_id}:{hub_parameter}")
        stale = steps.run(
            "delete stale hub parameters",
            lambda: remove_other_assignments(hub, account_id, settings, keep=hub_parameter),
        )
        report.parameters_deleted.extend(f"{settings.hub_account_id}:{name}" for name in stale)

        # The order matters: both sides grant PutEvents before either creates a rule that
        # targets the other's bus (docs/architecture.md §1).
        hub_side_per_spoke = settings.hub_bus_policy != "organization"
        if hub_side_per_spoke:
            connection_step(
                steps, "EBPut hub", hub, HUB_CONNECTION_FUNCTION_NAME, {"action": "EBPut"}
            )
        for region, spoke in spokes.items():
            connection_step(
                steps,
                f"EBPut spoke {region}",
                spoke,
                SPOKE_CONNECTION_FUNCTION_NAME,
                {"action": "EBPut"},
            )
        for region, spoke in spokes.items():
            connection_step(
                steps,
                f"EBRule spoke {region}",
                spoke,
                SPOKE_CONNECTION_FUNCTION_NAME,
                {"action": "EBRule"},
            )
        if hub_side_per_spoke:
            connection_step(
                steps, "EBRule hub", hub, HUB_CONNECTION_FUNCTION_NAME, {"action": "EBRule"}
            )
        else:
            report.notes.append(
                "hub EBPut and EBRule skipped: in organization mode the hub bus admits the "
                "organization and spokes subscribe to the hub refresh topic"
            )

        steps.run(
            "record enrolled",
            lambda: hub_registry.set_spoke_state(
                account_id,
                SpokeState.ENROLLED,
                reason=ENROLLED_REASON,
                project_name=project,
                environment=environment,
            ),
        )
    except EnrollmentStepFailed as failure:
        record_failure(registry, failure)
        raise
    report.state = SpokeState.ENROLLED.value
    report.reason = ENROLLED_REASON
    logger.info("spoke enrolled", extra={"report": report.to_dict()})
    return report


def is_recorded_as(existing: SpokeRecord | None, project: str, environment: str) -> bool:
    """Enrolled, or already pending, as this project and environment: no state to write first."""
    return (
        existing is not None
        and existing.state in (SpokeState.ENROLLED, SpokeState.PENDING)
        and existing.project_name == project
        and existing.environment == environment
    )


def is_enrolled_as(existing: SpokeRecord | None, project: str, environment: str) -> bool:
    return (
        existing is not None
        and existing.state is SpokeState.ENROLLED
        and existing.project_name == project
        and existing.environment == environment
    )


def connection_step(
    steps: Steps, step: str, session: boto3.Session, function_name: str, payload: dict[str, Any]
) -> None:
    steps.report.connection_reports[step] = steps.run(
        step, partial(invoke_connection, session, function_name, payload)
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
    validate_account(account_id)
    chosen_regions = validate_regions(regions or settings.spoke_regions, settings)
    management = session_or_default(session)
    report = EnrollmentReport(account_id=account_id, action="offboard", regions=chosen_regions)
    steps = Steps(account_id, settings, sleep, report)
    partition = partition_of(management, settings)
    registry: SpokeRegistry | None = None
    try:
        hub = assume_hub(management, settings, steps, partition)
        registry = SpokeRegistry(settings.hub_table_name, hub)
        hub_registry = registry
        existing = steps.run("read spoke registry", lambda: hub_registry.get_spoke(account_id))
        if existing is not None:
            report.project, report.environment = existing.project_name, existing.environment

        skipped = [
            region
            for region in chosen_regions
            if not disconnect_spoke_region(management, settings, steps, partition, region)
        ]

        # Parameters first, then Disconnect: otherwise the next EBPut/EBRule reconnects it.
        deleted = steps.run(
            "delete hub parameters", lambda: remove_account_from_hub_parameters(hub, account_id)
        )
        report.parameters_deleted.extend(f"{settings.hub_account_id}:{name}" for name in deleted)
        connection_step(
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
            lambda: hub_registry.set_spoke_state(
                account_id, SpokeState.OFFBOARDED, reason=final_reason
            ),
        )
    except EnrollmentStepFailed as failure:
        record_failure(registry, failure)
        raise
    report.state = SpokeState.OFFBOARDED.value
    report.reason = final_reason
    logger.info("spoke offboarded", extra={"report": report.to_dict()})
    return report


def disconnect_spoke_region(
    management: boto3.Session,
    settings: EnrollmentSettings,
    steps: Steps,
    partition: str,
    region: str,
) -> bool:
    """Remove the spoke's side in one region; False (with a note) if the spoke is unreachable.

    Only throttling is retried here: a closed account or a deleted stack stays unreachable.
    """
    monitor_name = monitor_parameter_name(settings.hub_name)
    try:
        spoke = assume_spoke(management, steps, partition, region, retry_on=THROTTLING_ERROR_CODES)
        if steps.run(
            f"delete {monitor_name} in {region}",
            lambda: delete_parameter(spoke, monitor_name),
            retry_on=THROTTLING_ERROR_CODES,
        ):
            steps.report.parameters_deleted.append(f"{steps.account_id}/{region}:{monitor_name}")
        steps.report.connection_reports[f"Disconnect spoke {region}"] = steps.run(
            f"Disconnect spoke {region}",
            lambda: invoke_connection(
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
