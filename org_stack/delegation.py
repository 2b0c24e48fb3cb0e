"""The delegated administrator's side of delegated mode (docs/architecture.md §7, delegated admin).

With `organization.stackset_admin: delegated`, the org stack runs in a member account registered
as the CloudFormation StackSets delegated administrator. Three things differ from management mode,
and this module holds what they need:

- **CallAs.** Every StackSet call is made with `CallAs: DELEGATED_ADMIN` (the StackSets' own
  `CallAs` property, and the functions' `CALL_AS`), as CloudFormation requires of a delegated
  administrator (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html).
- **Organizations reads.** Registering a delegated administrator gives it read-only access to
  Organizations (https://docs.aws.amazon.com/organizations/latest/APIReference/API_RegisterDelegatedAdministrator.html).
  The org walk uses only ListRoots, ListOrganizationalUnitsForParent, ListAccountsForParent and
  ListTagsForResource, each documented as callable "from the organization's management account
  or by a member account that is a delegated administrator". No management-only call is made,
  so no Organizations resource-based delegation policy is needed.
- **Lifecycle events.** Organizations and Control Tower events are emitted in the management
  account only. `org_stack.management_forwarder` forwards them to `LifecycleEventBus`, a
  dedicated bus (the default bus policy is never rewritten) whose policy admits the management
  account and nothing else; the org stack's lifecycle rules sit on that bus. StackSet instance
  status events need no forwarding: CloudFormation emits them in the account and region that
  administer the StackSet, here the delegated administrator's home region.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import aws_events as events
from constructs import Construct

import contracts

# `aws organizations register-delegated-administrator --service-principal ...` for StackSets.
STACKSETS_SERVICE_PRINCIPAL: Final = "member.org.stacksets.cloudformation.amazonaws.com"
MANAGEMENT_ACCOUNT_STATEMENT_ID: Final = "ManagementAccountLifecycleEvents"


class LifecycleEventBus(Construct):
    """The bus `dsdash-org-lifecycle`: lifecycle events forwarded by the management account."""

    def __init__(self, scope: Construct, construct_id: str, *, management_account_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=contracts.ORG_LIFECYCLE_BUS_NAME)
        # One account principal, no wildcard: only the management account's forwarding rules
        # (their role acts as that account) may put events here.
        self.policy = events.CfnEventBusPolicy(
            self,
            "ManagementAccountOnly",
            event_bus_name=self.bus.event_bus_name,
            statement_id=MANAGEMENT_ACCOUNT_STATEMENT_ID,
            statement={
                "Sid": MANAGEMENT_ACCOUNT_STATEMENT_ID,
                "Effect": "Allow",
                "Principal": {"AWS": management_account_id},
                "Action": "events:PutEvents",
                "Resource": self.bus.event_bus_arn,
            },
        )
