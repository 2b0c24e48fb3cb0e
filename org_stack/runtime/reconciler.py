"""The OU-tag reconciler: OU tags in, stack instances of each project's spoke StackSet out.

The CDK code owns each StackSet's definition (template, parameters, auto-deployment); this module
owns its stack instances. It runs on Organizations TagResource, UntagResource, MoveAccount,
CreateAccountResult and CloseAccount events, on a schedule (CloudTrail delivery is best effort),
and once on deploy. Tag events, the schedule and deploy reconcile everything; an event about one
account reconciles that account only (`account_reconcile`), so a rollout of N accounts does not
cost N full passes.

Which project and environment an account belongs to
----------------------------------------------------
Two OU tags decide, with keys from the config (default `dsdash:project`, `dsdash:environment`):

1. Each key is resolved on its own, for every root and OU: its value is the one on the nearest
   node, walking from the OU itself up to the root, that carries that key. A root may be tagged
   too. So a child OU tagged only `dsdash:environment=dev` under an OU tagged
   `dsdash:project=fraud, dsdash:environment=prod` resolves to (fraud, dev), and so does its whole
   subtree unless a deeper OU overrides a key again.
2. An account belongs to the (project, environment) its parent OU resolves to.
3. An OU resolving to neither key targets nothing. Every other outcome must be a known project and
   one of that project's environments; otherwise it is a conflict, reported and never guessed:
   - `environment_without_project`: an environment but no project, own or inherited;
   - `project_without_environment`: an account under a project but no environment, own or
     inherited (a project OU holding only environment OUs is the normal layout, not a conflict);
   - `unknown_project`: the project is not in the config;
   - `unknown_environment`: the environment is not one of the project's environments.
4. Accounts listed in the config under `projects.<p>.accounts.<env>` also belong to (p, env).
   An account that would belong to two different pairs (tags and config disagree, or the config
   lists it twice) is a `multiple_assignments` conflict.
5. Accounts under a conflict are *frozen*: no instance is created, updated or deleted for them
   in any StackSet until the conflict is fixed, so a mistyped tag never tears down running spokes.
6. Skipped, whatever the tags say: the management account (service-managed StackSets never deploy
   there) and accounts that are not ACTIVE (suspended or closing: CloudFormation can neither
   deploy to them nor delete from them, see `org_tree`).

How that becomes stack instances
--------------------------------
Service-managed StackSets target OUs, and a target OU covers its whole subtree. The reconciler
therefore diffs at the level CloudFormation stores: one stack instance per (account, region),
recorded with the OU it was deployed through and its `Environment` parameter override. It then
expresses each change as an OU target narrowed by an account filter
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeploymentTargets.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/account-level-targets.html):

- create: the OU is the *assignment root* of the account, the highest OU above it whose whole path
  down to the account resolves to the same pair (for a config-listed account, its parent OU).
  If every account in that OU's subtree is wanted, the filter is NONE. Otherwise the filter is
  DIFFERENCE (the OU minus the accounts that must not get this instance: differently tagged
  descendants, conflicts, inactive accounts, accounts that already have one) or INTERSECTION
  (exactly the missing accounts), whichever lists fewer accounts. Either way each account gets
  exactly one instance with exactly one environment, even though the parent OU's subtree also
  contains a differently tagged child OU.
- update (wrong or missing environment override): the assignment root with INTERSECTION.
- delete: an OU whose every instance goes is deleted with filter NONE, which also removes the OU
  from the StackSet's targets (so auto-deployment stops there); other deletions use the account's
  current parent OU with INTERSECTION. RetainStacks is false.

Two AWS behaviours keep this honest, and both are why the reconciler also runs on account events
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html):
automatic deployments ignore account filters, so a new account in a differently tagged child OU
may briefly get its parent's instance (deleted or corrected by the next run); and an
auto-deployed instance uses the StackSet's default parameter values, not the override, so the next
run finds its `Environment` override missing and sets it.

Limits and operations
---------------------
- At most 50 OUs per CreateStackInstances/DeleteStackInstances call (API reference); OUs with the
  same environment, regions and filter type share a call, never an OU with its own ancestor.
- Operation preferences suit hundreds of accounts: regions in parallel, a percentage of accounts
  at a time, soft failure tolerance.
- A StackSet runs one operation at a time (unless managed execution queues them). Before reading
  a StackSet and when a write meets OperationInProgressException, the reconciler polls
  ListStackSetOperations with an injectable sleep within one bounded wait budget. When the budget
  is spent it stops writing to that StackSet and reports it under `retry_later`; the schedule
  picks it up.
- Reading the current overrides costs one DescribeStackInstance per existing instance of an
  account that is wanted in this StackSet: ListStackInstances does not return overrides, and no
  coarser call does. Instances that are going away are not described.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, cast

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from config.model import DEFAULT_ENVIRONMENT_TAG_KEY, DEFAULT_PROJECT_TAG_KEY, DsdashConfig
from org_stack.runtime.org_tree import OrganizationTree, read_organization_tree
from org_stack.runtime.organizations_events import (
    OrganizationsChange,
    OrganizationsEventError,
    is_organizations_event,
    parse_organizations_event,
)
from org_stack.runtime.stackset_names import stackset_name
from runtime_common.aws import client

__all__ = [
    "Conflict",
    "DesiredInstance",
    "DesiredState",
    "OrganizationsChange",
    "ReconcileReport",
    "ReconcilerSettings",
    "TargetChange",
    "compute_desired_state",
    "handler",
    "parse_organizations_event",
    "reconcile",
    "stackset_name",
]

logger = Logger(service="dsdash-org-reconciler")

CallAs = Literal["SELF", "DELEGATED_ADMIN"]
ConflictKind = Literal[
    "environment_without_project",
    "project_without_environment",
    "unknown_project",
    "unknown_environment",
    "multiple_assignments",
    "explicit_account_not_in_organization",
    "explicit_account_is_management_account",
]
ChangeAction = Literal["create", "update", "delete"]
FilterType = Literal["NONE", "INTERSECTION", "DIFFERENCE"]

ENVIRONMENT_PARAMETER: Final = "Environment"
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html
MAX_ORGANIZATIONAL_UNITS_PER_CALL: Final = 50
# ListStackSetOperations statuses during which a new operation is refused or queued.
BUSY_OPERATION_STATUSES: Final = frozenset({"RUNNING", "QUEUED", "STOPPING"})
OPERATION_IN_PROGRESS_ERROR: Final = "OperationInProgressException"


class ReconcilerError(RuntimeError):
    """Reconciling failed for at least one StackSet; the report lists why."""


class ReconcilerSettingsError(ValueError):
    """The reconciler's CONFIG or CALL_AS environment variable is missing or malformed."""


