"""The reconciler's Lambda entry point: read the settings, run the event's trigger row
(`triggers`), log and return the report, and fail the invocation when a StackSet failed (so
Lambda's error metrics and alarms see it; the next run retries)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from org_stack.reconciler.runtime.settings import ReconcilerSettings, ReconcilerSettingsError
from org_stack.reconciler.runtime.triggers import ReconcileRun, run_trigger
from runtime_common.settings import read_settings

logger = Logger(service="dsdash-org-reconciler")


class ReconcilerError(RuntimeError):
    """Reconciling failed for at least one StackSet; the report lists why."""


def handler(
    event: Mapping[str, Any] | None,
    context: Any,
    *,
    session: boto3.Session | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Lambda entry point (see `triggers` for what each event reconciles)."""
    settings = read_settings(ReconcilerSettings, os.environ, error=ReconcilerSettingsError)
    report = run_trigger(event, ReconcileRun(settings.targeting, session, sleep or time.sleep))
    result = report.to_dict()
    logger.info("reconcile finished", extra={"report": result})
    if report.failures:
        raise ReconcilerError(
            "reconciling failed for "
            + "; ".join(f"{f['stack_set_name']}: {f['message']}" for f in report.failures)
        )
    return result
