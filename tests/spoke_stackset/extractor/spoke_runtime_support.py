"""Test metrics and helpers for the spoke runtime tests.

The metrics here are small and deterministic, so the tests do not depend on the real catalog.
They are registered only for the duration of a test (see the `test_metrics` fixture in
conftest.py): the registry is global, and the catalog's meta-tests must never see them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from jsonschema import Draft202012Validator, FormatChecker

from contracts import load_schema
from metrics.base import Datapoint, ExtractionContext, Metric
from metrics.collect import SsmParameter
from runtime_common.settings import read_settings
from spoke_stackset.extractor.runtime.extractor import ExtractorSettings, SettingsError

REGION = "eu-west-1"
MOTO_ACCOUNT_ID = "123456789012"  # the account moto serves by default


def read_extractor_settings(environ: Mapping[str, str]) -> ExtractorSettings:
    """The settings the handler reads from `environ` (its own call: `read_settings` with the
    extractor's error)."""
    return read_settings(ExtractorSettings, environ, error=SettingsError)


class TestConstantMetric(Metric):
    """A constant value.

    Example:
        - name: TestConstantMetric
          args: {value: 7}
    """

    __test__ = False  # not a pytest test class, despite its name
    unit = "Count"
    permissions = ()
    argument_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"value": {"type": "number", "default": 7}},
    }

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [Datapoint(self.args["value"], metadata={"Origin": "constant"})]


class TestDimensionedMetric(Metric):
    """One datapoint per index, value index + 1, dimension Index.

    Example:
        - name: TestDimensionedMetric
          args: {count: 3}
    """

    __test__ = False
    unit = "Count"
    permissions = ()
    argument_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"count": {"type": "integer", "minimum": 0, "default": 3}},
    }

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [
            Datapoint(index + 1, dimensions={"Index": str(index)})
            for index in range(self.args["count"])
        ]


class TestSsmBackedMetric(Metric):
    """The numeric value of an SSM parameter, read through the extraction (a real AWS call).

    Example:
        - name: TestSsmBackedMetric
          args: {parameter_name: /test/value}
    """

    __test__ = False
    unit = "None"
    permissions = ()
    argument_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["parameter_name"],
        "properties": {"parameter_name": {"type": "string"}},
    }

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        parameter = context.fetch(SsmParameter(self.args["parameter_name"]))
        return [Datapoint(float(parameter["Value"]))]


class TestAccessDeniedMetric(Metric):
    """Fails as a metric does when its role lacks a permission.

    Example:
        - name: TestAccessDeniedMetric
    """

    __test__ = False
    unit = "Count"
    permissions = ()

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        raise ClientError(
            {
                "Error": {
                    "Code": "AccessDenied",
                    "Message": "not authorized to perform: sagemaker:Search",
                }
            },
            "Search",
        )


class TestBrokenMetric(Metric):
    """Has a bug.

    Example:
        - name: TestBrokenMetric
    """

    __test__ = False
    unit = "Count"
    permissions = ()

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [Datapoint(1 / 0)]


class TestNotANumberMetric(Metric):
    """Returns a value JSON cannot carry.

    Example:
        - name: TestNotANumberMetric
    """

    __test__ = False
    unit = "Percent"
    permissions = ()

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [Datapoint(math.nan)]


def _notes(total_characters: int) -> list[str]:
    return ["x" * min(1000, total_characters - start) for start in range(0, total_characters, 1000)]


class TestLargeMetadataMetric(Metric):
    """`count` datapoints, each with `metadata_bytes` bytes of metadata.

    Example:
        - name: TestLargeMetadataMetric
          args: {count: 300, metadata_bytes: 2000}
    """

    __test__ = False
    unit = "Seconds"
    permissions = ()
    argument_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "count": {"type": "integer", "default": 1},
            "metadata_bytes": {"type": "integer", "default": 100},
        },
    }

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [
            Datapoint(
                index * 10,
                dimensions={"Index": str(index)},
                # Strings of at most 1,000 characters, so that the spoke sends them whole
                # (contracts.EVENT_MAX_STRING_CHARS); only their number makes the event large.
                metadata={"Notes": _notes(self.args["metadata_bytes"])},
            )
            for index in range(self.args["count"])
        ]


