"""Fan-out and bus policy: what connecting 60, 300 and 1,500 spokes costs the hub's bus.

On moto, the hub's real connection actions (`enrollment.connection.runtime.connection.grant_put_events`
and `connect_forwarding_rules`) run against a `dsdash-hub` bus that also holds the hub stack's
ingest rule, with one `/monitored_projects/...` parameter per spoke, as enrollment writes them.
The per-account policy mode is run too, to show where it refuses. Sizes that are not run on moto
are projected with the runtime's own functions: `bus_policy.policy_text` over the statements
`account_statement`/`organization_statement` build, and `forwarding_rules.hub_fanout_rules`
packing. The quotas are the contracts' (`contracts.BUS_POLICY_MAX_CHARS`,
`MAX_TARGETS_PER_RULE`, `DEFAULT_RULES_PER_BUS_QUOTA`).

moto gap: moto stores bus policies and rule targets but does not enforce them or deliver across
accounts; only the configuration and the calls are measured here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
from moto import mock_aws

from bench.support import AwsCallCounter, BenchmarkResult, ceil_div, stopwatch
from contracts import (
    BUS_POLICY_MAX_CHARS,
    DEFAULT_RULES_PER_BUS_QUOTA,
    HUB_BUS_NAME,
    MAX_TARGETS_PER_RULE,
    METRIC_EVENT_DETAIL_TYPE,
    METRIC_EVENT_SOURCE,
    monitored_account_parameter_name,
    spoke_bus_arn,
)
from enrollment.connection.runtime.bus_policy import (
    EventBus,
    account_statement,
    organization_statement,
    policy_text,
)
from enrollment.connection.runtime.connection import (
    ConnectionSettings,
    connect_forwarding_rules,
    grant_put_events,
)
from enrollment.connection.runtime.connection_errors import EventBridgeQuotaExceeded
from enrollment.connection.runtime.forwarding_rules import (
    BusRules,
    hub_fanout_rules,
    spoke_bus_target_id,
)

REGION = "eu-west-1"
ORGANIZATION_ID = "o-abcdef1234"
FULL_SPOKE_COUNTS = (60, 300, 1_500)
QUICK_MOTO_SPOKE_COUNTS = (60,)
# The hub stack's own rule on the hub bus (metric events to the ingest queue): it counts
# against the rules-per-bus quota like ours.
OTHER_RULES_ON_HUB_BUS = 1
WRITE_OPERATIONS = (
    "PutPermission",
    "RemovePermission",
    "PutRule",
    "DeleteRule",
    "PutTargets",
    "RemoveTargets",
)


def spoke_account(index: int) -> str:
    return f"{200000000000 + index:012d}"


def hub_settings(hub_account: str, mode: str = "organization") -> ConnectionSettings:
    return ConnectionSettings(
        unit="hub",
        bus_name=HUB_BUS_NAME,
        forwarder_role_arn=f"arn:aws:iam::{hub_account}:role/dsdash-hub-refresh-forwarder",
        bus_policy_mode=mode,  # type: ignore[arg-type]
        organization_id=ORGANIZATION_ID,
        spoke_regions=(REGION,),
    )


def projected_bus(hub_account: str) -> EventBus:
    arn = f"arn:aws:events:{REGION}:{hub_account}:event-bus/{HUB_BUS_NAME}"
    return EventBus(HUB_BUS_NAME, arn, "aws", REGION, hub_account, None)


def per_account_policy_chars(bus: EventBus, spokes: int) -> int:
    return len(policy_text([account_statement(bus, spoke_account(i)) for i in range(spokes)]))


def organization_policy_chars(bus: EventBus) -> int:
    return len(policy_text([organization_statement(bus, ORGANIZATION_ID)]))


def per_account_spoke_limit(bus: EventBus) -> int:
    """The most spokes whose per-account statements fit the bus policy quota."""
    spokes = 0
    while per_account_policy_chars(bus, spokes + 1) <= BUS_POLICY_MAX_CHARS:
        spokes += 1
    return spokes


def projected_fanout(hub_account: str, spokes: int) -> tuple[int, int]:
    """(rules, most targets in one rule) the runtime's packing gives `spokes` spoke buses."""
    targets = [
        {
            "Id": spoke_bus_target_id(spoke_account(i), REGION),
            "Arn": spoke_bus_arn("aws", REGION, spoke_account(i)),
            "RoleArn": hub_settings(hub_account).forwarder_role_arn,
        }
        for i in range(spokes)
    ]
    rules = hub_fanout_rules(
        bus_rules=BusRules(total_rule_count=0, owned={}),
        hub_account_id=hub_account,
        spoke_bus_targets=targets,
    )
    return len(rules), max((len(rule.targets) for rule in rules), default=0)


