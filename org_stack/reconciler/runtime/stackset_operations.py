"""StackSet operations of the reconciler: what a run records (`ReconcileReport`), reading a
StackSet's instances with their overrides, and starting create/update/delete operations while
another operation may be running.

A StackSet runs one operation at a time (unless managed execution queues them). Before reading
a StackSet and when a write meets OperationInProgressException, the reconciler polls
ListStackSetOperations with an injectable sleep within one bounded wait budget (`WaitBudget`):
a fixed poll interval, since what it waits for is another operation's progress, not a failure to
back off from (throttling is the client's adaptive retry mode; `runtime_common.aws`).
When the budget is spent it stops writing to that StackSet and reports it under `retry_later`;
the schedule picks it up. Reading the current overrides costs one DescribeStackInstance per
existing instance of an account that is wanted in this StackSet: ListStackInstances does not
return overrides, and no coarser call does. Instances that are going away are not described.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from enrollment.placement.policy import Conflict
from enrollment.placement.stackset_names import ENVIRONMENT_PARAMETER, stackset_name
from enrollment.placement.targeting import TargetingSettings

logger = Logger(service="dsdash-org-reconciler")

ChangeAction = Literal["create", "update", "delete"]
FilterType = Literal["NONE", "INTERSECTION", "DIFFERENCE"]
# ListStackSetOperations statuses during which a new operation is refused or queued.
BUSY_OPERATION_STATUSES: Final = frozenset({"RUNNING", "QUEUED", "STOPPING"})
OPERATION_IN_PROGRESS_ERROR: Final = "OperationInProgressException"


class RetryLater(Exception):
    """The wait budget ran out while a StackSet operation was still running."""


@dataclass(frozen=True)
class TargetChange:
    project: str
    stack_set_name: str
    action: ChangeAction
    environment: str | None
    regions: tuple[str, ...]
    organizational_unit_ids: tuple[str, ...]
    account_filter_type: FilterType
    # The Accounts list sent with the filter (empty for NONE).
    filter_account_ids: tuple[str, ...]
    # The accounts this change is meant to affect.
    account_ids: tuple[str, ...]
    operation_id: str | None = None


@dataclass
class ReconcileReport:
    created: list[TargetChange] = field(default_factory=list)
    updated: list[TargetChange] = field(default_factory=list)
    deleted: list[TargetChange] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    skipped_accounts: dict[str, str] = field(default_factory=dict)
    operations_started: list[dict[str, str]] = field(default_factory=list)
    retry_later: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    trigger: dict[str, Any] | None = None

    @property
    def write_count(self) -> int:
        return len(self.operations_started)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (tuples become lists)."""
        result: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return result


@dataclass(frozen=True)
class CurrentInstance:
    account_id: str
    region: str
    organizational_unit_id: str | None
    environment: str | None


@dataclass
class WaitBudget:
    """One bounded wait shared by the whole run, so a Lambda never sleeps past its timeout."""

    remaining_seconds: float
    poll_interval_seconds: float
    sleep: Callable[[float], None]

    def wait_once(self) -> bool:
        if self.remaining_seconds <= 0:
            return False
        pause = min(self.poll_interval_seconds, self.remaining_seconds)
        self.sleep(pause)
        self.remaining_seconds -= pause
        return True


