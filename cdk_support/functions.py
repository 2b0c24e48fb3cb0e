"""Constructs every dsdash stack builds the same way: its Python functions and the connection
function's permissions.

- `python_function`: a Python 3.11 x86_64 function with its own execution role (no managed
  policy) that writes only its own, retained log group;
- `grant_connection_permissions`: what `enrollment.runtime.connection` does with its unit's bus,
  rules and SSM parameters, in the hub and in every spoke alike (docs/architecture.md §2 flows 6-8), with
  the cdk-nag acknowledgments of its wildcards;
- `parameter_arn` and `nag_arn`: ARNs of a stack's own account and region, the second as cdk-nag
  prints it in finding ids (which acknowledgments must repeat exactly).

Construct ids are derived from the id the caller passes (`<id>`, `<id>Role`, `<id>Logs`) and
created in the caller's scope, so logical ids do not depend on this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

import contracts
from cdk_support import nag
from cdk_support.lambda_asset import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

LOG_RETENTION: Final = logs.RetentionDays.THREE_MONTHS

LAMBDA_RUNTIME_REASON: Final = (
    "Pinned to Python 3.11: the Lambda assets bundle wheels (compiled ones too, rpds-py for "
    "jsonschema) from the project's CPython 3.11 venv, and Python 3.11 is the project's supported "
    "baseline (pyproject requires-python); moving runtimes means rebuilding the venv and assets "
    "together."
)

# What the connection function does on its own unit's bus (EBPut, Disconnect) and on the rules it
# owns there (the hub's refresh fan-out rules, a spoke's metric forward rules).
CONNECTION_BUS_ACTIONS: Final = ("events:DescribeEventBus",)
# Actions the IAM definitions give no resource type (Service Authorization Reference, Amazon
# EventBridge; checked by parliament in tests/policy_lint): a statement naming a bus ARN for them
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


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    function_name: str,
    handler: str,
    code: lambda_.Code,
    timeout: cdk.Duration,
    memory_size: int,
    environment: Mapping[str, str],
    role_name: str | None = None,
    reserved_concurrent_executions: int | None = None,
) -> lambda_.Function:
    """A Python 3.11 x86_64 function with its own role and a retained log group.

    The role is ours rather than the CDK's default, which attaches the managed
    AWSLambdaBasicExecutionRole (logs on every log group); ours writes only its log group.
    `POWERTOOLS_SERVICE_NAME` is the function's name, so its logs say which function wrote them.
    """
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {function_name}",
    )
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=LOG_RETENTION)
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        construct_id,
        function_name=function_name,
        reserved_concurrent_executions=reserved_concurrent_executions,
        runtime=LAMBDA_RUNTIME,
        architecture=LAMBDA_ARCHITECTURE,
        handler=handler,
        code=code,
        role=role,
        timeout=timeout,
        memory_size=memory_size,
        log_group=log_group,
        environment={"POWERTOOLS_SERVICE_NAME": function_name, **environment},
    )
    nag.acknowledge(function, "AwsSolutions-L1", LAMBDA_RUNTIME_REASON)
    return function


def grant_connection_permissions(
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
    the SSM parameters under `parameter_path`, and pass `forwarder_role` to EventBridge only.

    `bus_name` is the bus's literal name (the rule ARNs hold it; `bus.event_bus_name` is a
    token). `parameters_reason` and `rules_reason` say why the parameter path and the rule name
    prefix are wildcards in this unit; they become the cdk-nag acknowledgments' reasons.
    """
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


def parameter_arn(stack: cdk.Stack, name_without_leading_slash: str) -> str:
    """An SSM parameter (or parameter path) ARN in `stack`'s account and region."""
    return stack.format_arn(
        service="ssm", resource="parameter", resource_name=name_without_leading_slash
    )


def nag_arn(stack: cdk.Stack, service: str, resource: str, resource_name: str) -> str:
    """An ARN of `stack`'s account and region as cdk-nag prints it in finding ids: pseudo
    parameters as `<AWS::...>`, literal account and region where the stack has them."""
    region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account
    return f"arn:<AWS::Partition>:{service}:{region}:{account}:{resource}/{resource_name}"


def enrollment_role(
    scope: Construct,
    construct_id: str,
    *,
    role_name: str,
    description: str,
    enrollment_account_id: str,
) -> iam.Role:
    """A role only dsdash's enrollment function may assume (hub and spokes).

    `enrollment_account_id` is the org stack's account, where that function runs: the
    management account, or the StackSets delegated administrator
    (`OrganizationSettings.administrator_account_id`; docs/architecture.md §7).
    The trust names that account, narrowed to the enrollment function's role by
    aws:PrincipalArn, rather than the role itself as principal: IAM rejects a trust policy whose
    role principal does not exist yet (the org stack may be deployed after the hub and spokes),
    and a recreated role would silently drop out of a principal-by-ARN trust
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles).
    """
    enrollment_function_role = (
        f"arn:{cdk.Stack.of(scope).partition}:iam::{enrollment_account_id}:role/"
        f"{contracts.ENROLLMENT_FUNCTION_ROLE_NAME}"
    )
    return iam.Role(
        scope,
        construct_id,
        role_name=role_name,
        description=description,
        assumed_by=iam.AccountPrincipal(enrollment_account_id).with_conditions(
            {"ArnEquals": {"aws:PrincipalArn": enrollment_function_role}}
        ),
    )
