"""Errors of the enrollment function (`enrollment.enrollment_function`).

Every error names what was wrong and with which input (account, step, event type), so the
Lambda's failure record and the `dsdash enroll|offboard` output say what to fix.
"""

from __future__ import annotations

from runtime_common.settings import SettingsError


class EnrollmentError(Exception):
    """Base class: enrolling or offboarding an account could not complete."""


class EnrollmentSettingsError(EnrollmentError, SettingsError):
    """Environment variables of the enrollment function are missing or malformed (each named)."""


class UnsupportedLifecycleEvent(EnrollmentError, ValueError):
    """The event is not one the enrollment function handles (it names source and detail-type).

    There is no default: an event routed here by mistake is an error, not a silent no-op.
    """


class MalformedLifecycleEvent(EnrollmentError, ValueError):
    """The event has the right type but lacks a field AWS documents for it."""


class ForbiddenRoleError(EnrollmentError):
    """Something asked to assume a role that is not one of dsdash's narrow enrollment roles."""


class AssignmentUnresolved(EnrollmentError):
    """Neither the stack instance's Environment override nor the OU tags name the account's
    environment, so enrollment cannot know under which hub parameter to register it."""


class InvalidEnrollmentRequest(EnrollmentError, ValueError):
    """enroll_account/offboard_account was called with an invalid account, project or region."""


class EnrollmentStepFailed(EnrollmentError):
    """One step failed after its last attempt. The hub registry records the step and the code
    (when the hub is reachable), and re-running the whole sequence repairs the spoke."""

    def __init__(self, account_id: str, step: str, error_code: str, message: str) -> None:
        self.account_id = account_id
        self.step = step
        self.error_code = error_code
        self.detail = message
        super().__init__(f"account {account_id}: step {step!r} failed with {error_code}: {message}")

    @property
    def reason(self) -> str:
        """The registry's Reason for the failed state."""
        return f"{self.step} failed: {self.error_code}: {self.detail}"
