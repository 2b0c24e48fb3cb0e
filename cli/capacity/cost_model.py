"""A line-item monthly cost for dsdash and for the sample's design, on one model.

Inputs, each from one place:
- prices and the model's assumptions: `prices.json` (source URL and date);
- what one extraction makes AWS do: `measured_counts.json`, measured by `bench/cost.py` through
  botocore call hooks on the real code (never typed in);
- what each Lambda function computes and holds: its CPU time per warm invocation and peak RSS,
  measured by the same benchmark in a process of its own, and its memory as the synthesized
  template sets it (`measured_counts.json`, `lambda`); duration and memory choice follow
  `lambda_sizing` (CPU scales with memory; the per-call latency is an assumption);
- the deployment: spokes, metrics per extraction, refresh period.

The sample's design (the original sample, named as such): one v1 event per metric, one hub Lambda
invocation and one DynamoDB item per event, kept for the retention; its schedule is an EventBridge
scheduled rule (free) and it has no queue. dsdash: one EventBridge Scheduler invocation and one
extraction per spoke and period, v2 events through SQS to the ingest function, whose batches hold
the records that arrive within its batching window.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from cli.capacity.lambda_sizing import gb_seconds, linear_in_records
from cli.capacity.measured import MeasuredCountsError, counts_at, load_measured

PRICES_PATH: Final = Path(__file__).with_name("prices.json")
SECONDS_PER_MONTH: Final = 365.25 / 12 * 86400
GIB: Final = 1024**3
MIB: Final = 1024**2
ATHENA_MINIMUM_SCAN_BYTES: Final = 10 * MIB


@dataclass(frozen=True)
class CostModel:
    prices: Mapping[str, Any]
    measured: Mapping[str, Any]

    @classmethod
    def load(
        cls, *, prices_path: Path = PRICES_PATH, measured: Mapping[str, Any] | None = None
    ) -> CostModel:
        prices = json.loads(prices_path.read_text(encoding="utf-8"))
        return cls(prices=prices, measured=measured if measured is not None else load_measured())

    def price(self, name: str) -> float:
        """A flat price per unit; a tiered price has no single figure (`cost` prices it)."""
        entry = self.prices["prices"][name]
        if "tiers" in entry:
            raise KeyError(f"price {name!r} is tiered: use CostModel.cost")
        return float(entry["usd"]) / float(entry["per"])

    def cost(self, name: str, quantity: float, *, already_used: float = 0.0) -> float:
        """What `quantity` units cost, on top of `already_used` units the same payer consumed
        in the month (a tier is per payer: other use moves this use into dearer tiers)."""
        entry = self.prices["prices"][name]
        if "tiers" not in entry:
            return quantity * self.price(name)
        total, floor = 0.0, 0.0
        start, end = already_used, already_used + quantity
        for tier in entry["tiers"]:
            ceiling = math.inf if tier["up_to"] is None else float(tier["up_to"])
            inside = max(0.0, min(end, ceiling) - max(start, floor))
            total += inside * float(tier["usd"]) / float(tier["per"])
            floor = ceiling
        return total

    def assumption(self, name: str) -> float:
        return float(self.prices["assumptions"][name]["value"])


@dataclass(frozen=True)
class CostLine:
    name: str
    dsdash: float
    sample: float
    basis: str


@dataclass(frozen=True)
class MonthlyCost:
    spokes: int
    metrics: int
    period_seconds: int
    records_per_invocation: float
    lines: tuple[CostLine, ...]

    @property
    def dsdash_total(self) -> float:
        return math.fsum(line.dsdash for line in self.lines)

    @property
    def sample_total(self) -> float:
        return math.fsum(line.sample for line in self.lines)

    @property
    def ratio(self) -> float | None:
        return self.dsdash_total / self.sample_total if self.sample_total else None


def _per_batch(ingest: Mapping[str, Any], batches: list[int], name: str, records: float) -> float:
    """A count for one invocation of `records` records: fixed part plus a part per record, from
    the two measured batch sizes (linear in the records)."""
    small, large = batches[0], batches[-1]
    at_small = float(ingest[f"ingest_batch_{small}"][name])
    at_large = float(ingest[f"ingest_batch_{large}"][name])
    per_record = (at_large - at_small) / (large - small) if large != small else at_small / small
    fixed = at_small - per_record * small
    return max(0.0, fixed + per_record * records)


def spread_seconds(model: CostModel, period_seconds: int) -> float:
    """How long one round of extractions takes to arrive: the schedule's flexible window."""
    return min(period_seconds / 2, model.assumption("spread_seconds_max"))


def records_per_invocation(
    model: CostModel, *, spokes: int, events_per_extraction: float, period_seconds: int
) -> float:
    """Records one ingest invocation takes: those arriving within the batching window."""
    arrival_per_second = spokes * events_per_extraction / spread_seconds(model, period_seconds)
    window = model.assumption("ingest_batching_window_seconds")
    return min(model.assumption("ingest_max_batch_records"), max(1.0, arrival_per_second * window))


