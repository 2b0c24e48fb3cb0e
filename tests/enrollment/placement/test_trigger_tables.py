"""Each function's lifecycle triggers are one table (docs/architecture.md §7, "Lifecycle
triggers"): every row has a sample event under tests/events/ that reaches it and parses, and the
org stack's rules list exactly the table's Organizations events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from enrollment.enrollment_function.runtime.lifecycle_triggers import (
    ENROLLMENT_TRIGGERS,
    ORGANIZATIONS_EVENT_NAMES,
)
from enrollment.placement.event_triggers import EventKey, Trigger, find_trigger
from enrollment.placement.organizations_events import ORGANIZATIONS_EVENT_SOURCE
from org_stack.reconciler.runtime.triggers import (
    RECONCILE_TRIGGER_EVENT_NAMES,
    RECONCILER_TRIGGERS,
    ReconcileRequest,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
TABLES: dict[str, tuple[Trigger[Any, Any, Any], ...]] = {
    "enrollment": ENROLLMENT_TRIGGERS,
    "reconciler": RECONCILER_TRIGGERS,
}
ROWS = [(table, row) for table, rows in TABLES.items() for row in rows]


def _samples() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))}


@pytest.mark.parametrize(
    ("table", "row"), ROWS, ids=[f"{table}: {row.key.describe()}" for table, row in ROWS]
)
def test_every_trigger_has_a_sample_event_that_reaches_it_and_parses(
    table: str, row: Trigger[Any, Any, Any]
) -> None:
    reaching = {
        name: event
        for name, event in _samples().items()
        if isinstance(event, dict) and find_trigger(TABLES[table], event) is row
    }
    assert reaching, f"add a sample event for {row.key.describe()} under tests/events/"
    for event in reaching.values():
        assert row.parse(event) is not None


def test_each_key_appears_once_per_table() -> None:
    for rows in TABLES.values():
        keys = [row.key for row in rows]
        assert len(keys) == len(set(keys))


def test_the_rules_list_the_tables_organizations_events_in_table_order() -> None:
    assert ORGANIZATIONS_EVENT_NAMES == ("CreateAccountResult", "MoveAccount", "CloseAccount")
    assert RECONCILE_TRIGGER_EVENT_NAMES == (
        "TagResource",
        "UntagResource",
        "MoveAccount",
        "CreateAccountResult",
        "CloseAccount",
    )
    assert set(ORGANIZATIONS_EVENT_NAMES) <= set(RECONCILE_TRIGGER_EVENT_NAMES)


def test_a_key_without_an_event_name_matches_any_name_and_an_exact_key_wins() -> None:
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    row = find_trigger(RECONCILER_TRIGGERS, scheduled)
    assert row is not None and row.key == EventKey("aws.events", "Scheduled Event")
    moved = json.loads((EVENTS / "org_MoveAccount.json").read_text())
    found = find_trigger(RECONCILER_TRIGGERS, moved)
    assert found is not None and found.key.event_name == "MoveAccount"
    assert found.key.source == ORGANIZATIONS_EVENT_SOURCE
    assert find_trigger(ENROLLMENT_TRIGGERS, scheduled) is None


def test_the_enrollment_request_names_the_account_and_its_previous_projects() -> None:
    request = json.loads((EVENTS / "enrollment_reconcile_request.json").read_text())
    row = find_trigger(RECONCILER_TRIGGERS, request)
    assert row is not None
    parsed = row.parse(request)
    assert isinstance(parsed, ReconcileRequest)
    assert (parsed.account_id, parsed.previous_projects) == ("444455556666", ("churn-prediction",))
