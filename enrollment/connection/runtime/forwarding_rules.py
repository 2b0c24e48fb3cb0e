"""Forwarding rules between our buses (docs/architecture.md §4, §5).

- A spoke has one rule per hub, `dsdash-forward-metrics-to-<hub account>`, that sends the
  spoke's metric events to the hub bus.
- The hub has fan-out rules `dsdash-refresh-fanout-000`, `-001`, ... that send the hub's refresh
  events to every spoke bus (one per spoke account and region), at most 5 targets per rule: the
  hard EventBridge limit.

We own the rules whose name starts with those prefixes; other rules on the bus are only counted,
for the rules-per-bus quota, which is checked before any write.

Fan-out packing is stable: a spoke bus stays in the rule it is in, new spoke buses fill free
slots first, and rules beyond ceil(spoke buses / 5) are emptied into the free slots and deleted.
From an empty bus this gives plain sorted packing. Keeping targets in place means enrolling one
account touches one rule instead of shifting every target after it, and a moved target is put in
its new rule before it leaves the old one, so no spoke misses a refresh (at worst one gets it
twice, which is harmless: extraction is idempotent on the hub side).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import contracts
from contracts import (
    MAX_TARGETS_PER_RULE,
    METRIC_EVENT_DETAIL_TYPE,
    METRIC_EVENT_SOURCE,
    REFRESH_EVENT_DETAIL_TYPE,
    REFRESH_EVENT_SOURCE,
)
from enrollment.connection.runtime.connection_errors import (
    EventBridgeQuotaExceeded,
    EventBridgeWriteFailed,
)

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

Target = dict[str, Any]

FANOUT_RULE_PREFIX = contracts.REFRESH_FANOUT_RULE_PREFIX
FORWARD_RULE_PREFIX = contracts.FORWARD_METRICS_RULE_PREFIX
HUB_BUS_TARGET_ID = "dsdash-hub-bus"
RULES_QUOTA_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
# RemoveTargets accepts up to 100 ids, PutTargets up to 10 targets per call.
REMOVE_TARGETS_MAX_IDS = 100
PUT_TARGETS_MAX_TARGETS = 10


def fanout_rule_name(index: int) -> str:
    return f"{FANOUT_RULE_PREFIX}{index:03d}"


def forward_rule_name(hub_account_id: str) -> str:
    return f"{FORWARD_RULE_PREFIX}{hub_account_id}"


def spoke_bus_target_id(account_id: str, region: str) -> str:
    return f"spoke-{account_id}-{region}"


def target_account_id(target: Mapping[str, Any]) -> str:
    # arn:<partition>:events:<region>:<account>:event-bus/<name>
    parts = str(target.get("Arn", "")).split(":")
    return parts[4] if len(parts) > 5 else ""


@dataclass(frozen=True)
class RuleDefinition:
    name: str
    event_pattern: Mapping[str, Any]
    description: str
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class ExistingRule:
    name: str
    event_pattern: Mapping[str, Any] | None
    state: str
    description: str
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class BusRules:
    """All rules on a bus (for the quota count) and ours, with their targets."""

    total_rule_count: int
    owned: Mapping[str, ExistingRule]


@dataclass
class RuleChanges:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # "<rule>/<target id>"
    targets_put: list[str] = field(default_factory=list)
    targets_removed: list[str] = field(default_factory=list)


def read_bus_rules(
    events: EventBridgeClient, bus_name: str, owned_prefix: str, *, name_prefix: bool = False
) -> BusRules:
    """Our rules (by `owned_prefix`) with their targets. With `name_prefix`, ListRules is asked
    for our rules only, so `total_rule_count` counts only ours: for callers that create nothing."""
    total = 0
    owned: dict[str, ExistingRule] = {}
    paginator = events.get_paginator("list_rules")
    pages = (
        paginator.paginate(EventBusName=bus_name, NamePrefix=owned_prefix)
        if name_prefix
        else paginator.paginate(EventBusName=bus_name)
    )
    for page in pages:
        for rule in page.get("Rules", []):
            total += 1
            name = rule["Name"]
            if not name.startswith(owned_prefix):
                continue
            pattern_text = rule.get("EventPattern")
            owned[name] = ExistingRule(
                name=name,
                event_pattern=json.loads(pattern_text) if pattern_text else None,
                state=rule.get("State", ""),
                description=rule.get("Description", ""),
                targets=tuple(list_rule_targets(events, bus_name, name)),
            )
    return BusRules(total_rule_count=total, owned=owned)


def list_rule_targets(events: EventBridgeClient, bus_name: str, rule_name: str) -> list[Target]:
    targets: list[Target] = []
    paginator = events.get_paginator("list_targets_by_rule")
    for page in paginator.paginate(Rule=rule_name, EventBusName=bus_name):
        targets.extend(dict(target) for target in page.get("Targets", []))
    return targets


# --- desired state ---------------------------------------------------------------------------


def spoke_forward_rules(
    *,
    spoke_account_id: str,
    hub_accounts: Iterable[str],
    hub_bus_arn_for: Mapping[str, str],
    forwarder_role_arn: str,
) -> list[RuleDefinition]:
    """One rule per hub; only the spoke's own metric events are forwarded, so an event another
    account put on this bus is never relayed to the hub under this spoke's name."""
    return [
        RuleDefinition(
            name=forward_rule_name(hub_account),
            event_pattern={
                "source": [METRIC_EVENT_SOURCE],
                "detail-type": [METRIC_EVENT_DETAIL_TYPE],
                "account": [spoke_account_id],
            },
            description=f"dsdash: forward this spoke's metric events to hub {hub_account}",
            targets=(
                {
                    "Id": HUB_BUS_TARGET_ID,
                    "Arn": hub_bus_arn_for[hub_account],
                    "RoleArn": forwarder_role_arn,
                },
            ),
        )
        for hub_account in sorted(hub_accounts)
    ]


