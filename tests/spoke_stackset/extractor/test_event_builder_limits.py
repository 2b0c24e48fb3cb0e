"""The spoke and the hub agree on what an event may hold: the spoke cuts over-long Metadata
to the shared limit (so the hub stores the event instead of quarantining it), and reports a value
its metric's definition or DynamoDB cannot hold as an error instead of sending it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import EVENT_MAX_STRING_CHARS
from hub_stack.ingest.runtime.event_validation import validate_metric_event
from metrics.base import Datapoint, ValueRange
from metrics.registry import metric_class
from spoke_stackset.extractor.runtime.event_builder import InvalidDatapointError, datapoint_details

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture(autouse=True)
def test_metrics() -> None:
    """Overrides this folder's registry of test metrics: these tests are about the built-in
    catalog's definitions, which the hub checks too."""


def test_an_over_long_metadata_value_is_cut_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    long_note = "n" * (EVENT_MAX_STRING_CHARS + 500)
    with caplog.at_level(logging.WARNING):
        (detail,) = datapoint_details(
            "BillableTrainingSeconds",
            "Seconds",
            [Datapoint(12.5, metadata={"Note": long_note, "Jobs": ["j" * 2000], "Count": 3})],
        )

    assert detail["MetricValue"] == 12.5
    assert detail["Metadata"] == {
        "Note": "n" * EVENT_MAX_STRING_CHARS,
        "Jobs": ["j" * EVENT_MAX_STRING_CHARS],
        "Count": 3,
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "BillableTrainingSeconds" in warnings[0] and "Note" in warnings[0]


def test_a_metadata_field_with_an_over_long_key_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        (detail,) = datapoint_details(
            "BillableTrainingSeconds",
            "Seconds",
            [Datapoint(1, metadata={"k" * 2000: 1, "Kept": "yes"})],
        )

    assert detail["Metadata"] == {"Kept": "yes"}
    assert any("dropped" in r.getMessage() for r in caplog.records)


def test_what_the_spoke_cuts_the_hub_accepts() -> None:
    (detail,) = datapoint_details(
        "BillableTrainingSeconds", "Seconds", [Datapoint(7, metadata={"Note": "x" * 5000})]
    )
    event = json.loads((EVENTS / "hub_metric_event_v2.json").read_text(encoding="utf-8"))
    event["detail"]["Metrics"] = [detail]
    event["detail"]["Errors"] = []

    accepted = validate_metric_event(
        json.dumps(event), now=datetime(2025, 6, 1, 12, tzinfo=UTC), retention_days=90
    )

    assert accepted.metrics[0].metadata["Note"] == "x" * EVENT_MAX_STRING_CHARS


@pytest.mark.parametrize(
    ("metric_name", "value", "problem"),
    [
        ("NumberEndPointsInService", -5, "below 0"),
        ("NumberEndPointsInService", 2.5, "not a whole number"),
        ("ManagedSpotSavingsPercent", 1000.0, "above 100"),
        ("BestTrainingObjective", 1e-200, "outside the numbers the hub stores"),
    ],
)
def test_a_value_the_hub_would_refuse_is_an_error_not_a_datapoint(
    metric_name: str, value: float, problem: str
) -> None:
    definition = metric_class(metric_name)
    with pytest.raises(InvalidDatapointError, match=problem):
        datapoint_details(
            metric_name, definition.unit, [Datapoint(value)], definition.value_range()
        )


def test_the_range_is_the_metrics_own_when_it_declares_one() -> None:
    narrow = ValueRange(minimum=None, maximum=None, whole_numbers=True)
    assert narrow.problem_with(3) is None
    assert narrow.problem_with(-3) is None
    assert narrow.problem_with(0.5) == "0.5 is not a whole number"
