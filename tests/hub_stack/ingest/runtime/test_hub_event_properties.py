"""Property-based tests of the hub's event validator (hypothesis).

Whatever arrives, `validate_metric_event` either accepts it and hands back exactly what was sent
(names, values, units, dimensions, metadata, scope), or refuses it with EventRejected and a reason
code: no other exception, no hang. Example counts are bounded and deadlines generous (the suite
runs on two shared cores); no example database is written into the repository.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hub_runtime_support import NOW, RETENTION_DAYS, v1_event, v2_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_stack.ingest.runtime.event_validation import (
    EventRejected,
    RejectionCode,
    ValidatedEvent,
    validate_metric_event,
)
from metrics.registry import all_metric_classes

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Strings as hostile senders write them: any code point, lone surrogates included (hypothesis
# leaves those out of st.text() by default), and the key separators of the series key.
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20),
    st.sampled_from(["\ud800", "a\udfffb", "#", "a=b,c", "x" * 1025, "", "zz-fake-9", "version"]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(
        lambda number: number  # serialized below as JSON number text
    ),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, HOSTILE_TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(HOSTILE_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


def _to_json(value: Any) -> str:
    """JSON text for `value`, with Decimals as numbers and NaN/Infinity as their tokens."""

    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return float(item) if item.is_finite() else str(item)
        raise TypeError(type(item).__name__)

    return json.dumps(value, default=default, allow_nan=True, ensure_ascii=True)


def _validate(body: str) -> ValidatedEvent | EventRejected:
    try:
        return validate_metric_event(body, now=NOW, retention_days=RETENTION_DAYS)
    except EventRejected as rejection:
        return rejection


def _assert_refused_with_a_code_or_round_tripped(body: str) -> None:
    outcome = _validate(body)
    if isinstance(outcome, EventRejected):
        assert isinstance(outcome.code, RejectionCode)
        assert outcome.reason
        # The reason is written to DynamoDB and logs; it must survive being encoded (after the
        # quarantine's escaping of what UTF-8 cannot hold).
        outcome.reason.encode("utf-8", "backslashreplace")
        return
    _assert_round_trip(body, outcome)


def _assert_round_trip(body: str, event: ValidatedEvent) -> None:
    sent = json.loads(body, parse_float=Decimal)
    detail = sent["detail"]
    assert (event.event_id, event.account_id) == (sent["id"], sent["account"])
    assert (event.project_name, event.environment) == (detail["ProjectName"], detail["Environment"])
    if event.schema_version == 1:
        expected = [(detail["MetricName"], detail["MetricValue"], "None", {}, detail["Metadata"])]
        assert event.region == sent["region"]
    else:
        expected = [
            (m["MetricName"], m["MetricValue"], m["Unit"], m["Dimensions"], m["Metadata"])
            for m in detail["Metrics"]
        ]
        assert event.region == detail["Region"] == sent["region"]
    stored = [
        (m.metric_name, m.value, m.unit, dict(m.dimensions), dict(m.metadata))
        for m in event.metrics
    ]
    assert stored == expected
    for metric in event.metrics:
        # Everything accepted can be written: UTF-8 encodable, within the metric's range.
        json.dumps(metric.metadata, default=str).encode("utf-8")
        definition = all_metric_classes()[metric.metric_name]
        assert definition.value_range().problem_with(metric.value) is None


@PROPERTY_SETTINGS
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_text_is_refused_with_a_reason_or_accepted(body: str) -> None:
    _assert_refused_with_a_code_or_round_tripped(body)


@PROPERTY_SETTINGS
@given(JSON_VALUES)
def test_any_detail_in_a_valid_envelope_is_refused_with_a_reason_or_accepted(detail: Any) -> None:
    event = v1_event()
    event["detail"] = detail
    _assert_refused_with_a_code_or_round_tripped(_to_json(event))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated_events(draw: st.DrawFn) -> str:
    """A valid v1 or v2 event with one value replaced, one key added or one key removed."""
    event = copy.deepcopy(draw(st.sampled_from([v1_event(), v2_event()])))
    path = draw(st.sampled_from(_paths(event)[1:]))
    *parents, last = path
    container: Any = event
    for part in parents:
        container = container[part]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace":
        container[last] = draw(JSON_VALUES)
    elif action == "remove":
        del container[last]
    elif isinstance(container, dict):
        container[draw(HOSTILE_TEXT)] = draw(JSON_VALUES)
    return _to_json(event)


@PROPERTY_SETTINGS
@given(mutated_events())
def test_any_mutation_of_a_valid_event_is_refused_with_a_reason_or_round_trips(body: str) -> None:
    _assert_refused_with_a_code_or_round_tripped(body)


@st.composite
def valid_v2_events(draw: st.DrawFn) -> str:
    """v2 events a correct spoke could send: registered metrics, their units, values in range."""
    classes = all_metric_classes()
    names = draw(st.lists(st.sampled_from(sorted(classes)), min_size=1, max_size=6, unique=True))
    metrics = []
    for name in names:
        value_range = classes[name].value_range()
        low = float(value_range.minimum) if value_range.minimum is not None else -1e9
        high = float(value_range.maximum) if value_range.maximum is not None else 1e12
        value: int | float = (
            draw(st.integers(min_value=int(low), max_value=int(high)))
            if value_range.whole_numbers
            # The spoke refuses to send a magnitude the hub cannot store (below 1E-130).
            else draw(
                st.floats(min_value=low, max_value=high).filter(
                    lambda number: number == 0 or abs(number) >= 1e-130
                )
            )
        )
        metadata = draw(
            st.dictionaries(
                st.text(min_size=1, max_size=20),
                st.one_of(st.integers(-1000, 1000), st.text(max_size=50), st.booleans()),
                max_size=3,
            )
        )
        dimension = draw(st.text(alphabet="abcdefghij.-_0123456789", min_size=1, max_size=12))
        metrics.append(
            {
                "MetricName": name,
                "MetricValue": value,
                "Unit": classes[name].unit,
                "Dimensions": {"Variant": dimension},
                "Metadata": metadata,
            }
        )
    event = v2_event(Metrics=metrics, Errors=[])
    return json.dumps(event)


@PROPERTY_SETTINGS
@given(valid_v2_events())
def test_every_event_a_correct_spoke_sends_is_accepted_unchanged(body: str) -> None:
    outcome = _validate(body)
    assert not isinstance(outcome, EventRejected), outcome
    _assert_round_trip(body, outcome)
