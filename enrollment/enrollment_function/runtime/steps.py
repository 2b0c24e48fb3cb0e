"""Steps with retries: each AWS step of an enrollment is retried with exponential backoff on the
errors a new account or a just-deployed stack gives for a few minutes (IAM propagation, functions
still being created) and on throttling. When the last attempt fails, the registry records the state
`failed` with the step and the AWS error code, and `EnrollmentStepFailed` is raised so the
Lambda's asynchronous retries and the sweep try again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from enrollment.enrollment_function.runtime.enrollment_errors import EnrollmentStepFailed
from enrollment.enrollment_function.runtime.report import EnrollmentReport
from enrollment.enrollment_function.runtime.settings import (
    EnrollmentSettings,
    Sleep,
)
from hub_stack.spoke_registry.records import SpokeState
from hub_stack.spoke_registry.registry import SpokeRegistry
from runtime_common.backoff import backoff_seconds

logger = Logger(service="dsdash-org-enrollment")


T = TypeVar("T")

# Errors a new account or a just-deployed stack gives for a few minutes, and throttling.
THROTTLING_ERROR_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "TooManyUpdates",
        "ProvisionedThroughputExceededException",
    }
)
RETRYABLE_ERROR_CODES: Final = THROTTLING_ERROR_CODES | {
    "AccessDenied",
    "AccessDeniedException",
    "ResourceNotFoundException",
    # Invoke while the function is still being created or updated (state Pending).
    "ResourceConflictException",
}
# While offboarding, these mean the spoke side is gone (closed account, deleted stack): the
# hub side is cleaned anyway.
SPOKE_UNREACHABLE_ERROR_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        # The connection function's own error when the spoke bus no longer exists.
        "EventBusNotFound",
    }
)


class FunctionFailed(Exception):
    """A connection function ran and raised; its errorType is the step's error code."""

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        super().__init__(message)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)


@dataclass
class Steps:
    account_id: str
    settings: EnrollmentSettings
    sleep: Sleep
    report: EnrollmentReport

    def run(
        self,
        step: str,
        operation: Callable[[], T],
        *,
        retry_on: frozenset[str] = RETRYABLE_ERROR_CODES,
    ) -> T:
        """Run one idempotent step, retrying `retry_on` errors with exponential backoff."""
        attempt = 1
        while True:
            try:
                result = operation()
            except ClientError as error:
                code = error_code(error)
                if code in retry_on and attempt < self.settings.max_attempts:
                    # Mostly answers botocore's retry modes never retry (AccessDenied while a
                    # new account's roles propagate, a function still Pending); throttling gets
                    # here only once the client's own adaptive retries gave up. One schedule:
                    # runtime_common.backoff.
                    pause = backoff_seconds(
                        attempt,
                        base_seconds=self.settings.backoff_base_seconds,
                        cap_seconds=self.settings.backoff_max_seconds,
                    )
                    logger.info(
                        "step failed, retrying",
                        extra={
                            "account_id": self.account_id,
                            "step": step,
                            "error_code": code,
                            "attempt": attempt,
                            "pause_seconds": pause,
                        },
                    )
                    self.sleep(pause)
                    attempt += 1
                    continue
                raise EnrollmentStepFailed(
                    self.account_id, step, code, error_message(error)
                ) from error
            except FunctionFailed as error:
                # A connection action refused (quota, malformed peers): retrying cannot help.
                raise EnrollmentStepFailed(
                    self.account_id, step, error.error_type, str(error)
                ) from error
            self.report.steps.append({"step": step, "attempts": attempt})
            return result


def record_failure(registry: SpokeRegistry | None, failure: EnrollmentStepFailed) -> None:
    logger.error(
        "enrollment step failed",
        extra={
            "account_id": failure.account_id,
            "step": failure.step,
            "error_code": failure.error_code,
            "error": failure.detail,
        },
    )
    if registry is None:
        return  # the hub itself is unreachable: the log and the raised error are all we have
    try:
        registry.set_spoke_state(failure.account_id, SpokeState.FAILED, reason=failure.reason)
    except ClientError as error:
        logger.error(
            "could not record the failure in the hub registry",
            extra={"account_id": failure.account_id, "error": str(error)},
        )