class StackSetOperator:
    def __init__(
        self,
        cloudformation: Any,
        project: str,
        settings: TargetingSettings,
        budget: WaitBudget,
        report: ReconcileReport,
    ) -> None:
        self.cloudformation = cloudformation
        self.project = project
        self.name = stackset_name(project)
        self.settings = settings
        self.budget = budget
        self.report = report

    def _busy_operations(self) -> list[str]:
        paginator = self.cloudformation.get_paginator("list_stack_set_operations")
        return [
            summary["OperationId"]
            for page in paginator.paginate(StackSetName=self.name, CallAs=self.settings.call_as)
            for summary in page.get("Summaries", [])
            if summary.get("Status") in BUSY_OPERATION_STATUSES
        ]

    def wait_until_idle(self) -> None:
        while busy := self._busy_operations():
            logger.info(
                "waiting for running StackSet operations",
                extra={"stack_set": self.name, "operation_ids": busy},
            )
            if not self.budget.wait_once():
                raise RetryLater(
                    f"operations {', '.join(busy)} still running on {self.name} after the wait "
                    "budget"
                )

    def read_instances(
        self, desired_accounts: Iterable[str]
    ) -> dict[tuple[str, str], CurrentInstance]:
        wanted = set(desired_accounts)
        summaries = [
            summary
            for page in self.cloudformation.get_paginator("list_stack_instances").paginate(
                StackSetName=self.name, CallAs=self.settings.call_as
            )
            for summary in page.get("Summaries", [])
        ]
        current: dict[tuple[str, str], CurrentInstance] = {}
        for summary in summaries:
            account_id, region = summary["Account"], summary["Region"]
            environment = None
            # Only instances that stay need their override; see the module docstring.
            if account_id in wanted and region in self.settings.regions:
                described = self.cloudformation.describe_stack_instance(
                    StackSetName=self.name,
                    StackInstanceAccount=account_id,
                    StackInstanceRegion=region,
                    CallAs=self.settings.call_as,
                )["StackInstance"]
                environment = next(
                    (
                        override.get("ParameterValue")
                        for override in described.get("ParameterOverrides") or []
                        if override.get("ParameterKey") == ENVIRONMENT_PARAMETER
                    ),
                    None,
                )
            current[(account_id, region)] = CurrentInstance(
                account_id, region, summary.get("OrganizationalUnitId"), environment
            )
        return current

    def run(self, change: TargetChange, environment: str | None) -> TargetChange:
        operation = {
            "create": "create_stack_instances",
            "update": "update_stack_instances",
            "delete": "delete_stack_instances",
        }[change.action]
        targets: dict[str, Any] = {
            "OrganizationalUnitIds": list(change.organizational_unit_ids),
            "AccountFilterType": change.account_filter_type,
        }
        if change.filter_account_ids:
            targets["Accounts"] = list(change.filter_account_ids)
        arguments: dict[str, Any] = {
            "StackSetName": self.name,
            "DeploymentTargets": targets,
            "Regions": list(change.regions),
            "OperationPreferences": self.settings.operation_preferences(),
            "CallAs": self.settings.call_as,
        }
        if change.action == "delete":
            arguments["RetainStacks"] = False
        else:
            arguments["ParameterOverrides"] = [
                {"ParameterKey": ENVIRONMENT_PARAMETER, "ParameterValue": environment}
            ]
        while True:
            try:
                response = getattr(self.cloudformation, operation)(**arguments)
                break
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != OPERATION_IN_PROGRESS_ERROR:
                    raise
                logger.info("StackSet busy, waiting", extra={"stack_set": self.name})
                # One poll from the budget first: ListStackSetOperations may not list the
                # operation that refused us yet, and waiting only while it lists one would retry
                # the write at once, again and again, until the Lambda timed out.
                if not self.budget.wait_once():
                    raise RetryLater(
                        f"{self.name} still busy with another operation after the wait budget"
                    ) from error
                self.wait_until_idle()
        operation_id = str(response["OperationId"])
        self.report.operations_started.append(
            {
                "project": self.project,
                "stack_set_name": self.name,
                "action": change.action,
                "operation_id": operation_id,
            }
        )
        return TargetChange(**{**asdict(change), "operation_id": operation_id})


@contextmanager
def recording_stackset_failures(
    report: ReconcileReport, project: str, stack_set_name: str
) -> Iterator[None]:
    """Record a busy StackSet (retry later) or an AWS error in `report` instead of raising, so
    one project's StackSet never stops the others (full pass and one-account reconcile alike)."""
    try:
        yield
    except RetryLater as reason:
        report.retry_later.append(
            {"project": project, "stack_set_name": stack_set_name, "reason": str(reason)}
        )
        logger.warning("StackSet busy, retry later", extra={"stack_set": stack_set_name})
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        report.failures.append(
            {
                "project": project,
                "stack_set_name": stack_set_name,
                "error_code": code,
                "message": f"{stack_set_name}: {error}",
            }
        )
        logger.error(
            "reconciling StackSet failed",
            extra={"stack_set": stack_set_name, "error_code": code, "error": str(error)},
        )
