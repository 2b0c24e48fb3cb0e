"""The CDK side of account placement, shared by the two functions of the org stack that read it
(the reconciler, `org_stack.reconciler`, and the enrollment function,
`enrollment.enrollment_function`): the Organizations reads and their IAM grants, our StackSets'
ARNs, the EventBridge pattern of Organizations events, and Lambda's environment size limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from cdk_support import nag
from config.model import DsdashConfig
from enrollment.placement.organizations_events import (
    API_CALL_DETAIL_TYPE,
    ORGANIZATIONS_EVENT_SOURCE,
    SERVICE_EVENT_DETAIL_TYPE,
)
from enrollment.placement.stackset_names import STACKSET_NAME_PREFIX

CLOUDTRAIL_DETAIL_TYPES: Final = (API_CALL_DETAIL_TYPE, SERVICE_EVENT_DETAIL_TYPE)
ORGANIZATIONS_READ_ACTIONS: Final = (
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListParents",
    "organizations:ListTagsForResource",
)
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ENVIRONMENT_MAX_BYTES: Final = 4 * 1024


class FunctionEnvironmentTooLargeError(ValueError):
    """A function's environment (the targeting settings, mostly) passed Lambda's 4 KB."""


def check_environment_size(function_name: str, environment: Mapping[str, str]) -> None:
    """Fail the synth, not the deployment, when the config no longer fits an environment."""
    size = sum(
        len(key.encode()) + len(value.encode())
        for key, value in environment.items()
        if not cdk.Token.is_unresolved(value)
    )
    if size > LAMBDA_ENVIRONMENT_MAX_BYTES:
        raise FunctionEnvironmentTooLargeError(
            f"the environment of {function_name} is {size:,} bytes, over Lambda's "
            f"{LAMBDA_ENVIRONMENT_MAX_BYTES:,}: the CONFIG value grows with projects, "
            "environments and explicitly listed accounts; list fewer accounts in the config"
        )


def organizations_pattern(event_names: Sequence[str]) -> events.EventPattern:
    return events.EventPattern(
        source=[ORGANIZATIONS_EVENT_SOURCE],
        detail_type=list(CLOUDTRAIL_DETAIL_TYPES),
        detail={"eventName": list(event_names)},
    )


def partition_arn(rest: str) -> str:
    return cdk.Fn.sub(f"arn:${{AWS::Partition}}:{rest}")


def our_stack_sets_arn(stack: cdk.Stack) -> str:
    return stack.format_arn(
        service="cloudformation",
        resource="stackset",
        resource_name=f"{STACKSET_NAME_PREFIX}*:*",
    )


def acknowledge_stack_sets(stack: cdk.Stack, policy: IConstruct, what: str) -> None:
    nag.acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:"
        f"{stack.region}:{stack.account}:stackset/{STACKSET_NAME_PREFIX}*:*]",
        f"The function {what} of dsdash's spoke StackSets only (one per project, named "
        f"'{STACKSET_NAME_PREFIX}<project>'); a StackSet ARN ends in a uuid known only "
        "after creation.",
    )


def grant_organizations_read(
    function: lambda_.Function, config: DsdashConfig, *, describe_account: bool = False
) -> None:
    """What `enrollment.placement.org_tree` calls: ListRoots, then per root and OU its child
    OUs, accounts and tags, within our organization only; and what
    `enrollment.placement.account_path` calls: ListParents of an account and of each OU
    above it (and, for the reconciler, DescribeAccount for its state)."""
    function.add_to_role_policy(
        # ListRoots supports no resource-level permission.
        iam.PolicyStatement(actions=["organizations:ListRoots"], resources=["*"])
    )
    organization = config.organization
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=list(ORGANIZATIONS_READ_ACTIONS),
            resources=[
                partition_arn(
                    f"organizations::{organization.management_account_id}:{kind}/"
                    f"{organization.id}/{prefix}*"
                )
                for kind, prefix in (("root", "r-"), ("ou", "ou-"))
            ],
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=[
                "organizations:ListParents",
                *(["organizations:DescribeAccount"] if describe_account else []),
            ],
            resources=[
                partition_arn(
                    f"organizations::{organization.management_account_id}:account/"
                    f"{organization.id}/*"
                )
            ],
        )
    )


def acknowledge_organizations_read(policy: IConstruct, config: DsdashConfig) -> None:
    organization = config.organization
    nag.acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "organizations:ListRoots supports no resource-level permission (Service "
        "Authorization Reference, AWS Organizations) and is the only action granted on "
        "'*'; the organization walk starts from the roots.",
    )
    nag.acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::"
        f"{organization.management_account_id}:account/{organization.id}/*]",
        "An event about one account reads that account's parents (and state) to place it "
        "without walking the organization; accounts join at run time, so only the "
        f"organization ({organization.id}) is known at deploy time. Read-only.",
    )
    for kind, prefix in (("root", "r-"), ("ou", "ou-")):
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:organizations::"
            f"{organization.management_account_id}:{kind}/{organization.id}/{prefix}*]",
            "The organization walk lists the child OUs, accounts and tags of every root and "
            f"OU of organization {organization.id}, whose ids change as OUs are created; "
            "read-only List actions, within this organization only.",
        )
