"""Service-managed StackSet deployments for the sandbox: instances become real stacks.

moto gaps filled here (docs/architecture.md §6), on top of `sandbox.moto_stacksets` (OU targets
resolved the way CloudFormation does) and `sandbox.moto_stackset_instances` (instances recorded,
not built; StackSet options and target OUs kept):
- moto gap: a service-managed stack instance gets no visible stack. `StackSetAutoDeployer.sync()`
  deploys the StackSet's template into the instance's account and region as the visible stack
  `StackSet-<stack set name>-<uuid>`, with the StackSet's parameters merged with the instance's
  overrides, through the CloudFormation API of that account (`sandbox.cfn_deploy.deploy_template`,
  so moto's CloudFormation gaps are filled there too), and marks the instance with the stack's id
  and status for its summaries.
- moto gap: no auto-deployment. For StackSets with AutoDeployment enabled, `sync()` adds an
  instance for each account that arrived in the subtree of a target OU since the targets were set
  or last synced (created there, or moved in), using the StackSet's parameter values without
  overrides and ignoring account filters, as AWS does
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html);
  and with RetainStacksOnAccountRemoval false it removes the instance (and its stack) of each
  account no longer in any target OU's subtree or no longer ACTIVE (moved out, closed).
- moto gap: no "CloudFormation StackSet StackInstance Status Change" events. `sync()` puts one per
  deployed, updated or removed instance on the StackSet owner's default bus in the StackSet's
  region, shaped like AWS's (tests/events/cfn_StackInstanceStatusChange_*.json;
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stackset-stack-instance-status-change.html),
  through moto's events backend, so the sandbox's EventBridge delivery runs the enrollment rules.

Everything happens in `sync()`, called by the orchestrator after each reconcile or organization
change: deterministic (StackSets, accounts and regions in sorted order) and idempotent (a second
call with nothing changed does nothing and emits nothing). `service_managed_auto_deployment()`
(from `sandbox.moto_stackset_instances`) installs the patches the deployer relies on.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import boto3
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation.models import cloudformation_backends
from moto.events.models import events_backends
from moto.moto_api._internal import mock_random

from sandbox.cfn_deploy import StackDeploymentError, delete_stack, deploy_template
from sandbox.credentials import account_credentials
from sandbox.moto_stackset_instances import (
    SERVICE_MANAGED,
    known_members,
    parameter_map,
    service_managed_auto_deployment,
    subtree_accounts,
    target_ous,
)

# The deployer and the patches it needs are entered together (sandbox.world, the tests).
__all__ = ["InstanceChange", "StackSetAutoDeployer", "service_managed_auto_deployment"]

logger = logging.getLogger(__name__)

STACK_INSTANCE_DETAIL_TYPE: Final = "CloudFormation StackSet StackInstance Status Change"
CLOUDFORMATION_EVENT_SOURCE: Final = "aws.cloudformation"

Action = Literal["CREATE", "UPDATE", "DELETE"]
SessionFactory = Callable[[str, str], boto3.Session]


@dataclass(frozen=True)
class InstanceChange:
    """One stack instance deployed, updated or removed by `sync()`, and the event emitted."""

    stack_set_name: str
    stack_set_arn: str
    account_id: str
    region: str
    action: Action
    stack_id: str
    succeeded: bool
    status_reason: str = ""
    event: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class _Deployment:
    stack_set_arn: str
    stack_set_name: str
    owner_account: str
    owner_region: str
    account_id: str
    region: str
    stack_name: str
    stack_id: str = ""
    template: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    succeeded: bool = False


def _default_session(account_id: str, region: str) -> boto3.Session:
    return account_credentials(account_id, region).session(region)


@dataclass
class StackSetAutoDeployer:
    """Makes every service-managed stack instance in moto a deployed stack (see module doc)."""

    session_for: SessionFactory = _default_session
    deployments: dict[tuple[str, str, str], _Deployment] = field(default_factory=dict)

    def sync(self) -> list[InstanceChange]:
        changes: list[InstanceChange] = []
        live: set[tuple[str, str, str]] = set()
        for owner_account, owner_region, stack_set in self._service_managed_stack_sets():
            if stack_set.status != "DELETED":
                self._auto_deploy_arrivals(stack_set)
                # The departed instances' stacks go in the removal pass below, which reports them.
                self._remove_departed(stack_set)
            for instance in sorted(
                stack_set.instances.stack_instances, key=lambda i: (i.account_id, i.region_name)
            ):
                key = (stack_set.arn, instance.account_id, instance.region_name)
                live.add(key)
                change = self._deploy_instance(owner_account, owner_region, stack_set, instance)
                if change is not None:
                    changes.append(change)
        for key in sorted(set(self.deployments) - live):
            changes.append(self._remove_deployment(self.deployments.pop(key)))
        return changes

    @staticmethod
    def _service_managed_stack_sets() -> Iterator[tuple[str, str, Any]]:
        for owner_account in sorted(cloudformation_backends.keys()):
            for owner_region in sorted(cloudformation_backends[owner_account].keys()):
                backend = cloudformation_backends[owner_account][owner_region]
                for stack_set_id in sorted(backend.stacksets):
                    stack_set = backend.stacksets[stack_set_id]
                    if stack_set.permission_model == SERVICE_MANAGED:
                        yield owner_account, owner_region, stack_set

    @staticmethod
    def _auto_deployment(stack_set: Any) -> tuple[bool, bool]:
        settings = getattr(stack_set, "auto_deployment", None) or {}
        return bool(settings.get("Enabled")), bool(settings.get("RetainStacksOnAccountRemoval"))

    def _auto_deploy_arrivals(self, stack_set: Any) -> None:
        enabled, _ = self._auto_deployment(stack_set)
        organizations = stack_set.instances.org_backend
        for region, ou_ids in sorted(target_ous(stack_set).items()):
            members = subtree_accounts(organizations, ou_ids)
            known = known_members(stack_set).setdefault(region, set())
            arrivals = sorted(members - known) if enabled else []
            for account_id in arrivals:
                if stack_set.instances.get_instance(account_id, region) is None:
                    self._add_instance(stack_set, account_id, region, ou_ids)
            known.clear()
            known.update(members)

    @staticmethod
    def _add_instance(stack_set: Any, account_id: str, region: str, ou_ids: set[str]) -> None:
        organizations = stack_set.instances.org_backend
        parents = {node.id: node.parent_id for node in organizations.ou}
        node = organizations.get_account_by_id(account_id).parent_id
        while node is not None and node not in ou_ids:
            node = parents.get(node)
        # Auto-deployed instances use the StackSet's parameter values: no overrides.
        instance = cloudformation_models.StackInstance(
            account_id=account_id,
            region_name=region,
            stackset_id=stack_set.id,
            stack_name=stack_set.instances.stack_name,
            name=stack_set.name,
            template=stack_set.template,
            parameters=[],
            permission_model=SERVICE_MANAGED,
        )
        # Read back by moto_stacksets' summaries (OrganizationalUnitId).
        setattr(instance, "organizational_unit_id", node)  # noqa: B010
        stack_set.instances.stack_instances.append(instance)
        stack_set._create_operation(
            operation_id=str(mock_random.uuid4()),
            action="CREATE",
            status="SUCCEEDED",
            accounts=[account_id],
            regions=[region],
        )
        logger.info("sandbox: auto-deployed %s to %s/%s", stack_set.name, account_id, region)

    def _remove_departed(self, stack_set: Any) -> None:
        enabled, retain = self._auto_deployment(stack_set)
        if not enabled or retain:
            return
        organizations = stack_set.instances.org_backend
        departed = []
        for instance in list(stack_set.instances.stack_instances):
            ou_ids = target_ous(stack_set).get(instance.region_name, set())
            if instance.account_id not in subtree_accounts(organizations, ou_ids):
                stack_set.instances.stack_instances.remove(instance)
                departed.append(instance)
        for instance in departed:
            stack_set._create_operation(
                operation_id=str(mock_random.uuid4()),
                action="DELETE",
                status="SUCCEEDED",
                accounts=[instance.account_id],
                regions=[instance.region_name],
            )

    def _deploy_instance(
        self, owner_account: str, owner_region: str, stack_set: Any, instance: Any
    ) -> InstanceChange | None:
        key = (stack_set.arn, instance.account_id, instance.region_name)
        template = str(stack_set.template)
        parameters = parameter_map(stack_set.parameters) | parameter_map(instance.parameters)
        deployment = self.deployments.get(key)
        if (
            deployment is not None
            and deployment.template == template
            and deployment.parameters == parameters
        ):
            self._mark(instance, deployment)
            return None
        action: Action = "CREATE" if deployment is None or not deployment.stack_id else "UPDATE"
        if deployment is None:
            deployment = _Deployment(
                stack_set_arn=stack_set.arn,
                stack_set_name=stack_set.name,
                owner_account=owner_account,
                owner_region=owner_region,
                account_id=instance.account_id,
                region=instance.region_name,
                stack_name=f"StackSet-{stack_set.name}-{uuid.uuid4()}",
            )
            self.deployments[key] = deployment
        deployment.template, deployment.parameters = template, parameters
        session = self.session_for(instance.account_id, instance.region_name)
        reason = ""
        try:
            deployed = deploy_template(
                template,
                deployment.stack_name,
                session=session,
                parameters=parameters,
                region=instance.region_name,
                capabilities=tuple(getattr(stack_set, "capabilities", None) or ()),
            )
            deployment.stack_id, deployment.succeeded = deployed.stack_id, True
        except StackDeploymentError as error:
            reason = str(error)
            deployment.succeeded = False
            deployment.stack_id = self._stack_id_of(session, deployment) or deployment.stack_id
            logger.warning("sandbox: %s", reason)
        self._mark(instance, deployment, reason)
        return self._emit(deployment, action, reason)

    @staticmethod
    def _stack_id_of(session: boto3.Session, deployment: _Deployment) -> str | None:
        stacks = session.client("cloudformation", region_name=deployment.region).describe_stacks(
            StackName=deployment.stack_name
        )["Stacks"]
        return str(stacks[0]["StackId"]) if stacks else None

    @staticmethod
    def _mark(instance: Any, deployment: _Deployment, reason: str = "") -> None:
        instance.sandbox_stack_id = deployment.stack_id
        instance.sandbox_succeeded = deployment.succeeded
        instance.sandbox_status_reason = reason

    def _remove_deployment(self, deployment: _Deployment) -> InstanceChange:
        session = self.session_for(deployment.account_id, deployment.region)
        reason = ""
        try:
            delete_stack(session, deployment.stack_name, region=deployment.region)
        except StackDeploymentError as error:
            reason = str(error)
            logger.warning("sandbox: %s", reason)
        return self._emit(deployment, "DELETE", reason, succeeded=not reason)

    def _emit(
        self,
        deployment: _Deployment,
        action: Action,
        reason: str,
        *,
        succeeded: bool | None = None,
    ) -> InstanceChange:
        succeeded = deployment.succeeded if succeeded is None else succeeded
        detail = {
            "stack-set-arn": deployment.stack_set_arn,
            "stack-id": deployment.stack_id,
            "action": action,
            "status-details": {
                "status": "CURRENT" if succeeded else "OUTDATED",
                "status-reason": reason,
                "detailed-status": "SUCCEEDED" if succeeded else "FAILED",
            },
        }
        events = events_backends[deployment.owner_account][deployment.owner_region]
        [entry] = events.put_events(
            [
                {
                    "Source": CLOUDFORMATION_EVENT_SOURCE,
                    "DetailType": STACK_INSTANCE_DETAIL_TYPE,
                    "Detail": json.dumps(detail),
                    "Resources": [deployment.stack_set_arn],
                    "EventBusName": "default",
                }
            ]
        )
        event = {
            "version": "0",
            "id": entry.get("EventId"),
            "detail-type": STACK_INSTANCE_DETAIL_TYPE,
            "source": CLOUDFORMATION_EVENT_SOURCE,
            "account": deployment.owner_account,
            "region": deployment.owner_region,
            "resources": [deployment.stack_set_arn],
            "detail": detail,
        }
        return InstanceChange(
            stack_set_name=deployment.stack_set_name,
            stack_set_arn=deployment.stack_set_arn,
            account_id=deployment.account_id,
            region=deployment.region,
            action=action,
            stack_id=deployment.stack_id,
            succeeded=succeeded,
            status_reason=reason,
            event=event,
        )