class _RetryLater(Exception):
    """The wait budget ran out while a StackSet operation was still running."""


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectTargeting:
    name: str
    environments: tuple[str, ...]
    # Accounts enrolled explicitly, by environment (config `projects.<p>.accounts`).
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ReconcilerSettings:
    """What the reconciler needs from the config, plus how it calls CloudFormation.

    The CDK stack sets `CONFIG` to `to_config_json()` of `from_config(config)` and `CALL_AS` to
    SELF (management account) or DELEGATED_ADMIN.
    """

    management_account_id: str
    regions: tuple[str, ...]
    projects: Mapping[str, ProjectTargeting]
    project_tag_key: str = DEFAULT_PROJECT_TAG_KEY
    environment_tag_key: str = DEFAULT_ENVIRONMENT_TAG_KEY
    call_as: CallAs = "SELF"
    max_concurrent_percentage: int = 25
    failure_tolerance_percentage: int = 10
    max_wait_seconds: float = 300.0
    poll_interval_seconds: float = 15.0

    @classmethod
    def from_config(cls, config: DsdashConfig, *, call_as: CallAs = "SELF") -> ReconcilerSettings:
        return cls(
            management_account_id=config.organization.management_account_id,
            regions=tuple(config.organization.regions),
            projects=MappingProxyType(
                {
                    name: ProjectTargeting(
                        name=name,
                        environments=tuple(project.environments),
                        accounts=MappingProxyType(
                            {env: tuple(ids) for env, ids in project.accounts.items()}
                        ),
                    )
                    for name, project in config.projects.items()
                }
            ),
            project_tag_key=config.organization.project_tag_key,
            environment_tag_key=config.organization.environment_tag_key,
            call_as=call_as,
        )

    def to_config_json(self) -> str:
        """The `CONFIG` environment value (everything except CALL_AS)."""
        return json.dumps(
            {
                "management_account_id": self.management_account_id,
                "regions": list(self.regions),
                "project_tag_key": self.project_tag_key,
                "environment_tag_key": self.environment_tag_key,
                "max_concurrent_percentage": self.max_concurrent_percentage,
                "failure_tolerance_percentage": self.failure_tolerance_percentage,
                "max_wait_seconds": self.max_wait_seconds,
                "poll_interval_seconds": self.poll_interval_seconds,
                "projects": {
                    name: {
                        "environments": list(project.environments),
                        "accounts": {env: list(ids) for env, ids in project.accounts.items()},
                    }
                    for name, project in self.projects.items()
                },
            },
            sort_keys=True,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReconcilerSettings:
        env = os.environ if environ is None else environ
        raw = env.get("CONFIG")
        if not raw:
            raise ReconcilerSettingsError("environment variable CONFIG is not set")
        call_as = env.get("CALL_AS", "SELF")
        if call_as not in ("SELF", "DELEGATED_ADMIN"):
            raise ReconcilerSettingsError(
                f"CALL_AS must be SELF or DELEGATED_ADMIN, got {call_as!r}"
            )
        try:
            document = json.loads(raw)
            projects = {
                name: ProjectTargeting(
                    name=name,
                    environments=tuple(body["environments"]),
                    accounts=MappingProxyType(
                        {e: tuple(ids) for e, ids in body.get("accounts", {}).items()}
                    ),
                )
                for name, body in document["projects"].items()
            }
            optional = {
                key: document[key]
                for key in (
                    "project_tag_key",
                    "environment_tag_key",
                    "max_concurrent_percentage",
                    "failure_tolerance_percentage",
                    "max_wait_seconds",
                    "poll_interval_seconds",
                )
                if key in document
            }
            return cls(
                management_account_id=str(document["management_account_id"]),
                regions=tuple(document["regions"]),
                projects=MappingProxyType(projects),
                call_as=cast(CallAs, call_as),
                **optional,
            )
        except json.JSONDecodeError as error:
            raise ReconcilerSettingsError(f"CONFIG is not valid JSON: {error}") from error
        except (KeyError, TypeError, AttributeError) as error:
            raise ReconcilerSettingsError(
                f"CONFIG lacks or mistypes {error}; expected keys management_account_id, regions, "
                "projects.<name>.environments"
            ) from error

    def operation_preferences(self) -> dict[str, Any]:
        # SOFT_FAILURE_TOLERANCE keeps concurrency at MaxConcurrentPercentage even when some
        # accounts fail, instead of throttling to the failure tolerance
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html).
        return {
            "RegionConcurrencyType": "PARALLEL",
            "MaxConcurrentPercentage": self.max_concurrent_percentage,
            "FailureTolerancePercentage": self.failure_tolerance_percentage,
            "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
        }


