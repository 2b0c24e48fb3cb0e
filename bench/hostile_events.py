"""A fixed corpus of hostile metric events, and what a correct hub does with each.

Every case is built by a checked-in mutator (`bench.hostile_mutations`) from one of two valid
base events (a v1 event of the sample's format, a v2 event of three metrics), so the corpus is the
same on every run: no randomness, no clock beyond the `now` it is given. Each case carries its
expected outcome, written here by hand from the contract, never computed by the hub's code:
- `refuse`: the hub must quarantine it (any reason code: several checks may catch one defect);
- `store`: the hub must store exactly these datapoints (metric, value, unit), for the benign
  variants a hostile sender may also use (3 written 3.0, an offset timestamp, extra envelope
  fields); an empty tuple means nothing new (an identical replay).

The corpus feeds `bench/hardening_events.py`, which runs it through the real ingest handler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from bench.hostile_mutations import (
    Mutation,
    drop_detail,
    drop_envelope,
    drop_metric_field,
    duplicate_first_metric,
    metric_dimensions,
    metric_field,
    nested,
    raw_value,
    replace_text,
    sender,
    set_detail,
    set_envelope,
    version_lookalike,
)

ENROLLED_ACCOUNT: Final = "111111111111"  # alpha/dev
OTHER_ENROLLED_ACCOUNT: Final = "222222222222"  # beta/prod
OFFBOARDED_ACCOUNT: Final = "333333333333"  # was alpha/dev
STRANGER_ACCOUNT: Final = "444444444444"
REGION: Final = "eu-west-1"
RETENTION_DAYS: Final = 90

Datapoint = tuple[str, Decimal, str]  # metric name, value, unit


@dataclass(frozen=True)
class HostileCase:
    name: str
    event_id: str
    body: str
    refuse: bool
    stored: tuple[Datapoint, ...] = ()
    # The case replays the baseline (same account, series and time): its values are checked
    # against the baseline's rather than looked up by its own event id.
    replays_baseline: bool = False


def _v1(event_id: str, when: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "metric_extractor",
        "source": "metric_extractor",
        "account": ENROLLED_ACCOUNT,
        "time": _text(when),
        "region": REGION,
        "resources": [],
        "detail": {
            "MetricName": "TotalCompletedTrainingJobs",
            "MetricValue": 42,
            "ExtractionDate": _text(when),
            "Metadata": {"Source": "Search"},
            "Environment": "dev",
            "ProjectName": "alpha",
        },
    }


def _v2(event_id: str, when: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "metric_extractor",
        "source": "metric_extractor",
        "account": ENROLLED_ACCOUNT,
        "time": _text(when),
        "region": REGION,
        "resources": [],
        "detail": {
            "SchemaVersion": 2,
            "ProjectName": "alpha",
            "Environment": "dev",
            "AccountId": ENROLLED_ACCOUNT,
            "Region": REGION,
            "ExtractionDate": _text(when),
            "ExtractionId": "c5b1c1f2-8a47-4b0e-a6f4-2f3d9e0b7c11",
            "Metrics": [
                _metric("NumberEndPointsInService", 3, "Count"),
                _metric("ManagedSpotSavingsPercent", 61.25, "Percent", {"WindowHours": 168}),
                _metric("BillableTrainingSeconds", 86400.5, "Seconds"),
            ],
            "Errors": [],
        },
    }


def _metric(
    name: str, value: Any, unit: str, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "MetricValue": value,
        "Unit": unit,
        "Dimensions": {},
        "Metadata": metadata or {},
    }


V1_STORED: Final = (("TotalCompletedTrainingJobs", Decimal(42), "None"),)
V2_STORED: Final = (
    ("NumberEndPointsInService", Decimal(3), "Count"),
    ("ManagedSpotSavingsPercent", Decimal("61.25"), "Percent"),
    ("BillableTrainingSeconds", Decimal("86400.5"), "Seconds"),
)


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Metric values, and for which metric kinds each is acceptable (by the metric's meaning:
# a Count is a whole number >= 0, Percent lies in 0..100, Seconds >= 0).
VALUE_CASES: Final[tuple[tuple[str, Any, frozenset[str]], ...]] = (
    ("minus-five", -5, frozenset()),
    ("two-and-a-half", 2.5, frozenset({"Percent", "Seconds"})),
    ("minus-1e30", -1e30, frozenset()),
    ("thousand", 1000, frozenset({"Count", "Seconds"})),
    ("slightly-negative", -0.001, frozenset()),
    ("just-over-100", 100.0001, frozenset({"Seconds"})),
    ("a-string", "42", frozenset()),
    ("true", True, frozenset()),
    ("null", None, frozenset()),
    ("a-list", [3], frozenset()),
    ("an-object", {"value": 3}, frozenset()),
)
RAW_VALUE_CASES: Final[tuple[tuple[str, str], ...]] = (
    ("nan", "NaN"),
    ("infinity", "Infinity"),
    ("minus-infinity", "-Infinity"),
    ("above-dynamodb", "1E+126"),
    ("below-dynamodb", "1E-131"),
    ("39-digits", "1.23456789012345678901234567890123456789"),
)
V2_METRIC_KINDS: Final = (
    (0, "NumberEndPointsInService", "Count"),
    (1, "ManagedSpotSavingsPercent", "Percent"),
    (2, "BillableTrainingSeconds", "Seconds"),
)


def _refusing_mutators(base: str) -> Iterator[tuple[str, Mutation]]:
    """(name, mutation) of every mutation the hub must refuse, for base "v1" or "v2"."""
    required = (
        ["MetricName", "MetricValue", "ExtractionDate", "Metadata", "Environment", "ProjectName"]
        if base == "v1"
        else [
            "ProjectName",
            "Environment",
            "AccountId",
            "Region",
            "ExtractionDate",
            "Metrics",
        ]
    )
    for field in required:
        yield f"missing-{field}", drop_detail(field)
    if base == "v2":
        for field in ("MetricName", "MetricValue", "Unit", "Dimensions", "Metadata"):
            yield f"metric-missing-{field}", drop_metric_field(field)
    for field in ("id", "account", "region", "source", "detail-type", "detail"):
        yield f"envelope-missing-{field}", drop_envelope(field)
    yield "unknown-detail-field", set_detail(Extra="x")
    yield "foreign-source", set_envelope(source="aws.ec2")
    yield "foreign-detail-type", set_envelope(**{"detail-type": "other"})
    yield "short-account", set_envelope(account="12345")
    yield "long-event-id", set_envelope(id="i" * 200)
    yield "detail-is-a-list", set_envelope(detail=[1, 2])
    yield "unknown-metric", metric_field(0, MetricName="Bitcoins")
    yield "metric-name-with-space", metric_field(0, MetricName="Total Jobs")
    yield "fake-envelope-region", set_envelope(region="zz-fake-9")
    yield "stranger-sender", sender(STRANGER_ACCOUNT)
    yield "offboarded-sender", sender(OFFBOARDED_ACCOUNT)
    yield "enrolled-elsewhere", sender(OTHER_ENROLLED_ACCOUNT)
    yield "claims-other-environment", set_detail(Environment="prod")
    yield "claims-other-project", set_detail(ProjectName="beta")
    yield "bad-project-name", set_detail(ProjectName="Alpha!")
    # json.dumps writes a lone surrogate as its escape, as a hostile sender would.
    yield "surrogate-in-metadata", metric_field(0, Metadata={"n": "\ud800"})
    yield "surrogate-in-key", metric_field(0, Metadata={"\udfff": 1})
    yield "surrogate-in-event-id", replace_text('"id": "', '"id": "\\ud83d')
    yield "surrogate-in-project", replace_text('"alpha"', '"al\\ud800pha"')
    yield "long-metadata-string", metric_field(0, Metadata={"Note": "x" * 5000})
    yield "long-metadata-key", metric_field(0, Metadata={"k" * 1025: 1})
    yield "deep-metadata", metric_field(0, Metadata=nested(20))
    yield "future-timestamp", _shift_extraction(timedelta(hours=2))
    yield "timestamp-before-retention", _shift_extraction(-timedelta(days=RETENTION_DAYS + 1))
    if base == "v2":
        # v1 reads a naive timestamp as UTC, as the original sample writes it (benign below).
        yield "timestamp-without-zone", _strip_zone
    yield "timestamp-garbage", set_detail(ExtractionDate="yesterday")
    yield "timestamp-leap-second", set_detail(ExtractionDate="2016-12-31T23:59:60Z")
    yield "metadata-is-a-list", metric_field(0, Metadata=[1, 2])
    if base == "v1":
        # v1's metric, TotalCompletedTrainingJobs, is a Count.
        for case, value, acceptable in VALUE_CASES:
            # v1 reads a finite numeric string as its number, as the original sample sends its
            # SSM metric (benign below); a word stays refused.
            if "Count" not in acceptable and case != "a-string":
                yield f"value-{case}", metric_field(0, MetricValue=value)
        yield "value-a-word", metric_field(0, MetricValue="forty-two")
        yield "value-a-non-finite-string", metric_field(0, MetricValue="NaN")
        for case, token in RAW_VALUE_CASES:
            yield f"raw-value-{case}", raw_value(0, token)
        yield "detail-version-field", set_detail(version=2)
    if base == "v2":
        for index, _, kind in V2_METRIC_KINDS:
            for case, value, acceptable in VALUE_CASES:
                if kind not in acceptable:
                    yield f"{kind.lower()}-value-{case}", metric_field(index, MetricValue=value)
        for case, token in RAW_VALUE_CASES:
            yield f"raw-value-{case}", raw_value(1, token)
        yield "unit-not-the-metrics", metric_field(0, Unit="Seconds")
        yield "unit-unknown", metric_field(0, Unit="Bananas")
        yield "region-not-the-envelopes", set_detail(Region="us-east-1")
        yield "fake-detail-region", set_detail(Region="zz-fake-9")
        yield "account-not-the-senders", set_detail(AccountId=OTHER_ENROLLED_ACCOUNT)
        yield "schema-version-3", set_detail(SchemaVersion=3)
        yield "schema-version-string", set_detail(SchemaVersion="2")
        yield "schema-version-true", set_detail(SchemaVersion=True)
        yield "schema-version-2.0", replace_text('"SchemaVersion": 2', '"SchemaVersion": 2.0')
        yield "version-instead-of-schema-version", version_lookalike
        yield "part-beyond-part-count", set_detail(Part=3, PartCount=2)
        yield "same-series-twice", duplicate_first_metric
        yield "eleven-dimensions", metric_dimensions({f"D{i}": "v" for i in range(11)})
        yield "long-dimension-value", metric_dimensions({"InstanceType": "m" * 300})
        yield "dimension-with-hash", metric_dimensions({"InstanceType": "a#b"})
        yield "dimension-with-comma", metric_dimensions({"InstanceType": "a,b"})
        yield "dimension-with-equals", metric_dimensions({"InstanceType": "a=b"})
        yield (
            "surrogate-in-dimension",
            replace_text('"Dimensions": {}', '"Dimensions": {"D": "\\ud800"}'),
        )
        yield "metrics-not-a-list", set_detail(Metrics={"a": 1})
        yield (
            "error-message-too-long",
            set_detail(
                Errors=[
                    {"MetricName": "FailedTrainingJobs", "ErrorCode": "X", "Message": "m" * 1025}
                ]
            ),
        )


def _shift_extraction(offset: timedelta) -> Mutation:
    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        moment = datetime.fromisoformat(event["detail"]["ExtractionDate"])
        event["detail"]["ExtractionDate"] = _text(moment + offset)
        return event

    return mutate


def _strip_zone(event: dict[str, Any]) -> dict[str, Any]:
    event["detail"]["ExtractionDate"] = event["detail"]["ExtractionDate"].rstrip("Z")
    return event


def _body_cases() -> Iterator[tuple[str, str]]:
    yield "not-json", "this is not json"
    yield "truncated-json", '{"version": "0", "id": '
    yield "json-array", "[1, 2, 3]"
    yield "json-string", '"metric"'
    yield "json-null", "null"
    yield "empty-body", ""
    yield "deep-json", "[" * 50_000 + "]" * 50_000


def _benign_mutators(base: str) -> Iterator[tuple[str, Mutation, tuple[Datapoint, ...]]]:
    """Variants a correct hub must store, with exactly the datapoints it must store."""
    stored = V1_STORED if base == "v1" else V2_STORED
    yield "extra-envelope-resources", set_envelope(resources=["arn:aws:x"]), stored
    yield "offset-timestamp", _offset_timestamp, stored
    yield "unicode-metadata", metric_field(0, Metadata={"Note": "héllo 🌍"}), stored
    yield (
        "whole-value-as-decimal",
        replace_text(": 42," if base == "v1" else ": 3,", ": 42.0," if base == "v1" else ": 3.0,"),
        stored,
    )
    if base == "v2":
        yield "empty-extraction", set_detail(Metrics=[]), ()
        zeroed = (("NumberEndPointsInService", Decimal(0), "Count"), *V2_STORED[1:])
        yield "count-zero", metric_field(0, MetricValue=0), zeroed
        full = (V2_STORED[0], ("ManagedSpotSavingsPercent", Decimal(100), "Percent"), V2_STORED[2])
        yield "percent-hundred", metric_field(1, MetricValue=100), full
        for index, name, kind in V2_METRIC_KINDS:
            for case, value, acceptable in VALUE_CASES:
                if kind in acceptable:
                    changed = tuple(
                        (metric, Decimal(str(value)), unit) if metric == name else (metric, v, unit)
                        for metric, v, unit in V2_STORED
                    )
                    yield (
                        f"{kind.lower()}-value-{case}",
                        metric_field(index, MetricValue=value),
                        changed,
                    )
    else:
        # The original sample's dialect: a naive timestamp is UTC, "42" is 42.
        yield "sample-naive-timestamp", _strip_zone, stored
        yield "sample-numeric-string", metric_field(0, MetricValue="42"), stored
        yield (
            "count-thousand",
            metric_field(0, MetricValue=1000),
            (("TotalCompletedTrainingJobs", Decimal(1000), "None"),),
        )


def _offset_timestamp(event: dict[str, Any]) -> dict[str, Any]:
    moment = datetime.fromisoformat(event["detail"]["ExtractionDate"])
    local = moment.astimezone(datetime.fromisoformat("2000-01-01T00:00:00+02:00").tzinfo)
    event["detail"]["ExtractionDate"] = local.isoformat()
    return event


def build_corpus(now: datetime) -> tuple[HostileCase, list[HostileCase]]:
    """The baseline event (stored first, the replays refer to it) and the corpus.

    Each case has its own event id and its own extraction time (one minute apart, back from
    `now`), so what the hub stored for it can be told apart afterwards.
    """
    baseline_time = now - timedelta(hours=12)
    baseline_event = _v2("baseline", baseline_time)
    baseline = HostileCase("baseline", "baseline", json.dumps(baseline_event), False, V2_STORED)

    cases: list[HostileCase] = []

    def when() -> datetime:
        return now - timedelta(minutes=len(cases) + 1)

    for base, make in (("v1", _v1), ("v2", _v2)):
        for name, mutate in _refusing_mutators(base):
            event_id = f"hostile-{len(cases):04d}"
            body = mutate(make(event_id, when()))
            text = body if isinstance(body, str) else json.dumps(body)
            cases.append(HostileCase(f"{base}:{name}", event_id, text, True))
        for name, mutate, stored in _benign_mutators(base):
            event_id = f"hostile-{len(cases):04d}"
            body = mutate(make(event_id, when()))
            text = body if isinstance(body, str) else json.dumps(body)
            cases.append(HostileCase(f"{base}:{name}", event_id, text, False, stored))
    for name, text in _body_cases():
        cases.append(HostileCase(f"body:{name}", f"hostile-{len(cases):04d}", text, True))

    # Replays of the baseline (same account, series and time), under new event ids.
    conflicting = _v2("replay-conflicting", baseline_time)
    conflicting["detail"]["Metrics"][0]["MetricValue"] = 4
    cases.append(
        HostileCase(
            "replay:conflicting-value",
            "replay-conflicting",
            json.dumps(conflicting),
            True,
            replays_baseline=True,
        )
    )
    other_unit = _v2("replay-other-unit", baseline_time)
    other_unit["detail"]["Metrics"][2]["MetricValue"] = 86401
    cases.append(
        HostileCase(
            "replay:conflicting-seconds",
            "replay-other-unit",
            json.dumps(other_unit),
            True,
            replays_baseline=True,
        )
    )
    identical = _v2("replay-identical", baseline_time)
    cases.append(
        HostileCase(
            "replay:identical",
            "replay-identical",
            json.dumps(identical),
            False,
            (),
            replays_baseline=True,
        )
    )
    return baseline, cases
