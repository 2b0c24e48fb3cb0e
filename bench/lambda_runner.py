"""The measured process of `bench.lambda_footprint`: one Lambda handler, invoked as Lambda would,
with nothing else in the process.

`python -m bench.lambda_runner < spec.json` reads {"handler": "package.module.function",
"events": [...], "function_arn": "...", "result_path": "..."} and
writes one JSON document to `result_path` (stdout is the function's log, as on Lambda): the
import's CPU time, then per invocation its CPU time (`time.process_time`: this process's own user
+ system time, so the moto server answering in *another* process costs nothing here) and the AWS
calls it made (botocore `before-call` hooks on every session created in the process,
`bench.call_counting`), and at the end the process's peak resident set size.

Peak RSS is the kernel's high-water mark of this program's memory (`VmHWM` in
/proc/self/status), not `getrusage().ru_maxrss`: Linux keeps ru_maxrss across execve, so a
process started by a large benchmark process would report its parent's peak at the fork.

This module imports only the standard library before the handler, so the peak is the handler's
(its imports, boto3's models, its data), not the benchmark's; the call counter imports botocore
and boto3, which the handler loads anyway. The handler reaches moto through `AWS_ENDPOINT_URL`,
set by the caller.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from typing import Any


class LambdaContextStub:
    """What the handlers read from Lambda's context object (the function ARN names the account
    and region, so the extractor makes no STS call, as on Lambda)."""

    def __init__(self, function_arn: str, timeout_ms: int = 300_000) -> None:
        self.invoked_function_arn = function_arn
        self.function_name = function_arn.split(":")[6]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 128
        self.aws_request_id = "bench-request"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main() -> int:
    spec: dict[str, Any] = json.load(sys.stdin)
    started = time.process_time()
    module_name, _, function_name = str(spec["handler"]).rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    import_cpu = time.process_time() - started

    from bench.call_counting import count_all_calls

    invocations = []
    # One counter for the whole process: it hooks every session created from here on, so a
    # client kept between invocations is counted too; each invocation is the difference.
    with count_all_calls() as tally:
        for event in spec["events"]:
            context = LambdaContextStub(str(spec["function_arn"]))
            calls_before = dict(tally.calls)
            before = time.process_time()
            returned = handler(event, context)
            cpu = time.process_time() - before
            calls = {
                name: count - calls_before.get(name, 0)
                for name, count in sorted(tally.calls.items())
                if count > calls_before.get(name, 0)
            }
            invocations.append(
                {
                    "cpu_seconds": cpu,
                    "aws_calls": sum(calls.values()),
                    "calls": calls,
                    "returned": json.loads(json.dumps(returned, default=str)),
                }
            )
    result = {
        "import_cpu_seconds": import_cpu,
        "invocations": invocations,
        "peak_rss_kib": _peak_rss_kib(),
    }
    with open(str(spec["result_path"]), "w", encoding="utf-8") as output:
        json.dump(result, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
