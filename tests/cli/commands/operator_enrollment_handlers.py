"""Stand-ins for the enrollment function, run by the sandbox's Lambda runtime: they record the
request `dsdash enroll|offboard` sends and answer as the real function does (its report, or an
error of its own types). The real function's handling of these requests is tested in
tests/enrollment."""

from __future__ import annotations

from typing import Any

from enrollment.enrollment_function.runtime.enrollment_errors import (
    EnrollmentStepFailed,
    MalformedLifecycleEvent,
)

REQUESTS: list[dict[str, Any]] = []


def report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    REQUESTS.append(event)
    enrolling = event["dsdash"] == "enroll"
    return {
        "account_id": event["account_id"],
        "action": event["dsdash"],
        "project": event.get("project"),
        "environment": event.get("environment"),
        "regions": event.get("regions") or ["eu-west-1"],
        "state": "enrolled" if enrolling else "offboarded",
        "reason": "enrolled" if enrolling else event.get("reason"),
        "steps": [{"step": "EBPut hub", "attempts": 1}, {"step": "EBRule hub", "attempts": 3}],
        "parameters_written": [
            f"111111111111:/monitored_projects/{event.get('project')}/"
            f"{event.get('environment')}/{event['account_id']}"
        ]
        if enrolling
        else [],
        "parameters_deleted": [],
        "conflicts": [],
        "notes": [],
    }


def failing_step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    REQUESTS.append(event)
    raise EnrollmentStepFailed(event["account_id"], "EBPut hub", "AccessDeniedException", "denied")


def refusing(event: dict[str, Any], context: Any) -> dict[str, Any]:
    REQUESTS.append(event)
    raise MalformedLifecycleEvent("an enroll request names a project and an environment")
