"""The account lifecycle events the org stack reacts to, and where they can be caught.

Organizations is a global service: its CloudTrail events ("AWS API Call via CloudTrail" for
TagResource, UntagResource, MoveAccount, CloseAccount; "AWS Service Event via CloudTrail" for
CreateAccountResult) reach EventBridge in us-east-1 only, best effort
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_security_incident-response.html).
An EventBridge rule can target a Lambda function in its own region only, so when the org stack's
home region is not us-east-1 the app adds `OrganizationsEventForwarderStack` in us-east-1: its
rules forward those events (and Control Tower's CreateManagedAccount, which arrives in Control
Tower's home region) to the default bus of the home region, a cross-region event bus target with
a role (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html). The org
stack's rules on its home region's default bus then match the forwarded events exactly as they
would have matched the originals. Whatever is lost on the way, the reconciler's schedule repairs.

StackSet StackInstance status events are emitted in the StackSet's own region, the home region,
so their rule lives in the org stack.

This is management mode. With `organization.stackset_admin: delegated` the org stack runs in
another account, and `org_stack.management_forwarder` forwards the same patterns from the
management account to it instead (docs/architecture.md §7).
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.model import DsdashConfig
from enrollment.enrollment_function.infrastructure import control_tower_pattern
from org_stack.reconciler.infrastructure import reconciler_organizations_pattern

ORGANIZATIONS_EVENTS_REGION: Final = "us-east-1"


def forwarded_event_patterns() -> dict[str, events.EventPattern]:
    """What us-east-1 forwards to the home region, by rule id."""
    return {
        "ForwardOrganizationsEvents": reconciler_organizations_pattern(),
        "ForwardControlTowerEvents": control_tower_pattern(),
    }


class OrganizationsEventForwarderStack(cdk.Stack):
    """us-east-1 rules forwarding lifecycle events to the org stack's home region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        home_region: str,
        synthesizer: cdk.IStackSynthesizer | None = None,
    ) -> None:
        if home_region == ORGANIZATIONS_EVENTS_REGION:
            raise ValueError(
                f"the org stack's home region is {ORGANIZATIONS_EVENTS_REGION}, where its own "
                "rules receive Organizations events: no forwarder stack is needed"
            )
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(
                account=config.organization.management_account_id,
                region=ORGANIZATIONS_EVENTS_REGION,
            ),
            synthesizer=synthesizer,
            description=(
                "dsdash: forwards Organizations and Control Tower lifecycle events from "
                f"{ORGANIZATIONS_EVENTS_REGION} to the org stack in {home_region}"
            ),
        )
        self.home_region = home_region
        home_bus_arn = self.format_arn(
            service="events",
            region=home_region,
            resource="event-bus",
            resource_name="default",
        )
        self.home_bus = events.EventBus.from_event_bus_arn(
            self, "HomeRegionDefaultBus", home_bus_arn
        )
        self.forwarder_role = iam.Role(
            self,
            "ForwarderRole",
            description=f"EventBridge forwards lifecycle events to the default bus of {home_region}",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        self.rules = {
            rule_id: events.Rule(
                self,
                rule_id,
                description=f"Lifecycle events for the dsdash org stack in {home_region}",
                event_pattern=pattern,
                targets=[targets.EventBus(self.home_bus, role=self.forwarder_role)],
            )
            for rule_id, pattern in forwarded_event_patterns().items()
        }