# --------------------------------------------------------------------------------------------
# Desired state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    reason: str
    organizational_unit_id: str | None = None
    project: str | None = None
    environment: str | None = None
    account_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DesiredInstance:
    account_id: str
    project: str
    environment: str
    # The OU a create targets (see "How that becomes stack instances").
    target_organizational_unit_id: str
    assigned_by: Literal["ou-tags", "config"]


@dataclass(frozen=True)
class DesiredState:
    instances: Mapping[str, DesiredInstance]
    frozen_account_ids: frozenset[str]
    skipped_accounts: Mapping[str, str]
    conflicts: tuple[Conflict, ...]

    def for_project(self, project: str) -> dict[str, DesiredInstance]:
        return {a: d for a, d in self.instances.items() if d.project == project}


@dataclass(frozen=True)
class _Resolved:
    project: str | None
    project_source: str | None
    environment: str | None
    environment_source: str | None


def _resolve_tags(tree: OrganizationTree, settings: ReconcilerSettings) -> dict[str, _Resolved]:
    resolved: dict[str, _Resolved] = {}
    for node in tree.walk_all():  # parents come before their children
        inherited = (
            resolved[node.parent_id]
            if node.parent_id is not None
            else _Resolved(None, None, None, None)
        )
        project_tag = node.tags.get(settings.project_tag_key)
        environment_tag = node.tags.get(settings.environment_tag_key)
        resolved[node.id] = _Resolved(
            project=project_tag if project_tag is not None else inherited.project,
            project_source=node.id if project_tag is not None else inherited.project_source,
            environment=environment_tag if environment_tag is not None else inherited.environment,
            environment_source=(
                node.id if environment_tag is not None else inherited.environment_source
            ),
        )
    return resolved