def _free_tier(model: CostModel, name: str) -> str:
    tiers = model.prices["prices"][name].get("tiers", [])
    free = [tier["up_to"] for tier in tiers if float(tier["usd"]) == 0 and tier["up_to"]]
    return f"{float(free[0]) / 1e6:,.0f} M" if free else "none"


def _lambda_cost(
    model: CostModel, invocations: float, cpu_seconds: float, calls: float, memory_mb: float
) -> float:
    """Requests plus GB-seconds, the duration modelled from measured CPU time and AWS calls
    (`cli.capacity.lambda_sizing`)."""
    seconds = gb_seconds(cpu_seconds, calls, memory_mb, per_call_seconds(model))
    return invocations * (model.price("lambda_request") + seconds * model.price("lambda_gb_second"))


def per_call_seconds(model: CostModel) -> float:
    return model.assumption("lambda_milliseconds_per_aws_call") / 1000


def lambda_footprints(model: CostModel) -> Mapping[str, Any]:
    """The functions' measured CPU time, peak RSS and template memory (`measured_counts.json`,
    under `lambda`)."""
    footprints = model.measured.get("lambda")
    if not footprints:
        raise MeasuredCountsError(
            "the measured counts have no `lambda` section: run `python -m bench --only cost`"
        )
    return cast(Mapping[str, Any], footprints)


def ingest_cpu_seconds(model: CostModel, records: float) -> float:
    """Ingest's own CPU time for one invocation of `records` records (warm)."""
    by_batch = lambda_footprints(model)["ingest"]["by_batch"]
    return (
        linear_in_records(
            {size: figures["cpu_ms_per_invocation"] for size, figures in by_batch.items()}, records
        )
        / 1000
    )


def _sample_extractor_cpu_seconds(model: CostModel, metrics: int) -> float:
    by_metrics = lambda_footprints(model)["sample_extractor"]["by_metrics"]
    return (
        linear_in_records(
            {size: figures["cpu_ms_per_invocation"] for size, figures in by_metrics.items()},
            metrics,
        )
        / 1000
    )