@dataclass(frozen=True)
class MotoConnection:
    spokes: int
    refused: str | None  # the quota message, when EBRule refused
    rules_on_bus: int
    fanout_rules: int
    max_targets_per_rule: int
    policy_chars: int
    write_calls: int
    total_calls: int
    second_run_write_calls: int
    per_account_refused: str | None
    per_account_policy_unchanged: bool
    seconds: float


def connect_on_moto(spokes: int) -> MotoConnection:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        hub_account = session.client("sts").get_caller_identity()["Account"]
        events = session.client("events")
        events.create_event_bus(Name=HUB_BUS_NAME)
        events.put_rule(
            Name="dsdash-hub-MetricEventsToIngestQueue",
            EventBusName=HUB_BUS_NAME,
            EventPattern=json.dumps(
                {"source": [METRIC_EVENT_SOURCE], "detail-type": [METRIC_EVENT_DETAIL_TYPE]}
            ),
        )
        ssm = session.client("ssm")
        for index in range(spokes):
            account = spoke_account(index)
            ssm.put_parameter(
                Name=monitored_account_parameter_name(f"project{index % 3}", "dev", account),
                Value=account,
                Type="String",
            )

        counted = boto3.Session(region_name=REGION)
        counter = AwsCallCounter(counted)
        settings = hub_settings(hub_account)
        refused = None
        with stopwatch() as watch:
            grant_put_events(counted, settings)
            try:
                connect_forwarding_rules(counted, settings)
            except EventBridgeQuotaExceeded as error:
                refused = str(error)
        write_calls = sum(counter.count(operation) for operation in WRITE_OPERATIONS)
        total_calls = counter.total()

        counter.reset()
        grant_put_events(counted, settings)
        if refused is None:
            connect_forwarding_rules(counted, settings)
        second_run_write_calls = sum(counter.count(operation) for operation in WRITE_OPERATIONS)

        policy_before = events.describe_event_bus(Name=HUB_BUS_NAME).get("Policy", "")
        per_account_refused = None
        try:
            grant_put_events(counted, hub_settings(hub_account, "per-account"))
        except EventBridgeQuotaExceeded as error:
            per_account_refused = str(error)
        policy_after = events.describe_event_bus(Name=HUB_BUS_NAME).get("Policy", "")

        rules = [
            rule
            for page in events.get_paginator("list_rules").paginate(EventBusName=HUB_BUS_NAME)
            for rule in page["Rules"]
        ]
        fanout = [rule["Name"] for rule in rules if rule["Name"].startswith("dsdash-refresh")]
        target_counts = [
            len(events.list_targets_by_rule(Rule=name, EventBusName=HUB_BUS_NAME)["Targets"])
            for name in fanout
        ]
        return MotoConnection(
            spokes=spokes,
            refused=refused,
            rules_on_bus=len(rules),
            fanout_rules=len(fanout),
            max_targets_per_rule=max(target_counts, default=0),
            policy_chars=len(policy_before),
            write_calls=write_calls,
            total_calls=total_calls,
            second_run_write_calls=second_run_write_calls,
            per_account_refused=per_account_refused,
            per_account_policy_unchanged=policy_before == policy_after,
            seconds=watch.seconds,
        )


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult("fanout", "Fan-out rules and the hub bus policy")
    hub_account = "111111111111"
    bus = projected_bus(hub_account)
    rule_budget = DEFAULT_RULES_PER_BUS_QUOTA - OTHER_RULES_ON_HUB_BUS
    spoke_capacity = rule_budget * MAX_TARGETS_PER_RULE
    organization_chars = organization_policy_chars(bus)
    per_account_limit = per_account_spoke_limit(bus)

    projections = result.section(
        f"Projected with the runtime's packing and policy text (1 spoke region; quotas: "
        f"{MAX_TARGETS_PER_RULE} targets/rule, {DEFAULT_RULES_PER_BUS_QUOTA} rules/bus, "
        f"{BUS_POLICY_MAX_CHARS:,}-char policy)"
    )
    for spokes in FULL_SPOKE_COUNTS:
        rules, widest = projected_fanout(hub_account, spokes)
        headroom = rule_budget - rules
        per_account_chars = per_account_policy_chars(bus, spokes)
        projections.add(
            f"{spokes:,} spokes: fan-out rules",
            rules,
            f"ceil({spokes:,}/{MAX_TARGETS_PER_RULE}) = {ceil_div(spokes, MAX_TARGETS_PER_RULE)}; "
            f"at most {widest} targets/rule; rules-per-bus headroom {headroom} "
            f"({'fits' if headroom >= 0 else 'over the quota'})",
        )
        projections.add(
            f"{spokes:,} spokes: policy chars org / per-account",
            f"{organization_chars:,} / {per_account_chars:,}",
            "per-account over the quota"
            if per_account_chars > BUS_POLICY_MAX_CHARS
            else "both fit",
        )
        result.figures.update(
            {
                f"s{spokes}_fanout_rules": rules,
                f"s{spokes}_fanout_rules_expected": ceil_div(spokes, MAX_TARGETS_PER_RULE),
                f"s{spokes}_max_targets_per_rule": widest,
                f"s{spokes}_rules_headroom": headroom,
                f"s{spokes}_org_policy_chars": organization_chars,
                f"s{spokes}_per_account_policy_chars": per_account_chars,
            }
        )
    limits = result.section("Where each design stops")
    limits.add(
        "per-account policy: most spokes",
        per_account_limit,
        f"{per_account_policy_chars(bus, per_account_limit):,} chars; "
        f"{per_account_limit + 1} need {per_account_policy_chars(bus, per_account_limit + 1):,}",
    )
    limits.add("organization policy: chars for any count", organization_chars)
    limits.add(
        "fan-out: most spokes per hub bus",
        spoke_capacity,
        f"({DEFAULT_RULES_PER_BUS_QUOTA} rules - {OTHER_RULES_ON_HUB_BUS} ingest rule) x "
        f"{MAX_TARGETS_PER_RULE} targets; raise the adjustable quota beyond",
    )
    result.figures.update(
        {
            "policy_max_chars": BUS_POLICY_MAX_CHARS,
            "per_account_spoke_limit": per_account_limit,
            "per_account_policy_chars_at_limit": per_account_policy_chars(bus, per_account_limit),
            "per_account_policy_chars_beyond_limit": per_account_policy_chars(
                bus, per_account_limit + 1
            ),
            "organization_policy_chars": organization_chars,
            "rules_per_bus_quota": DEFAULT_RULES_PER_BUS_QUOTA,
            "other_rules_on_hub_bus": OTHER_RULES_ON_HUB_BUS,
            "fanout_spoke_capacity": spoke_capacity,
        }
    )

    on_moto = result.section("On moto, the real EBPut + EBRule of the hub (organization mode)")
    for spokes in QUICK_MOTO_SPOKE_COUNTS if quick else FULL_SPOKE_COUNTS:
        measured = connect_on_moto(spokes)
        if measured.refused is None:
            on_moto.add(
                f"{spokes:,} spokes: fan-out rules",
                measured.fanout_rules,
                f"max {measured.max_targets_per_rule} targets/rule; {measured.rules_on_bus} "
                f"rules on the bus; {measured.write_calls} write calls, "
                f"{measured.total_calls} in all; {measured.seconds:.2f} s",
            )
        else:
            on_moto.add(
                f"{spokes:,} spokes: EBRule refused",
                measured.fanout_rules,
                "rules written before refusing; the refusal: "
                + measured.refused.split(", and ")[-1].split(". ")[0],
            )
        on_moto.add(
            f"{spokes:,} spokes: bus policy chars",
            measured.policy_chars,
            "same as for 1 spoke"
            if measured.policy_chars == organization_chars
            else f"projected {organization_chars:,}",
        )
        on_moto.add(
            f"{spokes:,} spokes: write calls on a second run",
            measured.second_run_write_calls,
            "EBPut again (EBRule was refused)" if measured.refused else "EBPut and EBRule again",
        )
        on_moto.add(
            f"{spokes:,} spokes: per-account EBPut",
            "refused" if measured.per_account_refused else "accepted",
            "policy left untouched" if measured.per_account_policy_unchanged else "POLICY CHANGED",
        )
        result.figures.update(
            {
                f"moto_s{spokes}_refused": measured.refused is not None,
                f"moto_s{spokes}_fanout_rules": measured.fanout_rules,
                f"moto_s{spokes}_max_targets_per_rule": measured.max_targets_per_rule,
                f"moto_s{spokes}_rules_on_bus": measured.rules_on_bus,
                f"moto_s{spokes}_policy_chars": measured.policy_chars,
                f"moto_s{spokes}_write_calls": measured.write_calls,
                f"moto_s{spokes}_total_calls": measured.total_calls,
                f"moto_s{spokes}_second_run_write_calls": measured.second_run_write_calls,
                f"moto_s{spokes}_per_account_refused": measured.per_account_refused is not None,
                f"moto_s{spokes}_per_account_policy_unchanged": (
                    measured.per_account_policy_unchanged
                ),
                f"moto_s{spokes}_seconds": measured.seconds,
            }
        )
    result.notes.append(
        "with R spoke regions every spoke is R targets: divide the fan-out capacity by R"
    )
    return result