def _classify(
    resolution: _Resolved, settings: ReconcilerSettings
) -> tuple[tuple[str, str] | None, tuple[ConflictKind, str, str | None] | None]:
    """(pair, None) if valid, (None, (kind, reason, source OU)) if conflicting, (None, None) if
    untagged."""
    project, environment = resolution.project, resolution.environment
    if project is None and environment is None:
        return None, None
    if project is None:
        return None, (
            "environment_without_project",
            f"environment {environment!r} (tag {settings.environment_tag_key!r} on "
            f"{resolution.environment_source}) has no project tag {settings.project_tag_key!r} "
            "on this OU or any ancestor",
            resolution.environment_source,
        )
    if project not in settings.projects:
        known = ", ".join(sorted(settings.projects)) or "none"
        return None, (
            "unknown_project",
            f"project {project!r} (tag {settings.project_tag_key!r} on "
            f"{resolution.project_source}) is not in the config; configured projects: {known}",
            resolution.project_source,
        )
    if environment is None:
        return None, (
            "project_without_environment",
            f"project {project!r} (on {resolution.project_source}) has no environment tag "
            f"{settings.environment_tag_key!r} on this OU or any ancestor",
            resolution.project_source,
        )
    environments = settings.projects[project].environments
    if environment not in environments:
        return None, (
            "unknown_environment",
            f"environment {environment!r} (on {resolution.environment_source}) is not one of "
            f"project {project!r}'s environments: {', '.join(environments)}",
            resolution.environment_source,
        )
    return (project, environment), None


def compute_desired_state(tree: OrganizationTree, settings: ReconcilerSettings) -> DesiredState:
    """Resolve every account's (project, environment) by the rules in the module docstring."""
    resolved = _resolve_tags(tree, settings)
    pairs: dict[str, tuple[str, str] | None] = {}
    assignment_root: dict[str, str] = {}
    conflicts: dict[tuple[str, str | None, str | None, str | None], dict[str, Any]] = {}
    frozen: set[str] = set()
    skipped: dict[str, str] = {}
    candidates: dict[str, list[tuple[str, str, str, Literal["ou-tags", "config"]]]] = defaultdict(
        list
    )

    def record_conflict(
        kind: ConflictKind,
        reason: str,
        *,
        ou_id: str | None,
        project: str | None,
        environment: str | None,
        account_ids: Iterable[str],
    ) -> None:
        entry = conflicts.setdefault(
            (kind, ou_id, project, environment),
            {
                "kind": kind,
                "reason": reason,
                "ou": ou_id,
                "project": project,
                "environment": environment,
                "accounts": set(),
            },
        )
        entry["accounts"].update(account_ids)

    for node in tree.walk_all():
        pair, conflict = _classify(resolved[node.id], settings)
        pairs[node.id] = pair
        parent = node.parent_id
        assignment_root[node.id] = (
            assignment_root[parent]
            if parent is not None and pair is not None and pairs.get(parent) == pair
            else node.id
        )
        live_accounts = []
        for account_id in node.account_ids:
            account = tree.accounts[account_id]
            if account_id == settings.management_account_id:
                skipped[account_id] = (
                    "management account: service-managed StackSets never deploy to it"
                )
            elif not account.is_active:
                skipped[account_id] = (
                    f"account state {account.state}: CloudFormation cannot deploy to or delete "
                    "from it"
                )
            else:
                live_accounts.append(account_id)
        if (
            conflict is not None
            and conflict[0] == "project_without_environment"
            and not (live_accounts)
        ):
            # The recommended layout: a project OU whose only children are environment OUs.
            # Without accounts of its own, nothing lacks an environment.
            pass
        elif conflict is not None:
            kind, reason, source = conflict
            record_conflict(
                kind,
                reason,
                ou_id=source,
                project=resolved[node.id].project,
                environment=resolved[node.id].environment,
                account_ids=live_accounts,
            )
            frozen.update(live_accounts)
        elif pair is not None:
            for account_id in live_accounts:
                candidates[account_id].append(
                    (pair[0], pair[1], assignment_root[node.id], "ou-tags")
                )

    for targeting in settings.projects.values():
        for environment, account_ids in targeting.accounts.items():
            for account_id in account_ids:
                listed_account = tree.accounts.get(account_id)
                if account_id == settings.management_account_id:
                    record_conflict(
                        "explicit_account_is_management_account",
                        f"config lists the management account {account_id} under project "
                        f"{targeting.name!r}; service-managed StackSets never deploy to it",
                        ou_id=None,
                        project=targeting.name,
                        environment=environment,
                        account_ids=[account_id],
                    )
                elif listed_account is None:
                    record_conflict(
                        "explicit_account_not_in_organization",
                        f"config lists account {account_id} under project {targeting.name!r} "
                        f"environment {environment!r}, but it is not in the organization",
                        ou_id=None,
                        project=targeting.name,
                        environment=environment,
                        account_ids=[account_id],
                    )
                elif environment not in targeting.environments:
                    record_conflict(
                        "unknown_environment",
                        f"config lists account {account_id} under environment {environment!r}, "
                        f"not one of project {targeting.name!r}'s environments",
                        ou_id=None,
                        project=targeting.name,
                        environment=environment,
                        account_ids=[account_id],
                    )
                    frozen.add(account_id)
                elif listed_account.is_active:
                    candidates[account_id].append(
                        (targeting.name, environment, listed_account.parent_id, "config")
                    )

    instances: dict[str, DesiredInstance] = {}
    for account_id, options in candidates.items():
        if account_id in frozen:
            continue
        distinct = sorted({(p, e) for p, e, _, _ in options})
        if len(distinct) > 1:
            described = "; ".join(
                f"{p}/{e} via {'OU tags on ' + ou if how == 'ou-tags' else 'config'}"
                for p, e, ou, how in options
            )
            record_conflict(
                "multiple_assignments",
                f"account {account_id} would belong to {len(distinct)} project/environment pairs: "
                f"{described}",
                ou_id=None,
                project=None,
                environment=None,
                account_ids=[account_id],
            )
            frozen.add(account_id)
            continue
        # Prefer the OU-tag assignment root: it keeps the account inside its tagged OU's target.
        project, environment, target_ou, how = sorted(options, key=lambda o: o[3] != "ou-tags")[0]
        instances[account_id] = DesiredInstance(account_id, project, environment, target_ou, how)

    return DesiredState(
        instances=MappingProxyType(instances),
        frozen_account_ids=frozenset(frozen),
        skipped_accounts=MappingProxyType(skipped),
        conflicts=tuple(
            Conflict(
                kind=entry["kind"],
                reason=entry["reason"],
                organizational_unit_id=entry["ou"],
                project=entry["project"],
                environment=entry["environment"],
                account_ids=tuple(sorted(entry["accounts"])),
            )
            for entry in conflicts.values()
        ),
    )


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Current state and operations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CurrentInstance:
    account_id: str
    region: str
    organizational_unit_id: str | None
    environment: str | None


