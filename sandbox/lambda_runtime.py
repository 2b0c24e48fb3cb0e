"""In-process Lambda execution for the sandbox.

moto gap (docs/architecture.md §6): moto never runs Lambda code without Docker, and its `Invoke` answers with
a canned payload. The sandbox therefore runs the real handler named by the function's `Handler`
setting, in this process, with the function's environment variables, its region, and credentials
of the function's account (moto's STS issues keys for the execution role's account). The code that
runs is the dsdash source installed here: the same source `cdk_support.lambda_asset` packaged.

Invocations requested asynchronously (EventBridge targets, `InvocationType=Event`) are queued and
run by `drain()`, as the Lambda service runs them after the caller has returned.
"""

from __future__ import annotations

import importlib
import json
import logging
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction

from sandbox.credentials import AccountCredentials, assume_role_credentials, environment
from sandbox.moto_patching import MotoPatches

logger = logging.getLogger(__name__)

# Handlers may only come from dsdash's own runtime packages: the sandbox runs our code, not
# arbitrary strings stored in moto.
DSDASH_RUNTIME_PACKAGES: tuple[str, ...] = (
    "spoke_stackset.extractor.runtime.",
    "hub_stack.ingest.runtime.",
    "hub_stack.refresh.runtime.",
    "hub_stack.platform_health.runtime.",
    "hub_stack.dashboard_publisher.runtime.",
    "enrollment.connection.runtime.",
    "enrollment.enrollment_function.runtime.",
    "org_stack.reconciler.runtime.",
)


class HandlerNotAllowedError(RuntimeError):
    """The function's Handler names a module outside the packages the sandbox may run."""


@dataclass(frozen=True)
class SandboxLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str = "sandbox"
    function_version: str = "$LATEST"
    timeout_seconds: int = 900

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


@dataclass(frozen=True)
class InvocationRecord:
    function_arn: str
    asynchronous: bool
    succeeded: bool
    error: str | None = None


@dataclass
class InvocationResult:
    payload: Any
    error_type: str | None = None
    error_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error_type is None


@dataclass
class LambdaRuntime:
    allowed_handler_prefixes: tuple[str, ...] = DSDASH_RUNTIME_PACKAGES
    # Defaults a function's own environment may override (as the Lambda service sets some).
    extra_environment: dict[str, str] = field(default_factory=dict)
    # Settings of the sandbox itself that win over the function's environment (log level).
    overriding_environment: dict[str, str] = field(default_factory=dict)
    history: list[InvocationRecord] = field(default_factory=list)
    _pending: deque[tuple[LambdaFunction, Any]] = field(default_factory=deque)
    # A function's execution environment keeps its role's credentials between invocations (Lambda
    # refreshes them hours apart), so the handlers' warm clients (`runtime_common.aws.warm_client`,
    # one per identity) stay warm here as they do in AWS; new keys per invocation would make every
    # invocation a cold start, and cost an AssumeRole besides.
    _credentials: dict[tuple[str, str], AccountCredentials] = field(default_factory=dict)

    def resolve_handler(self, handler: str) -> Callable[[Any, Any], Any]:
        module_name, _, function_name = handler.rpartition(".")
        if not module_name or not any(
            handler.startswith(prefix) for prefix in self.allowed_handler_prefixes
        ):
            raise HandlerNotAllowedError(
                f"handler {handler!r} is outside the packages the sandbox runs "
                f"({', '.join(self.allowed_handler_prefixes)})"
            )
        function: Callable[[Any, Any], Any] = getattr(
            importlib.import_module(module_name), function_name
        )
        return function

    def invoke(self, function: LambdaFunction, payload: Any) -> InvocationResult:
        """Run the function's handler now and return its result (RequestResponse semantics)."""
        result = self._run(function, payload)
        self.history.append(
            InvocationRecord(function.function_arn, False, result.succeeded, result.error_message)
        )
        return result

    def invoke_async(self, function: LambdaFunction, payload: Any) -> None:
        self._pending.append((function, payload))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def drain(self) -> int:
        """Run queued asynchronous invocations (and those they queue) until none remain."""
        ran = 0
        while self._pending:
            function, payload = self._pending.popleft()
            result = self._run(function, payload)
            self.history.append(
                InvocationRecord(
                    function.function_arn, True, result.succeeded, result.error_message
                )
            )
            ran += 1
        return ran

    def _execution_credentials(self, function: LambdaFunction) -> AccountCredentials:
        key = (function.function_arn, str(function.role))
        if key not in self._credentials:
            self._credentials[key] = assume_role_credentials(function.role, function.region)
        return self._credentials[key]

    def _run(self, function: LambdaFunction, payload: Any) -> InvocationResult:
        context = SandboxLambdaContext(
            function_name=function.function_name,
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{function.function_name}",
            timeout_seconds=int(function.timeout),
        )
        credentials = self._execution_credentials(function)
        variables = {
            **self.extra_environment,
            **{name: str(value) for name, value in (function.environment_vars or {}).items()},
            **credentials.as_environment(),
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            **self.overriding_environment,
        }
        with environment(variables), _fresh_default_boto3_session():
            # Resolved here, so that a handler module imported for the first time configures
            # itself (its logger, for instance) from the function's environment, as in Lambda.
            handler = self.resolve_handler(str(function.handler))
            try:
                return InvocationResult(payload=handler(payload, context))
            except Exception as error:  # A failing handler is a result, as in Lambda.
                logger.warning(
                    "sandbox: %s failed: %s\n%s",
                    function.function_name,
                    error,
                    traceback.format_exc(),
                )
                return InvocationResult(
                    payload={"errorType": type(error).__name__, "errorMessage": str(error)},
                    error_type=type(error).__name__,
                    error_message=str(error),
                )


@contextmanager
def _fresh_default_boto3_session() -> Iterator[None]:
    # boto3's module-level default session caches the credentials it first saw. A Lambda
    # container starts with none, so each invocation gets a fresh one reading its own environment.
    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = None
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved


@contextmanager
def patched_lambda_invoke(runtime: LambdaRuntime) -> Iterator[LambdaRuntime]:
    """Route moto's `Invoke` API to the runtime (RequestResponse runs now, Event is queued)."""

    def invoke(
        self: LambdaFunction, body: str, request_headers: Any, response_headers: Any
    ) -> str | bytes:
        payload = json.loads(body) if body else {}
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "Event":
            runtime.invoke_async(self, payload)
            return b""
        result = runtime.invoke(self, payload)
        if not result.succeeded:
            response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(result.payload, default=str).encode("utf-8")

    with MotoPatches([(LambdaFunction, "invoke", invoke)]).applied():
        yield runtime
