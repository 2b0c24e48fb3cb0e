"""Handlers the sandbox tests run in-process. They record what they saw, so tests can assert
that the sandbox ran them with the function's environment and account credentials."""

from __future__ import annotations

import os
from typing import Any

import boto3

SEEN: list[dict[str, Any]] = []


def record_event(event: Any, context: Any) -> dict[str, Any]:
    identity = boto3.client("sts").get_caller_identity()
    SEEN.append(
        {
            "event": event,
            "account": identity["Account"],
            "region": os.environ["AWS_REGION"],
            "marker": os.environ.get("PROBE_MARKER"),
            "function_arn": context.invoked_function_arn,
        }
    )
    return {"ok": True}


def fail_odd_records(event: Any, context: Any) -> dict[str, Any]:
    """An SQS batch handler reporting every record whose body holds an odd number as failed."""
    failures = [
        {"itemIdentifier": record["messageId"]}
        for record in event["Records"]
        if int(record["body"]) % 2 == 1
    ]
    SEEN.append({"batch_size": len(event["Records"])})
    return {"batchItemFailures": failures}
