"""Which AWS operations a Lambda function's code really calls, and the IAM actions they need.

moto gap: moto evaluates no IAM policy unless asked (and never a trust policy), so a grant missing
from a function's role passes every moto test and fails only in AWS. The IAM contract tests
therefore record every API call the runtime code makes on moto, attribute it to the role whose
credentials signed it, and compare with the role's policy in the synthesized template.

Attribution, by the access key a client signs with:
- keys that moto's STS issued (AssumeRole) belong to the assumed role: the enrollment function's
  hub and spoke roles, and the execution roles `sandbox.lambda_runtime` assumes when it runs a
  moto Lambda function in-process (the connection functions, the reconciler);
- any other key is the process's own: it belongs to the function the test is "acting as"
  (`ApiCallRecorder.acting_as`); outside that block nothing is recorded (set-up calls).
AssumeRole calls with `sandbox.credentials.SANDBOX_SESSION_NAME` are the sandbox standing in for
the Lambda service (or setting up an account), not the code under test: they are not recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
import boto3.session
import pytest

import contracts
from sandbox.credentials import SANDBOX_SESSION_NAME

# botocore operations whose IAM action is not `<signing name>:<operation name>`. Sources: the
# Service Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/).
IAM_ACTION_EXCEPTIONS: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    # The Invoke API is authorized as lambda:InvokeFunction (list_awslambda.html).
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    # CloudWatch's signing name is `monitoring`; its IAM prefix is `cloudwatch`.
    ("monitoring", "PutMetricData"): ("cloudwatch:PutMetricData",),
    # GetCallerIdentity needs no permission; even an explicit Deny cannot stop it
    # (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
    ("sts", "GetCallerIdentity"): (),
    # S3's list and head operations are authorized as the bucket/object read actions.
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    # A transaction is authorized per item, as the single-item actions it contains.
    ("dynamodb", "TransactWriteItems"): (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    ),
}


def iam_actions_for(service_prefix: str, operation_name: str) -> tuple[str, ...]:
    """The IAM actions one API operation needs (almost always `<prefix>:<operation>`)."""
    exception = IAM_ACTION_EXCEPTIONS.get((service_prefix, operation_name))
    if exception is not None:
        return exception
    return (f"{service_prefix}:{operation_name}",)


@dataclass(frozen=True)
class ApiCall:
    """One API call made by the code under test, before serialisation."""

    principal: str  # the role name whose credentials signed it (see the module docstring)
    service: str  # the IAM service prefix (botocore's signing name)
    operation: str  # botocore's operation name, e.g. GetParametersByPath
    params: Mapping[str, Any]
    region: str

    @property
    def iam_actions(self) -> tuple[str, ...]:
        return iam_actions_for(self.service, self.operation)

    def describe(self) -> str:
        return f"{self.service}:{self.operation} by {self.principal} in {self.region}"


@dataclass
class ApiCallRecorder:
    """Hooks every boto3 client created while `installed()` is active (see module docstring)."""

    calls: list[ApiCall] = field(default_factory=list)
    # access key id -> (role name, role session name), from moto's AssumeRole answers
    assumed_roles: dict[str, tuple[str, str]] = field(default_factory=dict)
    acting: str | None = None

    @contextmanager
    def installed(self) -> Iterator[ApiCallRecorder]:
        original_client = boto3.session.Session.client
        recorder = self

        @functools.wraps(original_client)
        def client(session: boto3.session.Session, *args: Any, **kwargs: Any) -> Any:
            made = original_client(session, *args, **kwargs)
            access_key = kwargs.get("aws_access_key_id")
            if access_key is None:
                credentials = session.get_credentials()
                access_key = credentials.access_key if credentials is not None else None
            # before-parameter-build fires once per API call (not per retry), with the
            # caller's parameters; paginators go through it for every page.
            made.meta.events.register(
                "before-parameter-build", functools.partial(recorder._before_call, access_key)
            )
            made.meta.events.register("after-call.sts.AssumeRole", recorder._after_assume_role)
            return made

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(boto3.session.Session, "client", client)
            yield self

    @contextmanager
    def acting_as(self, principal: str) -> Iterator[None]:
        """Record calls; those signed with the process's own keys belong to `principal`."""
        previous, self.acting = self.acting, principal
        try:
            yield
        finally:
            self.acting = previous

    def principal_of(self, access_key: str | None) -> str | None:
        assumed = self.assumed_roles.get(access_key or "")
        if assumed is not None:
            return assumed[0]
        return self.acting

    def _before_call(
        self, access_key: str | None, params: Mapping[str, Any], model: Any, context: Any, **_: Any
    ) -> None:
        if self.acting is None:
            return
        service = str(model.service_model.signing_name or model.service_model.endpoint_prefix)
        if (
            service == "sts"
            and model.name == "AssumeRole"
            and params.get("RoleSessionName") == SANDBOX_SESSION_NAME
        ):
            return  # the sandbox starting a function with its execution role, not our code
        principal = self.principal_of(access_key)
        if principal is None:
            return
        region = str((context or {}).get("client_region") or "")
        self.calls.append(ApiCall(principal, service, str(model.name), dict(params), region))

    def _after_assume_role(self, parsed: Mapping[str, Any], **_: Any) -> None:
        credentials = parsed.get("Credentials")
        assumed_user = parsed.get("AssumedRoleUser")
        if not credentials or not assumed_user:
            return
        # arn:aws:sts::<account>:assumed-role/<role name>/<session name>
        _, role_name, session_name = str(assumed_user["Arn"]).split(":", 5)[5].split("/", 2)
        self.assumed_roles[str(credentials["AccessKeyId"])] = (role_name, session_name)

    def by_principal(self) -> dict[str, list[ApiCall]]:
        grouped: dict[str, list[ApiCall]] = {}
        for call in self.calls:
            grouped.setdefault(call.principal, []).append(call)
        return grouped


