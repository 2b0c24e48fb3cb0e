"""Delegated mode: all the management account keeps, a stack of forwarding rules that runs no code.

With `organization.stackset_admin: delegated` (docs/architecture.md §7, delegated admin), the org
stack runs in the StackSets delegated administrator's account, but Organizations and Control Tower
still emit their lifecycle events in the management account only:

- Organizations' CloudTrail events (CreateAccountResult, MoveAccount, CloseAccount and the OU
  TagResource/UntagResource the reconciler needs) arrive in us-east-1 only, best effort
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_security_incident-response.html);
- Control Tower's CreateManagedAccount arrives in Control Tower's home region
  (https://docs.aws.amazon.com/controltower/latest/userguide/lifecycle-events.html).

`ManagementForwarderStack` therefore goes to us-east-1 (Organizations and Control Tower events)
and, when the org stack's home region is another one, to that region too (Control Tower events):
the same regions management mode listens in. Each rule targets the delegated administrator's
`dsdash-org-lifecycle` bus in the home region, with a role (EventBridge requires one for a
cross-account target, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html,
and cross-Region targets, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html);
that bus admits only the management account (`org_stack.delegation.LifecycleEventBus`). The
stack holds rules and one role: no Lambda function, nothing that runs code.
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

import contracts
from config.model import DsdashConfig
from enrollment.enrollment_function.infrastructure import control_tower_pattern
from org_stack.lifecycle_rules import ORGANIZATIONS_EVENTS_REGION
from org_stack.reconciler.infrastructure import reconciler_organizations_pattern

MANAGEMENT_FORWARDER_STACK_PREFIX: Final = "DsdashManagementForwarder"


def management_forwarder_stack_id(region: str) -> str:
    return f"{MANAGEMENT_FORWARDER_STACK_PREFIX}-{region}"


def management_forwarder_regions(home_region: str) -> tuple[str, ...]:
    """us-east-1 (Organizations and Control Tower), plus the home region (Control Tower)."""
    if home_region == ORGANIZATIONS_EVENTS_REGION:
        return (ORGANIZATIONS_EVENTS_REGION,)
    return (ORGANIZATIONS_EVENTS_REGION, home_region)


def forwarded_patterns(region: str) -> dict[str, events.EventPattern]:
    """What the management account forwards from `region`, by rule id."""
    patterns = {"ForwardControlTowerEvents": control_tower_pattern()}
    if region == ORGANIZATIONS_EVENTS_REGION:
        patterns["ForwardOrganizationsEvents"] = reconciler_organizations_pattern()
    return patterns


class ManagementForwarderStack(cdk.Stack):
    """Rules in the management account forwarding lifecycle events to the delegated admin."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        region: str,
        home_region: str,
        synthesizer: cdk.IStackSynthesizer | None = None,
    ) -> None:
        organization = config.organization
        if not organization.is_delegated:
            raise ValueError(
                "the management forwarder belongs to stackset_admin: delegated; in management "
                "mode the org stack itself runs in the management account"
            )
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=organization.management_account_id, region=region),
            synthesizer=synthesizer,
            description=(
                "dsdash (management account): forwards Organizations and Control Tower lifecycle "
                f"events to the org stack of account {organization.administrator_account_id} "
                f"in {home_region}; runs no code"
            ),
        )
        target_bus_arn = (
            f"arn:{self.partition}:events:{home_region}:"
            f"{organization.administrator_account_id}:event-bus/{contracts.ORG_LIFECYCLE_BUS_NAME}"
        )
        self.target_bus = events.EventBus.from_event_bus_arn(
            self, "DelegatedAdminLifecycleBus", target_bus_arn
        )
        self.forwarder_role = iam.Role(
            self,
            "ForwarderRole",
            description=(
                "EventBridge forwards lifecycle events to the dsdash delegated administrator's "
                f"{contracts.ORG_LIFECYCLE_BUS_NAME} bus"
            ),
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        self.rules = {
            rule_id: events.Rule(
                self,
                rule_id,
                description=(
                    "Lifecycle events for the dsdash org stack of the delegated administrator "
                    f"{organization.administrator_account_id}"
                ),
                event_pattern=pattern,
                targets=[targets.EventBus(self.target_bus, role=self.forwarder_role)],
            )
            for rule_id, pattern in forwarded_patterns(region).items()
        }
