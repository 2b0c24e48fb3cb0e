"""The mutators of the hostile-event corpus (`bench.hostile_events`): each changes one thing.

A mutator takes a fresh base event (a dict it may change) and returns the body to send: the dict
itself, or a string for what JSON cannot express (NaN tokens, escapes, broken JSON). They know
nothing of the expected outcomes; `bench.hostile_events` pairs each with the one it must have.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

Mutation = Callable[[dict[str, Any]], dict[str, Any] | str]


def set_detail(**changes: Any) -> Mutation:
    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        event["detail"].update(changes)
        return event

    return mutate


def drop_detail(field: str) -> Mutation:
    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        del event["detail"][field]
        return event

    return mutate


def set_envelope(**changes: Any) -> Mutation:
    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        event.update(changes)
        return event

    return mutate


def sender(account: str) -> Mutation:
    """Another sending account, consistently (a v2 detail names it too): only the registry
    can tell that it may not write alpha/dev's numbers."""

    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        event["account"] = account
        if "AccountId" in event["detail"]:
            event["detail"]["AccountId"] = account
        return event

    return mutate


def drop_envelope(field: str) -> Mutation:
    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        del event[field]
        return event

    return mutate


def metric_field(index: int, **changes: Any) -> Mutation:
    """v2: change field(s) of Metrics[index]; v1: the same fields of the detail."""

    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        if "Metrics" in event["detail"]:
            event["detail"]["Metrics"][index].update(changes)
        else:
            event["detail"].update(changes)
        return event

    return mutate


def drop_metric_field(field: str) -> Mutation:
    def mutate(event: dict[str, Any]) -> dict[str, Any]:
        del event["detail"]["Metrics"][0][field]
        return event

    return mutate


def raw_value(index: int, token: str) -> Mutation:
    """The metric value written as raw JSON text (NaN, 1E+126...), which json.dumps cannot."""

    def mutate(event: dict[str, Any]) -> str:
        marker = "__RAW_VALUE__"
        metric_field(index, MetricValue=marker)(event)
        return json.dumps(event).replace(f'"{marker}"', token)

    return mutate


def replace_text(old: str, new: str) -> Mutation:
    """A textual change of the serialized event (escapes such as a lone surrogate)."""

    def mutate(event: dict[str, Any]) -> str:
        text = json.dumps(event)
        if old not in text:
            raise ValueError(f"mutator: {old!r} is not in the base event")
        return text.replace(old, new, 1)

    return mutate


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"level": value}
    return value


def duplicate_first_metric(event: dict[str, Any]) -> dict[str, Any]:
    event["detail"]["Metrics"].append(copy.deepcopy(event["detail"]["Metrics"][0]))
    return event


def version_lookalike(event: dict[str, Any]) -> dict[str, Any]:
    event["detail"]["version"] = event["detail"].pop("SchemaVersion")
    return event


def metric_dimensions(dimensions: dict[str, str]) -> Mutation:
    return metric_field(0, Dimensions=dimensions)
