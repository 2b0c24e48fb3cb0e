"""The enrollment function's Lambda entry point (its job: `enroll_offboard`; its triggers:
`lifecycle_triggers`)."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from enrollment.enrollment_function.runtime.enrollment_errors import EnrollmentSettingsError
from enrollment.enrollment_function.runtime.lifecycle_events import OperatorRequest
from enrollment.enrollment_function.runtime.lifecycle_triggers import (
    handle_read_event,
    read_lifecycle_event,
)
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings, Sleep
from enrollment.enrollment_function.runtime.sweep import sweep_unfinished_enrollments
from runtime_common.settings import read_settings

logger = Logger(service="dsdash-org-enrollment")


def handler(
    event: Any,
    context: Any,
    *,
    session: boto3.Session | None = None,
    sleep: Sleep = time.sleep,
) -> dict[str, Any]:
    """Lambda entry point. An event of another type raises `UnsupportedLifecycleEvent`; a step
    that keeps failing raises `EnrollmentStepFailed` (after recording it), so asynchronous
    invocation retries it."""
    read = read_lifecycle_event(event)
    logger.info("lifecycle event", extra={"event": read.lifecycle.to_dict()})
    settings = read_settings(EnrollmentSettings, os.environ, error=EnrollmentSettingsError)
    if isinstance(read.lifecycle, OperatorRequest) and read.lifecycle.action == "sweep":
        swept = sweep_unfinished_enrollments(settings, session=session, sleep=sleep)
        result = {"swept": [report.to_dict() for report in swept]}
        logger.info("sweep finished", extra=result)
        return result
    report = handle_read_event(read, settings, session=session, sleep=sleep)
    result = report.to_dict()
    logger.info("lifecycle event handled", extra={"report": result})
    return result
