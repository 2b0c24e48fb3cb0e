"""Lifecycle triggers as one table per function: (source, detail-type, eventName) -> (parser,
handler).

The enrollment function (`enrollment.enrollment_function.runtime.lifecycle_triggers`) and the
reconciler (`org_stack.reconciler.runtime.triggers`) each keep one such table; their handlers
dispatch through it and the org stack's EventBridge rules are derived from it
(`org_stack.lifecycle_rules`). Adding a trigger is one entry, one parser and one sample event
under tests/events/ (docs/architecture.md §7, "Lifecycle triggers").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

ParsedT = TypeVar("ParsedT")
ContextT = TypeVar("ContextT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class EventKey:
    """What an EventBridge event is: its source, detail-type and, for CloudTrail events and
    Control Tower's lifecycle events, `detail.eventName` (None: events that carry none)."""

    source: str
    detail_type: str
    event_name: str | None = None

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> EventKey:
        detail = event.get("detail")
        name = detail.get("eventName") if isinstance(detail, Mapping) else None
        return cls(
            source=str(event.get("source")),
            detail_type=str(event.get("detail-type")),
            event_name=name if isinstance(name, str) else None,
        )

    def describe(self) -> str:
        named = f" {self.event_name}" if self.event_name else ""
        return f"{self.source} {self.detail_type!r}{named}"


@dataclass(frozen=True)
class Trigger(Generic[ParsedT, ContextT, ResultT]):
    """One row of a trigger table: the events it matches, how to read them, what to do."""

    key: EventKey
    parse: Callable[[Mapping[str, Any]], ParsedT]
    handle: Callable[[ParsedT, ContextT], ResultT]

    def run(self, event: Mapping[str, Any], context: ContextT) -> ResultT:
        return self.handle(self.parse(event), context)


def find_trigger(
    table: Iterable[Trigger[Any, ContextT, ResultT]], event: Mapping[str, Any]
) -> Trigger[Any, ContextT, ResultT] | None:
    """The row whose key is the event's; a row without an event name matches any name."""
    key = EventKey.of(event)
    rows = list(table)
    for row in rows:
        if row.key == key:
            return row
    for row in rows:
        if row.key.event_name is None and (row.key.source, row.key.detail_type) == (
            key.source,
            key.detail_type,
        ):
            return row
    return None


def event_names(table: Iterable[Trigger[Any, Any, Any]], source: str) -> tuple[str, ...]:
    """The event names a table handles from `source`, in table order (an EventBridge pattern's
    `detail.eventName` list)."""
    return tuple(
        row.key.event_name
        for row in table
        if row.key.source == source and row.key.event_name is not None
    )