TEST_METRICS: tuple[type[Metric], ...] = (
    TestConstantMetric,
    TestDimensionedMetric,
    TestSsmBackedMetric,
    TestAccessDeniedMetric,
    TestBrokenMetric,
    TestNotANumberMetric,
    TestLargeMetadataMetric,
)


def validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(schema_name), format_checker=FormatChecker())


@dataclass
class CapturedSpoke:
    """A spoke in moto: the `dsdash` bus, and a rule copying metric events into an SQS queue."""

    session: boto3.Session
    queue_url: str

    def received_events(self) -> list[dict[str, Any]]:
        sqs = self.session.client("sqs")
        events: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return events
            events.extend(json.loads(message["Body"]) for message in messages)


def create_captured_spoke(session: boto3.Session) -> CapturedSpoke:
    events = session.client("events")
    sqs = session.client("sqs")
    events.create_event_bus(Name="dsdash")
    queue_url = sqs.create_queue(QueueName="captured-metric-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="capture-metric-events",
        EventBusName="dsdash",
        EventPattern=json.dumps({"source": ["metric_extractor"]}),
    )
    events.put_targets(
        Rule="capture-metric-events",
        EventBusName="dsdash",
        Targets=[{"Id": "queue", "Arn": queue_arn}],
    )
    return CapturedSpoke(session, queue_url)


# Decides, per PutEvents call (numbered from 1) and request entry, the ErrorCode to fail it with.
FailureRule = Callable[[int, dict[str, Any]], str | None]


@dataclass
class PutEventsFaults:
    """Makes chosen entries of PutEvents calls fail the way EventBridge reports partial failure:
    the entry is not delivered, and its result entry carries an ErrorCode instead of an EventId.

    It hooks botocore's event system: before the request is built the failing entries are taken
    out (so moto really receives and delivers only the others), and after the call their failure
    results are put back in their positions, with FailedEntryCount raised to match. Every call's
    original entries are recorded in `calls`.
    """

    fail: FailureRule = lambda call_number, entry: None
    calls: list[list[dict[str, Any]]] = field(default_factory=list)

    def install(self, session: boto3.Session) -> PutEventsFaults:
        # Handlers on the session apply to every client created from it afterwards.
        session.events.register("before-parameter-build.events.PutEvents", self._take_out)
        session.events.register("after-call.events.PutEvents", self._put_back)
        return self

    def _take_out(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        entries = params["Entries"]
        self.calls.append([dict(entry) for entry in entries])
        failures = {}
        kept = []
        for position, entry in enumerate(entries):
            code = self.fail(len(self.calls), entry)
            if code is None:
                kept.append(entry)
            else:
                failures[position] = code
        if not kept:
            raise AssertionError("PutEventsFaults cannot fail every entry of a call; use Stubber")
        params["Entries"] = kept
        context["injected_failures"] = (len(entries), failures)

    def _put_back(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        total, failures = context.pop("injected_failures")
        delivered: Iterator[dict[str, Any]] = iter(parsed["Entries"])
        parsed["Entries"] = [
            {"ErrorCode": failures[position], "ErrorMessage": "injected by the test"}
            if position in failures
            else next(delivered)
            for position in range(total)
        ]
        parsed["FailedEntryCount"] = parsed.get("FailedEntryCount", 0) + len(failures)


def detail_key(detail: dict[str, Any]) -> tuple[str, str]:
    """Identifies a v1 detail by metric and its Index metadata (v1 carries dimensions there)."""
    return detail["MetricName"], str(detail["Metadata"].get("Index", ""))