@dataclass(frozen=True)
class RecordedRun:
    calls: tuple[ApiCall, ...]
    # moto account id -> the account id the templates use for it
    account_aliases: dict[str, str]

    def by_principal(self, principals: tuple[str, ...]) -> list[ApiCall]:
        return [call for call in self.calls if call.principal in principals]


# --------------------------------------------------------------------------------------------
# The resource each request addresses, for the resource-level checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArnContext:
    """Where a principal's own resources are, in the template's terms.

    moto's account ids differ from the config's; `account_aliases` maps each moto account to the
    account id the templates use, so that ARNs named in requests (role and function ARNs) can be
    compared with the template's.
    """

    account_id: str
    region: str
    account_aliases: Mapping[str, str] = field(default_factory=dict)

    def translate(self, arn: str) -> str:
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[4] in self.account_aliases:
            parts[4] = self.account_aliases[parts[4]]
        return ":".join(parts)


def _event_bus_arn(name_or_arn: str | None, context: ArnContext) -> str:
    if name_or_arn and name_or_arn.startswith("arn:"):
        return context.translate(name_or_arn)
    return (
        f"arn:aws:events:{context.region}:{context.account_id}:event-bus/{name_or_arn or 'default'}"
    )


def _rule_arn(bus: str | None, rule: str, context: ArnContext) -> str:
    bus_name = (bus or "default").rsplit("/", 1)[-1]
    # Rules on the default bus have no bus segment in their ARN.
    path = rule if bus_name == "default" else f"{bus_name}/{rule}"
    return f"arn:aws:events:{context.region}:{context.account_id}:rule/{path}"


def _parameter_arn(name: str, context: ArnContext) -> str:
    return f"arn:aws:ssm:{context.region}:{context.account_id}:parameter/{name.lstrip('/')}"


def request_resources(call: ApiCall, context: ArnContext) -> tuple[str, ...] | None:
    """The ARNs IAM checks for this request; None when this suite does not model the resource
    (operations authorized on "*" only, or services without a resource check here)."""
    params = call.params
    if call.service == "ssm":
        if call.operation in {"GetParameter", "PutParameter", "DeleteParameter"}:
            return (_parameter_arn(str(params["Name"]), context),)
        if call.operation == "GetParametersByPath":
            return (_parameter_arn(str(params["Path"]), context),)
        return None
    if call.service == "events":
        if call.operation == "PutEvents":
            return tuple(
                sorted({_event_bus_arn(e.get("EventBusName"), context) for e in params["Entries"]})
            )
        if call.operation == "DescribeEventBus":
            return (_event_bus_arn(params.get("Name"), context),)
        if call.operation in {"PutRule", "DescribeRule", "DeleteRule"}:
            return (_rule_arn(params.get("EventBusName"), str(params["Name"]), context),)
        if call.operation in {"PutTargets", "RemoveTargets", "ListTargetsByRule"}:
            return (_rule_arn(params.get("EventBusName"), str(params["Rule"]), context),)
        # ListRules, PutPermission and RemovePermission have no resource type in the IAM
        # definitions: they are authorized on "*", not one ARN.
        return None
    if call.service == "lambda" and call.operation == "Invoke":
        name = str(params["FunctionName"])
        if name.startswith("arn:"):
            return (context.translate(name),)
        return (f"arn:aws:lambda:{context.region}:{context.account_id}:function:{name}",)
    if call.service == "sts" and call.operation == "AssumeRole":
        return (context.translate(str(params["RoleArn"])),)
    if call.service == "iam" and call.operation == "PassRole":
        return (context.translate(str(params["RoleArn"])),)
    if call.service == "firehose" and "DeliveryStreamName" in params:
        return (
            f"arn:aws:firehose:{context.region}:{context.account_id}:deliverystream/"
            f"{params['DeliveryStreamName']}",
        )
    if call.service == "dynamodb":
        tables = [params["TableName"]] if "TableName" in params else list(params["RequestItems"])
        return tuple(
            f"arn:aws:dynamodb:{context.region}:{context.account_id}:table/{table}"
            for table in tables
        )
    return None


def implied_calls(call: ApiCall) -> list[ApiCall]:
    """Authorizations AWS checks on the caller as part of this call.

    sns:Publish to an encrypted topic checks kms:GenerateDataKey and kms:Decrypt; events:PutTargets with a target RoleArn checks iam:PassRole on that role
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html).
    """
    topic_arn = str(call.params.get("TopicArn", ""))
    if (
        call.service == "sns"
        and call.operation == "Publish"
        and not topic_arn.endswith(f":{contracts.REFRESH_TOPIC_NAME}")
    ):
        # The alert topics are KMS-encrypted: SNS asks KMS for a data key with the publisher's
        # permissions (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        # moto's SNS calls no KMS, so the check is stated here. The refresh topic is not
        # encrypted: it carries only a refresh scope (docs/architecture.md §7).
        return [
            ApiCall(call.principal, "kms", operation, {}, call.region)
            for operation in ("GenerateDataKey", "Decrypt")
        ]
    if call.service == "events" and call.operation == "PutTargets":
        return [
            ApiCall(call.principal, "iam", "PassRole", {"RoleArn": target["RoleArn"]}, call.region)
            for target in call.params.get("Targets", [])
            if target.get("RoleArn")
        ]
    return []
