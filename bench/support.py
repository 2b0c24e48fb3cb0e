"""What every benchmark shares: counting AWS calls, timing, and the report's shape.

Benchmarks report *counts* (API calls, items, bytes, characters), which are the same on moto as on
AWS, and the ratios between them. Wall times are printed as information only: the machines that
run `make bench` are shared and noisy, and moto's in-process costs are not AWS's network costs.
Nothing here asserts a time.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sandbox.botocore_models import SHARED_MODEL_LOADER

if TYPE_CHECKING:
    import boto3

# A figure is a scalar, or a mapping of them when the issue names one key for several sizes.
FigureValue = int | float | str | bool | None | dict[str, Any]


# Every dsdash function names its Powertools logger (its service) with this prefix.
FUNCTION_LOGGER_PREFIX: Final = "dsdash-"


def isolate_from_real_aws() -> None:
    """Fake credentials and no AWS config files for this process: every benchmark runs on moto,
    and a call that escaped the mock must fail instead of reaching a developer's account."""
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(variable, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    # The handlers a benchmark runs make their sessions the Lambda way; one model loader serves
    # them all. No figure changes: calls are counted by event hooks on each session, and the
    # Lambda CPU and memory figures come from a process of their own (`bench.lambda_runner`),
    # which keeps its cold loads.
    SHARED_MODEL_LOADER.install()


def quiet_function_logs() -> None:
    """The functions a benchmark runs log as they do in Lambda (Powertools JSON at INFO): a full
    run printed about 3,000 such lines from the enrollment rollout alone, around the figures that
    are this command's output. Their loggers go to WARNING: those already made (a function module
    makes its logger when first imported, named for its service) and those made later, which read
    POWERTOOLS_LOG_LEVEL then. Warnings and errors still print."""
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith(FUNCTION_LOGGER_PREFIX):
            logging.getLogger(name).setLevel(logging.WARNING)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def ratio(numerator: float, denominator: float) -> float | None:
    """`numerator / denominator`, or None when the denominator is zero (nothing to compare)."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True, order=True)
class ApiCall:
    """One AWS operation, as counted: service, operation and, for SageMaker `Search`, the
    resource searched (each resource is its own listing)."""

    service: str
    operation: str
    resource: str | None = None

    def __str__(self) -> str:
        name = f"{self.service} {self.operation}"
        return f"{name} {self.resource}" if self.resource else name


class AwsCallCounter:
    """Counts the calls of every client created from `session` *after* this counter.

    A botocore `before-call` hook sees each API call once, before botocore's own retries, so
    the count is the number of calls the code made. An `after-call` hook records error codes
    (a failed conditional write is a call that answered ConditionalCheckFailedException).
    """

    def __init__(self, session: boto3.Session) -> None:
        self.calls: Counter[ApiCall] = Counter()
        self.errors: Counter[tuple[ApiCall, str]] = Counter()
        session.events.register("before-call", self._before_call)
        session.events.register("after-call", self._after_call)

    @staticmethod
    def _api_call(model: Any, params: Mapping[str, Any]) -> ApiCall:
        service = str(model.service_model.service_name)
        resource = None
        if service == "sagemaker" and model.name == "Search":
            body = params.get("body") or b"{}"
            resource = json.loads(body.decode() if isinstance(body, bytes) else body).get(
                "Resource"
            )
        return ApiCall(service, str(model.name), resource)

    def _before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        self.calls[self._api_call(model, params)] += 1

    def _after_call(self, model: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        code = (parsed.get("Error") or {}).get("Code")
        if code:
            self.errors[
                (ApiCall(str(model.service_model.service_name), str(model.name)), code)
            ] += 1

    def count(self, operation: str, *, resource: str | None = None) -> int:
        """Calls of one operation (any service), optionally of one Search resource."""
        return sum(
            number
            for call, number in self.calls.items()
            if call.operation == operation and (resource is None or call.resource == resource)
        )

    def error_count(self, operation: str, code: str) -> int:
        return sum(
            number
            for (call, error_code), number in self.errors.items()
            if call.operation == operation and error_code == code
        )

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.errors.clear()


@dataclass
class Stopwatch:
    seconds: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    """Wall time of a block (informational: never compared against a limit)."""
    watch = Stopwatch()
    started = time.perf_counter()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - started


@dataclass(frozen=True)
class Row:
    """One line of a report section: a label, its value, and how to read it."""

    label: str
    value: str
    note: str = ""


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)

    def add(self, label: str, value: object, note: str = "") -> None:
        self.rows.append(Row(label, format_value(value), note))


@dataclass
class BenchmarkResult:
    """A benchmark's figures (machine-readable, for `--json`) and its readable sections."""

    name: str
    title: str
    figures: dict[str, FigureValue] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def section(self, title: str) -> Section:
        section = Section(title)
        self.sections.append(section)
        return section


def format_value(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isfinite(value) and abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}x"


def render_report(results: Sequence[BenchmarkResult], *, mode: str, seconds: float) -> str:
    lines = [f"dsdash benchmarks ({mode}); counts are exact, wall times are informational"]
    for result in results:
        lines += ["", f"== {result.title} [{result.name}] =="]
        for section in result.sections:
            lines.append(f"  {section.title}")
            label_width = max((len(row.label) for row in section.rows), default=0)
            value_width = max((len(row.value) for row in section.rows), default=0)
            for row in section.rows:
                line = f"    {row.label:<{label_width}}  {row.value:>{value_width}}"
                lines.append(f"{line}  {row.note}".rstrip())
        lines.extend(f"  note: {note}" for note in result.notes)
    lines += ["", f"total wall time {seconds:.1f} s"]
    return "\n".join(lines)
