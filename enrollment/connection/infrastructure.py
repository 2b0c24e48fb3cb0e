"""The connection function's CDK construct: the same function in the hub and in every spoke.

`ConnectionFunction` builds the function (`cdk_support.functions.python_function`) and grants
what `enrollment.connection.runtime.connection` does with its unit's bus, rules and SSM
parameters (docs/architecture.md §2 flows 6-8), with the cdk-nag acknowledgments of its
wildcards. Its resources are created in the scope the stack passes, under the ids the stacks
used before this unit existed (`ConnectionFunction`, `ConnectionFunctionRole`,
`ConnectionFunctionLogs`), so the logical ids of deployed hubs and spokes do not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_support import nag
from cdk_support.functions import nag_arn, parameter_arn, python_function

CONSTRUCT_ID: Final = "ConnectionFunction"
HANDLER: Final = "enrollment.connection.runtime.connection.handler"
MEMORY_SIZE: Final = 256

# What the connection function does on its own unit's bus (EBPut, Disconnect) and on the rules it
# owns there (the hub's refresh fan-out rules, a spoke's metric forward rules).
CONNECTION_BUS_ACTIONS: Final = ("events:DescribeEventBus",)
# Actions the IAM definitions give no resource type (Service Authorization Reference, Amazon
# EventBridge; checked by parliament in tests/cdk_support): a statement naming a bus ARN for them
# would never match, and EBPut would be denied in a real account. They must be granted on "*".
CONNECTION_ACCOUNT_ACTIONS: Final = (
    "events:ListRules",
    "events:PutPermission",
    "events:RemovePermission",
)
CONNECTION_RULE_ACTIONS: Final = (
    "events:DeleteRule",
    "events:ListTargetsByRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
)


class ConnectionFunction:
    """The connection function of one unit (hub or spoke) and its permissions, in `scope`.

    `bus_name` is the bus's literal name (the rule ARNs hold it; `bus.event_bus_name` is a
    token). `parameters_reason` and `rules_reason` say why the parameter path and the rule name
    prefix are wildcards in this unit; they become the cdk-nag acknowledgments' reasons.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        function_name: str,
        code: lambda_.Code,
        timeout: cdk.Duration,
        environment: Mapping[str, str],
        bus: events.IEventBus,
        bus_name: str,
        rule_prefix: str,
        parameter_path: str,
        forwarder_role: iam.IRole,
        parameters_reason: str,
        rules_reason: str,
        reserved_concurrent_executions: int | None = None,
    ) -> None:
        self.function = python_function(
            scope,
            CONSTRUCT_ID,
            function_name=function_name,
            handler=HANDLER,
            code=code,
            timeout=timeout,
            memory_size=MEMORY_SIZE,
            reserved_concurrent_executions=reserved_concurrent_executions,
            environment=environment,
        )
        _grant_connection_permissions(
            self.function,
            bus=bus,
            bus_name=bus_name,
            rule_prefix=rule_prefix,
            parameter_path=parameter_path,
            forwarder_role=forwarder_role,
            parameters_reason=parameters_reason,
            rules_reason=rules_reason,
        )


def _grant_connection_permissions(
    function: lambda_.Function,
    *,
    bus: events.IEventBus,
    bus_name: str,
    rule_prefix: str,
    parameter_path: str,
    forwarder_role: iam.IRole,
    parameters_reason: str,
    rules_reason: str,
) -> None:
    """Let a connection function manage its bus policy and its `rule_prefix` rules on `bus`, read
    the SSM parameters under `parameter_path`, and pass `forwarder_role` to EventBridge only."""
    stack = cdk.Stack.of(function)
    path = parameter_path.strip("/")
    function.add_to_role_policy(
        iam.PolicyStatement(
            # GetParametersByPath authorizes against the path itself and, recursively, the
            # parameters under it.
            actions=["ssm:GetParametersByPath"],
            resources=[parameter_arn(stack, path), parameter_arn(stack, f"{path}/*")],
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(CONNECTION_BUS_ACTIONS), resources=[bus.event_bus_arn])
    )
    rules = f"{bus_name}/{rule_prefix}*"
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=list(CONNECTION_RULE_ACTIONS),
            resources=[stack.format_arn(service="events", resource="rule", resource_name=rules)],
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(CONNECTION_ACCOUNT_ACTIONS), resources=["*"])
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[forwarder_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
        )
    )
    policy = function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
    nag.acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::{nag_arn(stack, 'ssm', 'parameter', f'{path}/*')}]",
        parameters_reason,
    )
    nag.acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::{nag_arn(stack, 'events', 'rule', rules)}]",
        rules_reason,
    )
    nag.acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "events:ListRules, events:PutPermission and events:RemovePermission support no "
        "resource-level permission (Service Authorization Reference, Amazon EventBridge) and are "
        f"the only actions granted on '*'; the function lists the {bus_name} bus's rules to find "
        f"its own '{rule_prefix}*' rules, and edits only the {bus_name} bus's policy (the "
        "account's other buses are never named in its calls).",
    )