def pack_fanout_targets(
    existing: Mapping[int, Sequence[str]], desired_ids: Sequence[str]
) -> list[list[str]]:
    """Assign target ids to fan-out rule indexes 0..k-1, k = ceil(len(desired_ids) / 5).

    `existing` maps a rule index to the target ids it holds now. Targets that are desired and sit
    in a rule below k stay there (first occurrence wins, at most 5 per rule); the others, in the
    order of `desired_ids`, fill the free slots from rule 0 upwards.
    """
    desired = set(desired_ids)
    rule_count = -(-len(desired) // MAX_TARGETS_PER_RULE)
    placement: list[list[str]] = [[] for _ in range(rule_count)]
    placed: set[str] = set()
    for index in sorted(existing):
        if index >= rule_count:
            continue
        for target_id in existing[index]:
            if (
                target_id in desired
                and target_id not in placed
                and len(placement[index]) < MAX_TARGETS_PER_RULE
            ):
                placement[index].append(target_id)
                placed.add(target_id)
    remaining = [target_id for target_id in desired_ids if target_id not in placed]
    for slot in placement:
        while remaining and len(slot) < MAX_TARGETS_PER_RULE:
            slot.append(remaining.pop(0))
    return placement


def hub_fanout_rules(
    *,
    bus_rules: BusRules,
    hub_account_id: str,
    spoke_bus_targets: Sequence[Target],
) -> list[RuleDefinition]:
    """The fan-out rules for `spoke_bus_targets` (sorted, unique ids), packed stably.

    Only refresh events the hub itself emitted are fanned out: spokes may PutEvents on the hub
    bus, and must not be able to make every other spoke extract.
    """
    by_id = {target["Id"]: target for target in spoke_bus_targets}
    existing: dict[int, list[str]] = {}
    for name, rule in bus_rules.owned.items():
        suffix = name[len(FANOUT_RULE_PREFIX) :]
        # Only canonical names keep their targets in place; anything else of ours is surplus.
        if suffix.isdigit() and fanout_rule_name(int(suffix)) == name:
            existing[int(suffix)] = [str(target["Id"]) for target in rule.targets]
    placement = pack_fanout_targets(existing, [target["Id"] for target in spoke_bus_targets])
    pattern = {
        "source": [REFRESH_EVENT_SOURCE],
        "detail-type": [REFRESH_EVENT_DETAIL_TYPE],
        "account": [hub_account_id],
    }
    return [
        RuleDefinition(
            name=fanout_rule_name(index),
            event_pattern=pattern,
            description=(
                f"dsdash: fan out hub refresh events to spoke buses, part {index + 1} "
                f"of {len(placement)}"
            ),
            targets=tuple(by_id[target_id] for target_id in target_ids),
        )
        for index, target_ids in enumerate(placement)
    ]


# --- writing ---------------------------------------------------------------------------------


def reconcile_rules(
    events: EventBridgeClient,
    *,
    bus_name: str,
    bus_rules: BusRules,
    desired: Sequence[RuleDefinition],
    rules_per_bus_quota: int,
    purpose: str,
) -> RuleChanges:
    """Make our rules on the bus exactly `desired`; delete our other rules.

    Order: each desired rule drops its stale targets before receiving new ones (a rule never
    holds more than 5), and surplus rules are emptied and deleted last, after their targets
    found their new rule.
    """
    desired_names = {rule.name for rule in desired}
    to_create = [rule.name for rule in desired if rule.name not in bus_rules.owned]
    to_delete = sorted(name for name in bus_rules.owned if name not in desired_names)
    projected_total = bus_rules.total_rule_count - len(to_delete) + len(to_create)
    if to_create and projected_total > rules_per_bus_quota:
        raise EventBridgeQuotaExceeded(
            f"refusing to create rules on bus {bus_name!r}: EventBridge allows "
            f"{rules_per_bus_quota} rules per event bus, the bus has "
            f"{bus_rules.total_rule_count} rule(s), and {purpose} needs {len(desired)} dsdash "
            f"rule(s), {projected_total} rules in total. Request an increase of the adjustable "
            f"quota 'Rules per event bus' in Service Quotas first. See {RULES_QUOTA_DOC}"
        )

    changes = RuleChanges()
    for rule in desired:
        existing = bus_rules.owned.get(rule.name)
        _put_rule_if_changed(events, bus_name, rule, existing, changes)
        existing_targets = {str(t["Id"]): t for t in existing.targets} if existing else {}
        desired_targets = {str(t["Id"]): t for t in rule.targets}
        stale = [target_id for target_id in existing_targets if target_id not in desired_targets]
        _remove_targets(events, bus_name, rule.name, stale, changes)
        changed = [
            target
            for target_id, target in desired_targets.items()
            if existing_targets.get(target_id) != target
        ]
        _put_targets(events, bus_name, rule.name, changed, changes)

    for name in to_delete:
        rule_targets = [str(target["Id"]) for target in bus_rules.owned[name].targets]
        _remove_targets(events, bus_name, name, rule_targets, changes)
        events.delete_rule(Name=name, EventBusName=bus_name)
        changes.deleted.append(name)
    return changes


def remove_account_targets(
    events: EventBridgeClient, *, bus_name: str, bus_rules: BusRules, account_id: str
) -> RuleChanges:
    """Remove every target of our rules that points at `account_id`'s bus; keep the rules."""
    changes = RuleChanges()
    for name in sorted(bus_rules.owned):
        ids = [
            str(target["Id"])
            for target in bus_rules.owned[name].targets
            if target_account_id(target) == account_id
        ]
        _remove_targets(events, bus_name, name, ids, changes)
    return changes


def delete_rule_with_targets(
    events: EventBridgeClient, *, bus_name: str, rule: ExistingRule
) -> RuleChanges:
    changes = RuleChanges()
    _remove_targets(events, bus_name, rule.name, [str(t["Id"]) for t in rule.targets], changes)
    events.delete_rule(Name=rule.name, EventBusName=bus_name)
    changes.deleted.append(rule.name)
    return changes


def _put_rule_if_changed(
    events: EventBridgeClient,
    bus_name: str,
    rule: RuleDefinition,
    existing: ExistingRule | None,
    changes: RuleChanges,
) -> None:
    if (
        existing is not None
        and existing.event_pattern == rule.event_pattern
        and existing.state == "ENABLED"
        and existing.description == rule.description
    ):
        return
    events.put_rule(
        Name=rule.name,
        EventBusName=bus_name,
        EventPattern=json.dumps(rule.event_pattern, sort_keys=True),
        State="ENABLED",
        Description=rule.description,
    )
    (changes.created if existing is None else changes.updated).append(rule.name)


def _remove_targets(
    events: EventBridgeClient,
    bus_name: str,
    rule_name: str,
    target_ids: Sequence[str],
    changes: RuleChanges,
) -> None:
    for start in range(0, len(target_ids), REMOVE_TARGETS_MAX_IDS):
        chunk = list(target_ids[start : start + REMOVE_TARGETS_MAX_IDS])
        response = events.remove_targets(Rule=rule_name, EventBusName=bus_name, Ids=chunk)
        _raise_on_failed_entries("RemoveTargets", rule_name, response)
        changes.targets_removed.extend(f"{rule_name}/{target_id}" for target_id in chunk)


def _put_targets(
    events: EventBridgeClient,
    bus_name: str,
    rule_name: str,
    targets: Sequence[Target],
    changes: RuleChanges,
) -> None:
    for start in range(0, len(targets), PUT_TARGETS_MAX_TARGETS):
        chunk = list(targets[start : start + PUT_TARGETS_MAX_TARGETS])
        response = events.put_targets(Rule=rule_name, EventBusName=bus_name, Targets=chunk)  # type: ignore[arg-type]
        _raise_on_failed_entries("PutTargets", rule_name, response)
        changes.targets_put.extend(f"{rule_name}/{target['Id']}" for target in chunk)


def _raise_on_failed_entries(operation: str, rule_name: str, response: Mapping[str, Any]) -> None:
    # Both calls return HTTP 200 with per-target failures in FailedEntries.
    if response.get("FailedEntryCount", 0):
        failures = "; ".join(
            f"{entry.get('TargetId')}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            for entry in response.get("FailedEntries", [])
        )
        raise EventBridgeWriteFailed(f"{operation} on rule {rule_name!r} failed for {failures}")