def monthly_costs(
    model: CostModel, *, spokes: int, metrics: int, period_seconds: int
) -> MonthlyCost:
    counts = counts_at(model.measured, metrics)
    ours, sample = counts["dsdash"], counts["sample"]
    batches = sorted(int(size) for size in model.measured["batch_sizes"])
    extractions = spokes * SECONDS_PER_MONTH / period_seconds
    retained = model.assumption("retention_days") * 86400 / period_seconds
    events = float(ours["events"])
    batch = records_per_invocation(
        model, spokes=spokes, events_per_extraction=events, period_seconds=period_seconds
    )
    invocations = extractions * events / batch

    def per_event(name: str) -> float:
        return _per_batch(ours, batches, name, batch) / batch

    lines: list[CostLine] = []

    def add(name: str, dsdash: float, sample_cost: float, basis: str) -> None:
        lines.append(CostLine(name, dsdash, sample_cost, basis))

    others = model.assumption("scheduler_other_invocations_per_month")
    add(
        "Schedule (EventBridge Scheduler)",
        model.cost("scheduler_invocation", extractions, already_used=others),
        0.0,
        f"{extractions:,.0f} invocations; the free tier ({_free_tier(model, 'scheduler_invocation')}"
        f" a month) is per payer, shared with the org's other schedules ({others:,.0f} assumed); "
        "the sample's scheduled rule is free",
    )
    ours_spoke_calls = float(ours["spoke_listing_calls"]) + float(ours["spoke_put_events_calls"])
    sample_spoke_calls = float(sample["spoke_listing_calls"]) + float(
        sample["spoke_put_events_calls"]
    )
    footprints = lambda_footprints(model)
    extractor = footprints["extractor"]
    sample_memory = model.assumption("sample_function_memory_mb")
    add(
        "Spoke extractor (Lambda)",
        _lambda_cost(
            model,
            extractions,
            float(extractor["cpu_ms_per_invocation"]) / 1000,
            ours_spoke_calls,
            float(extractor["memory_mb"]),
        ),
        _lambda_cost(
            model,
            extractions,
            _sample_extractor_cpu_seconds(model, metrics),
            sample_spoke_calls,
            sample_memory,
        ),
        f"{float(extractor['memory_mb']):,.0f} MB (template) vs {sample_memory:,.0f} MB; CPU "
        f"{float(extractor['cpu_ms_per_invocation']):,.0f} ms vs "
        f"{1000 * _sample_extractor_cpu_seconds(model, metrics):,.0f} ms (measured); AWS calls "
        f"{ours_spoke_calls:,.0f} (shared listings) vs {sample_spoke_calls:,.0f}",
    )
    ours_units = float(ours["event_billing_units"])
    sample_units = float(sample["event_billing_units"])
    for name, price in (
        ("Events on the spoke bus (EventBridge)", "eventbridge_custom_event"),
        ("Events delivered to the hub (cross-account)", "eventbridge_cross_account_event"),
    ):
        add(
            name,
            extractions * ours_units * model.price(price),
            extractions * sample_units * model.price(price),
            f"64 KB units per extraction: {ours_units:,.1f} vs {sample_units:,.1f}",
        )
    add(
        "Hub queue (SQS)",
        extractions * events * (1 + 2 / batch) * model.price("sqs_request"),
        0.0,
        f"send, and receive + delete per batch of {batch:,.1f} records; the sample has no queue",
    )
    ingest_calls = _per_batch(ours, batches, "aws_calls", batch)
    sample_calls = float(sample["hub_aws_calls"]) / max(1.0, float(sample["hub_invocations"]))
    ingest_memory = float(footprints["ingest"]["memory_mb"])
    sample_hub_cpu = float(footprints["sample_hub"]["cpu_ms_per_invocation"]) / 1000
    add(
        "Hub ingest (Lambda)",
        _lambda_cost(
            model, invocations, ingest_cpu_seconds(model, batch), ingest_calls, ingest_memory
        ),
        _lambda_cost(
            model,
            extractions * float(sample["hub_invocations"]),
            sample_hub_cpu,
            sample_calls,
            sample_memory,
        ),
        f"invocations: {invocations:,.0f} ({ingest_calls:,.1f} AWS calls, "
        f"{1000 * ingest_cpu_seconds(model, batch):,.0f} ms CPU each, {ingest_memory:,.0f} MB) vs "
        f"{extractions * float(sample['hub_invocations']):,.0f} ({1000 * sample_hub_cpu:,.0f} ms)",
    )
    write_units = per_event("dynamodb_write_units") * events
    add(
        "DynamoDB writes",
        extractions * write_units * model.price("dynamodb_write_request_unit"),
        extractions
        * float(sample["dynamodb_write_units"])
        * model.price("dynamodb_write_request_unit"),
        f"write units per extraction: {write_units:,.1f} vs "
        f"{float(sample['dynamodb_write_units']):,.1f}",
    )
    read_units = per_event("dynamodb_read_units") * events
    add(
        "DynamoDB reads (ingest)",
        extractions * read_units * model.price("dynamodb_read_request_unit"),
        0.0,
        f"read units per extraction: {read_units:,.2f}",
    )
    ours_table = spokes * (
        float(ours["table_bytes_per_spoke"])
        + float(ours["table_bytes_added_per_extraction"]) * retained
    )
    sample_table = spokes * float(sample["table_bytes_added_per_extraction"]) * retained
    add(
        "DynamoDB storage",
        ours_table / GIB * model.price("dynamodb_storage_gb_month"),
        sample_table / GIB * model.price("dynamodb_storage_gb_month"),
        f"{ours_table / GIB:,.2f} GiB vs {sample_table / GIB:,.2f} GiB at "
        f"{model.assumption('retention_days'):,.0f} days",
    )
    firehose_bytes = per_event("firehose_billed_bytes") * events
    history_in_s3 = firehose_bytes > 0 or per_event("s3_put_calls") > 0
    add(
        "History delivery (Firehose, Parquet conversion)",
        extractions
        * firehose_bytes
        / GIB
        * (model.price("firehose_ingested_gb") + model.price("firehose_format_conversion_gb")),
        0.0,
        f"{firehose_bytes:,.0f} billed bytes (5 KB records) per extraction",
    )
    parquet_bytes = float(ours["parquet_bytes_per_datapoint"])
    month_bytes = extractions * metrics * parquet_bytes if history_in_s3 else 0.0
    objects = (
        max(
            SECONDS_PER_MONTH / model.assumption("firehose_buffer_seconds"),
            month_bytes / (model.assumption("firehose_buffer_megabytes") * MIB),
        )
        if history_in_s3
        else 0.0
    )
    stored = spokes * metrics * retained * parquet_bytes if history_in_s3 else 0.0
    add(
        "History objects and storage (S3)",
        objects * model.price("s3_put_request") + stored / GIB * model.price("s3_storage_gb_month"),
        0.0,
        f"{objects:,.0f} objects/month, {stored / GIB:,.2f} GiB of Parquet "
        f"({parquet_bytes:,.1f} B per datapoint)",
    )
    window_extractions = model.assumption("dashboard_days") * 86400 / period_seconds
    scanned = (
        spokes
        * metrics
        * window_extractions
        * parquet_bytes
        * model.assumption("athena_columns_read_fraction")
    )
    builds = model.assumption("dashboard_builds_per_month")
    add(
        "Dashboard and query reads (Athena)",
        builds
        * max(ATHENA_MINIMUM_SCAN_BYTES, scanned)
        / 1024**4
        * model.price("athena_scanned_tb")
        if history_in_s3
        else 0.0,
        0.0,
        f"{builds:,.0f} aggregate queries over {model.assumption('dashboard_days'):,.0f} days, "
        f"{scanned / MIB:,.1f} MiB scanned each",
    )
    return MonthlyCost(spokes, metrics, period_seconds, batch, tuple(lines))
