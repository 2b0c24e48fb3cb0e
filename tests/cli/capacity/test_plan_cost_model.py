"""`dsdash plan`'s model: costs follow the measured counts, the committed counts are current,
and the report names every quota and both designs."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from bench import cost
from cli.capacity.cost_model import CostModel, monthly_costs
from cli.capacity.measured import MEASURED_COUNTS_PATH, counts_at, load_measured
from cli.capacity.plan_report import render_plan
from cli.capacity.quotas import bus_policy_chars, quota_lines

QUOTA_NAMES = (
    "EventBridge rules per bus",
    "Hub bus policy size",
    "Events per second on the hub bus (PutEvents rate)",
    "Lambda concurrent executions",
    "DynamoDB write units per second, one partition",
    "DynamoDB write units per second, table",
    "Athena active DML queries",
)


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return load_measured()


def test_committed_counts_match_a_fresh_measurement(committed: dict[str, Any]) -> None:
    """Fails when the ingest or publishing path changed and `python -m bench --only cost` was
    not run again: the plan would price a design that no longer exists."""
    fresh = cost.measure(cost.QUICK_METRIC_COUNTS)
    measured_now = cost.comparable(fresh)
    on_file = cost.comparable(committed)
    stale = f"{MEASURED_COUNTS_PATH} is stale: run `python -m bench --only cost`"
    for metrics, designs in measured_now.items():
        for design, figures in designs.items():
            for name, value in figures.items():
                if name.startswith("table_bytes"):
                    # The latest item holds times as epoch numbers (the extraction's, per series,
                    # and the ingest time); DynamoDB sizes a number by its significant digits,
                    # so the wall clock the benchmark runs at moves an item by up to ~20 bytes
                    # of ~550 (a minute ending in zero drops a digit from every series' time).
                    assert on_file[metrics][design][name] == pytest.approx(value, rel=0.05), stale
                else:
                    assert on_file[metrics][design][name] == value, f"{stale} ({design} {name})"
    assert fresh["catalog"] == committed["catalog"], stale


def test_each_cost_line_follows_its_measured_count(committed: dict[str, Any]) -> None:
    model = CostModel.load(measured=committed)
    before = monthly_costs(model, spokes=1_000, metrics=15, period_seconds=3600)
    changed = copy.deepcopy(committed)
    changed["by_metrics"]["15"]["sample"]["event_billing_units"] *= 2
    changed["by_metrics"]["15"]["dsdash"]["ingest_batch_1"]["dynamodb_write_units"] += 10
    after = monthly_costs(
        CostModel.load(measured=changed), spokes=1_000, metrics=15, period_seconds=3600
    )
    lines_before = {line.name: line for line in before.lines}
    lines_after = {line.name: line for line in after.lines}
    events = "Events on the spoke bus (EventBridge)"
    assert lines_after[events].sample == pytest.approx(2 * lines_before[events].sample)
    assert lines_after[events].dsdash == lines_before[events].dsdash
    assert lines_after["DynamoDB writes"].dsdash > lines_before["DynamoDB writes"].dsdash
    assert after.ratio == pytest.approx(after.dsdash_total / after.sample_total)
    assert before.ratio != after.ratio


def test_the_sample_pays_per_metric_and_dsdash_per_extraction(committed: dict[str, Any]) -> None:
    model = CostModel.load(measured=committed)
    few = monthly_costs(model, spokes=1_000, metrics=1, period_seconds=3600)
    many = monthly_costs(model, spokes=1_000, metrics=50, period_seconds=3600)
    events = "Events on the spoke bus (EventBridge)"
    few_lines = {line.name: line for line in few.lines}
    many_lines = {line.name: line for line in many.lines}
    assert many_lines[events].sample == pytest.approx(50 * few_lines[events].sample)
    assert many_lines[events].dsdash == few_lines[events].dsdash  # one event either way


def test_counts_between_measurements_are_interpolated(committed: dict[str, Any]) -> None:
    low = counts_at(committed, 15)["sample"]["events"]
    high = counts_at(committed, 50)["sample"]["events"]
    middle = counts_at(committed, 30)["sample"]["events"]
    assert low < middle < high
    assert middle == pytest.approx(low + (high - low) * (30 - 15) / (50 - 15))


def test_the_report_names_every_quota_and_both_designs(committed: dict[str, Any]) -> None:
    model = CostModel.load(measured=committed)
    quotas = quota_lines(model, spokes=2_000, metrics=15, period_seconds=3600)
    report = render_plan(
        quotas,
        monthly_costs(model, spokes=2_000, metrics=15, period_seconds=3600),
        schedule="rate(1 hour)",
        prices_note="prices",
    )
    for name in QUOTA_NAMES:
        assert name in report
    assert "dsdash" in report and "sample" in report
    rules = next(line for line in quotas if line.name.startswith("EventBridge rules per bus"))
    # 2,000 spokes in per-account mode: 400 fan-out rules plus the hub's own, over 300.
    assert rules.needed == 401 and rules.request is not None and rules.request >= 401
    policy = next(line for line in quotas if line.name.startswith("Hub bus policy size"))
    assert policy.exceeded and policy.request is None  # not adjustable
    assert policy.needed == bus_policy_chars(2_000)
    fits = int(re.search(r"statements fit (\d+) spokes", policy.note).group(1))
    assert bus_policy_chars(fits) <= 10_240 < bus_policy_chars(fits + 1)


def test_the_bus_policy_is_measured_from_the_enrollment_statements() -> None:
    one = bus_policy_chars(1)
    two = bus_policy_chars(2)
    # Every account adds one statement of the same size: linear, as the enrollment writes it.
    assert bus_policy_chars(50) == one + 49 * (two - one)


def test_a_tiered_price_charges_only_what_falls_past_the_payers_free_tier(
    committed: dict[str, Any],
) -> None:
    model = CostModel.load(measured=committed)
    tiers = model.prices["prices"]["scheduler_invocation"]["tiers"]
    free = float(tiers[0]["up_to"])
    paid = float(tiers[1]["usd"]) / float(tiers[1]["per"])
    assert float(tiers[0]["usd"]) == 0 and free == 14_000_000
    assert model.cost("scheduler_invocation", 1_000_000) == 0
    # 100 invocations left in the free tier: the other 900 pay the second tier's price.
    assert model.cost("scheduler_invocation", 1_000, already_used=free - 100) == pytest.approx(
        900 * paid
    )
    with pytest.raises(KeyError, match="tiered"):
        model.price("scheduler_invocation")


def test_the_schedule_line_pays_once_the_orgs_other_schedules_use_the_free_tier(
    committed: dict[str, Any],
) -> None:
    model = CostModel.load(measured=committed)
    alone = monthly_costs(model, spokes=1_000, metrics=15, period_seconds=3600)
    prices = copy.deepcopy(dict(model.prices))
    prices["assumptions"]["scheduler_other_invocations_per_month"]["value"] = 20_000_000
    shared = monthly_costs(
        CostModel(prices=prices, measured=committed), spokes=1_000, metrics=15, period_seconds=3600
    )
    schedule = "Schedule (EventBridge Scheduler)"
    line_alone = next(line for line in alone.lines if line.name == schedule)
    line_shared = next(line for line in shared.lines if line.name == schedule)
    assert line_alone.dsdash == 0 and "per payer" in line_alone.basis
    invocations = 1_000 * (365.25 / 12 * 86400) / 3600
    assert line_shared.dsdash == pytest.approx(invocations / 1_000_000)
    assert line_shared.sample == line_alone.sample == 0