@dataclass
class _WaitBudget:
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


class _StackSetOperator:
    def __init__(
        self,
        cloudformation: Any,
        project: str,
        settings: ReconcilerSettings,
        budget: _WaitBudget,
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
                raise _RetryLater(
                    f"operations {', '.join(busy)} still running on {self.name} after the wait "
                    "budget"
                )

    def read_instances(
        self, desired_accounts: Iterable[str]
    ) -> dict[tuple[str, str], _CurrentInstance]:
        wanted = set(desired_accounts)
        summaries = [
            summary
            for page in self.cloudformation.get_paginator("list_stack_instances").paginate(
                StackSetName=self.name, CallAs=self.settings.call_as
            )
            for summary in page.get("Summaries", [])
        ]
        current: dict[tuple[str, str], _CurrentInstance] = {}
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
            current[(account_id, region)] = _CurrentInstance(
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


def _batches(tree: OrganizationTree, ou_ids: Iterable[str]) -> list[list[str]]:
    """Split OUs into calls of at most 50, never putting an OU beside its own ancestor."""
    batches: list[list[str]] = []
    for ou_id in sorted(ou_ids, key=lambda o: (tree.node(o).depth, o)):
        for batch in batches:
            if len(batch) < MAX_ORGANIZATIONAL_UNITS_PER_CALL and not any(
                tree.is_ancestor(other, ou_id) or tree.is_ancestor(ou_id, other) for other in batch
            ):
                batch.append(ou_id)
                break
        else:
            batches.append([ou_id])
    return batches


def _plan_creates(
    project: str,
    tree: OrganizationTree,
    settings: ReconcilerSettings,
    desired: Mapping[str, DesiredInstance],
    current: Mapping[tuple[str, str], _CurrentInstance],
) -> list[tuple[TargetChange, str]]:
    missing: dict[tuple[str, str, tuple[str, ...]], set[str]] = defaultdict(set)
    for account_id, instance in desired.items():
        regions = tuple(r for r in settings.regions if (account_id, r) not in current)
        if regions:
            missing[(instance.target_organizational_unit_id, instance.environment, regions)].add(
                account_id
            )
    # (environment, regions, filter) -> OU -> (accounts listed in the filter, accounts reached)
    by_call: dict[
        tuple[str, tuple[str, ...], FilterType], dict[str, tuple[tuple[str, ...], set[str]]]
    ] = defaultdict(dict)
    for (ou_id, environment, regions), account_ids in missing.items():
        subtree = set(tree.accounts_under(ou_id)) - {settings.management_account_id}
        excluded = subtree - account_ids
        filter_type: FilterType
        listed: tuple[str, ...]
        if not excluded:
            filter_type, listed = "NONE", ()
        elif len(account_ids) <= len(excluded):
            filter_type, listed = "INTERSECTION", tuple(sorted(account_ids))
        else:
            filter_type, listed = "DIFFERENCE", tuple(sorted(excluded))
        by_call[(environment, regions, filter_type)][ou_id] = (listed, account_ids)
    planned = []
    for (environment, regions, filter_type), by_ou in sorted(by_call.items()):
        for batch in _batches(tree, by_ou):
            planned.append(
                (
                    TargetChange(
                        project=project,
                        stack_set_name=stackset_name(project),
                        action="create",
                        environment=environment,
                        regions=regions,
                        organizational_unit_ids=tuple(batch),
                        account_filter_type=filter_type,
                        filter_account_ids=tuple(sorted({a for ou in batch for a in by_ou[ou][0]})),
                        account_ids=tuple(sorted({a for ou in batch for a in by_ou[ou][1]})),
                    ),
                    environment,
                )
            )
    return planned


def _intersection_changes(
    project: str,
    action: ChangeAction,
    environment: str | None,
    regions: tuple[str, ...],
    ou_by_account: Mapping[str, str],
) -> list[TargetChange]:
    accounts_by_ou: dict[str, list[str]] = defaultdict(list)
    for account_id, ou_id in ou_by_account.items():
        accounts_by_ou[ou_id].append(account_id)
    ou_ids = sorted(accounts_by_ou)
    changes = []
    # INTERSECTION lists every account explicitly, so nested OUs may share a call.
    for start in range(0, len(ou_ids), MAX_ORGANIZATIONAL_UNITS_PER_CALL):
        batch = ou_ids[start : start + MAX_ORGANIZATIONAL_UNITS_PER_CALL]
        accounts = tuple(sorted(a for ou in batch for a in accounts_by_ou[ou]))
        changes.append(
            TargetChange(
                project=project,
                stack_set_name=stackset_name(project),
                action=action,
                environment=environment,
                regions=regions,
                organizational_unit_ids=tuple(batch),
                account_filter_type="INTERSECTION",
                filter_account_ids=accounts,
                account_ids=accounts,
            )
        )
    return changes


def _plan_updates(
    project: str,
    settings: ReconcilerSettings,
    desired: Mapping[str, DesiredInstance],
    current: Mapping[tuple[str, str], _CurrentInstance],
) -> list[tuple[TargetChange, str]]:
    stale: dict[tuple[str, tuple[str, ...]], dict[str, str]] = defaultdict(dict)
    for account_id, instance in desired.items():
        regions = tuple(
            r
            for r in settings.regions
            if (account_id, r) in current
            and current[(account_id, r)].environment != instance.environment
        )
        if regions:
            stale[(instance.environment, regions)][account_id] = (
                instance.target_organizational_unit_id
            )
    return [
        (change, environment)
        for (environment, regions), ou_by_account in sorted(stale.items())
        for change in _intersection_changes(project, "update", environment, regions, ou_by_account)
    ]


def _plan_deletes(
    project: str,
    tree: OrganizationTree,
    settings: ReconcilerSettings,
    *,
    state: DesiredState,
    desired: Mapping[str, DesiredInstance],
    current: Mapping[tuple[str, str], _CurrentInstance],
    report: ReconcileReport,
) -> list[tuple[TargetChange, str | None]]:
    doomed_regions: dict[str, set[str]] = defaultdict(set)
    for account_id, region in current:
        if account_id in state.frozen_account_ids or account_id in state.skipped_accounts:
            continue
        if account_id not in tree.accounts:
            report.skipped_accounts.setdefault(
                account_id,
                "has stack instances but is no longer in the organization; StackSets "
                "auto-deployment handles accounts that leave",
            )
            continue
        if account_id not in desired or region not in settings.regions:
            doomed_regions[account_id].add(region)
    if not doomed_regions:
        return []

    # Whole OUs first: filter NONE also drops the OU from the StackSet's targets. An OU
    # qualifies when every instance in its current subtree goes, in the same regions.
    recorded_ous = sorted(
        {
            instance.organizational_unit_id
            for instance in current.values()
            if instance.account_id in doomed_regions
            and instance.organizational_unit_id is not None
            and instance.organizational_unit_id in tree.nodes
        },
        key=lambda ou: (tree.node(ou).depth, ou),
    )
    whole_ous_by_regions: dict[tuple[str, ...], list[str]] = defaultdict(list)
    accounts_by_whole_ou: dict[str, set[str]] = {}
    for ou_id in recorded_ous:
        if any(tree.is_ancestor(chosen, ou_id) for chosen in accounts_by_whole_ou):
            continue
        under = set(tree.accounts_under(ou_id))
        instances_under = [c for c in current.values() if c.account_id in under]
        region_sets = {frozenset(doomed_regions.get(c.account_id, ())) for c in instances_under}
        if (
            instances_under
            and all(c.region in doomed_regions.get(c.account_id, ()) for c in instances_under)
            and len(region_sets) == 1
            and not any(account_id in desired for account_id in under)
        ):
            accounts_by_whole_ou[ou_id] = {c.account_id for c in instances_under}
            whole_ous_by_regions[tuple(sorted(next(iter(region_sets))))].append(ou_id)

    changes: list[tuple[TargetChange, str | None]] = []
    for regions, ou_ids in sorted(whole_ous_by_regions.items()):
        for batch in _batches(tree, ou_ids):
            changes.append(
                (
                    TargetChange(
                        project=project,
                        stack_set_name=stackset_name(project),
                        action="delete",
                        environment=None,
                        regions=regions,
                        organizational_unit_ids=tuple(batch),
                        account_filter_type="NONE",
                        filter_account_ids=(),
                        account_ids=tuple(
                            sorted(set().union(*(accounts_by_whole_ou[ou] for ou in batch)))
                        ),
                    ),
                    None,
                )
            )
    covered = set().union(*accounts_by_whole_ou.values())
    remaining: dict[tuple[str, ...], dict[str, str]] = defaultdict(dict)
    for account_id, account_regions in doomed_regions.items():
        if account_id not in covered:
            remaining[tuple(sorted(account_regions))][account_id] = tree.accounts[
                account_id
            ].parent_id
    for regions, ou_by_account in sorted(remaining.items()):
        changes.extend(
            (change, None)
            for change in _intersection_changes(project, "delete", None, regions, ou_by_account)
        )
    return changes


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def _reconcile_project(
    project: str,
    cloudformation: Any,
    *,
    tree: OrganizationTree,
    settings: ReconcilerSettings,
    state: DesiredState,
    budget: _WaitBudget,
    report: ReconcileReport,
) -> None:
    operator = _StackSetOperator(cloudformation, project, settings, budget, report)
    desired = state.for_project(project)
    with recording_stackset_failures(report, project, operator.name):
        operator.wait_until_idle()
        current = operator.read_instances(desired)
        plan: list[tuple[TargetChange, str | None]] = [
            *_plan_deletes(
                project,
                tree,
                settings,
                state=state,
                desired=desired,
                current=current,
                report=report,
            ),
            *_plan_updates(project, settings, desired, current),
            *_plan_creates(project, tree, settings, desired, current),
        ]
        for change, environment in plan:
            done = operator.run(change, environment)
            {"create": report.created, "update": report.updated, "delete": report.deleted}[
                change.action
            ].append(done)
            logger.info("stack instance change started", extra={"change": asdict(done)})


@contextmanager
def recording_stackset_failures(
    report: ReconcileReport, project: str, stack_set_name: str
) -> Iterator[None]:
    """Record a busy StackSet (retry later) or an AWS error in `report` instead of raising, so
    one project's StackSet never stops the others (full pass and one-account reconcile alike)."""
    try:
        yield
    except _RetryLater as reason:
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


def reconcile(
    settings: ReconcilerSettings,
    *,
    session: boto3.Session | None = None,
    organizations_client: Any = None,
    cloudformation_client: Any = None,
    sleep: Callable[[float], None] | None = None,
) -> ReconcileReport:
    """Make every project's StackSet instances match the OU tags (and config-listed accounts)."""

    organizations = organizations_client or client(session, "organizations")
    cloudformation = cloudformation_client or client(session, "cloudformation")
    tree = read_organization_tree(organizations)
    state = compute_desired_state(tree, settings)
    report = ReconcileReport(
        conflicts=list(state.conflicts), skipped_accounts=dict(state.skipped_accounts)
    )
    for conflict in state.conflicts:
        logger.warning("targeting conflict", extra={"conflict": asdict(conflict)})
    budget = _WaitBudget(
        remaining_seconds=settings.max_wait_seconds,
        poll_interval_seconds=settings.poll_interval_seconds,
        sleep=sleep or time.sleep,
    )
    for project in sorted(settings.projects):
        _reconcile_project(
            project,
            cloudformation,
            tree=tree,
            settings=settings,
            state=state,
            budget=budget,
            report=report,
        )
    return report


# Organizations events about one account, which the account-scoped pass handles. CloseAccount
# is one too: a closing account is skipped by both passes (CloudFormation cannot reach it).
SINGLE_ACCOUNT_EVENTS: Final = frozenset({"MoveAccount", "CreateAccountResult", "CloseAccount"})
ENROLLMENT_REQUEST_SOURCE: Final = "dsdash.enrollment"


def _single_account_of(event: Mapping[str, Any] | None, trigger: Mapping[str, Any]) -> str | None:
    """The account an event is about, when it is about one account only; None: full pass."""
    if trigger.get("kind") == "organizations" and trigger.get("EventName") in SINGLE_ACCOUNT_EVENTS:
        account = trigger.get("AccountId")
        return str(account) if account else None
    if event and event.get("source") == ENROLLMENT_REQUEST_SOURCE:
        detail = event.get("detail") or {}
        account = detail.get("account") if isinstance(detail, Mapping) else None
        return str(account) if account else None
    return None


def _previous_projects_of(event: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Projects the enrollment function's request names as the account's previous ones (the
    registry's), whose StackSets the one-account reconcile reads besides the wanted one."""
    if not event or event.get("source") != ENROLLMENT_REQUEST_SOURCE:
        return ()
    detail = event.get("detail") or {}
    named = detail.get("previous_projects") if isinstance(detail, Mapping) else None
    return tuple(str(p) for p in named) if isinstance(named, list) else ()


def handler(
    event: Mapping[str, Any] | None,
    context: Any,
    *,
    session: boto3.Session | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Lambda entry point. An event about one account (MoveAccount, CreateAccountResult,
    CloseAccount, the enrollment function's request naming an account) reconciles that account
    (`account_reconcile`); any other trigger (tag events, schedule, deploy) reconciles all."""
    trigger: dict[str, Any] = {"kind": "invoke"}
    if event and is_organizations_event(event):
        try:
            trigger = {"kind": "organizations", **parse_organizations_event(event).to_dict()}
        except OrganizationsEventError as error:
            # The event is only a hint that something changed; reconcile anyway.
            trigger = {"kind": "organizations", "unparsed": str(error)}
    elif event and event.get("source") == "aws.events":
        trigger = {"kind": "schedule", "time": event.get("time")}
    logger.info("reconcile triggered", extra={"trigger": trigger})
    settings = ReconcilerSettings.from_env()
    account_id = _single_account_of(event, trigger)
    if account_id is not None:
        # One account's event: its path and its instances only (account_reconcile).
        from org_stack.runtime.account_reconcile import reconcile_account

        report = reconcile_account(
            account_id,
            settings,
            organizations=client(session, "organizations"),
            cloudformation=client(session, "cloudformation"),
            sleep=sleep or time.sleep,
            previous_projects=_previous_projects_of(event),
        )
    else:
        report = reconcile(settings, session=session, sleep=sleep)
    report.trigger = trigger
    result = report.to_dict()
    logger.info("reconcile finished", extra={"report": result})
    if report.failures:
        raise ReconcilerError(
            "reconciling failed for "
            + "; ".join(f"{f['stack_set_name']}: {f['message']}" for f in report.failures)
        )
    return result
