"""Constructs every dsdash stack builds the same way: its Python functions and the roles the
enrollment function assumes.

- `python_function`: a Python 3.11 x86_64 function with its own execution role (no managed
  policy) that writes only its own, retained log group (each unit's `infrastructure` builds its
  function with it: `enrollment.connection`, `enrollment.enrollment_function`,
  `org_stack.reconciler`, `spoke_stackset.extractor`);
- `enrollment_role`: the role in the hub and in every spoke that only the enrollment function may
  assume;
- `parameter_arn` and `nag_arn`: ARNs of a stack's own account and region, the second as cdk-nag
  prints it in finding ids (which acknowledgments must repeat exactly).

Construct ids are derived from the id the caller passes (`<id>`, `<id>Role`, `<id>Logs`) and
created in the caller's scope, so logical ids do not depend on this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import aws_cdk as cdk
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
