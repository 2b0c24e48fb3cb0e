"""Every AWS quota N spokes would hit, and the number to request (`dsdash plan`).

Figures come from the code that uses the resource where it can: the bus policy is built with the
enrollment's own statement builders and measured as EventBridge stores it; events per extraction
and write units per event come from the measured counts. Quota defaults live in `prices.json`
under `quotas`, with their source.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import contracts
from cli.capacity.cost_model import (
    CostModel,
    ingest_cpu_seconds,
    lambda_footprints,
    per_call_seconds,
    records_per_invocation,
    spread_seconds,
)
from cli.capacity.lambda_sizing import duration_seconds
from cli.capacity.measured import counts_at
from enrollment.connection.runtime.bus_policy import (
    EventBus,
    account_statement,
    organization_statement,
)

# Rules the hub bus holds whatever the number of spokes: metrics → ingest queue, and with
# `hub.accept_sample_spokes` one more on the default bus (not this bus).
HUB_BUS_FIXED_RULES: Final = 1
_EXAMPLE_BUS: Final = EventBus(
    name=contracts.HUB_BUS_NAME,
    arn=f"arn:aws:events:us-east-1:123456789012:event-bus/{contracts.HUB_BUS_NAME}",
    partition="aws",
    region="us-east-1",
    account_id="123456789012",
    policy=None,
)


@dataclass(frozen=True)
class QuotaLine:
    name: str
    needed: float
    default: float
    request: float | None  # None: the default suffices, or it cannot be raised
    note: str
    adjustable: bool = True

    @property
    def exceeded(self) -> bool:
        return self.needed > self.default

    def verdict(self) -> str:
        if not self.exceeded:
            return "within the default"
        if self.request is not None:
            return f"request {self.request:,.0f}"
        return "hard limit: change the design"


def _request(needed: float, default: float, *, headroom: float = 1.2) -> float | None:
    """What to ask for: the need plus 20 % headroom, rounded up; None when the default holds."""
    if needed <= default:
        return None
    return float(math.ceil(needed * headroom))


def bus_policy_chars(accounts: int) -> int:
    """Characters of the hub bus policy with one statement per account (per-account mode)."""
    statements = [
        account_statement(_EXAMPLE_BUS, f"{100000000000 + index:012d}") for index in range(accounts)
    ]
    return len(json.dumps({"Version": "2012-10-17", "Statement": statements}))


def organization_policy_chars() -> int:
    statement = organization_statement(_EXAMPLE_BUS, "o-exampleorgid")
    return len(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def quota_lines(
    model: CostModel,
    *,
    spokes: int,
    metrics: int,
    period_seconds: int,
    rules_per_bus_quota: int = contracts.DEFAULT_RULES_PER_BUS_QUOTA,
) -> list[QuotaLine]:
    quotas: Mapping[str, Any] = model.prices["quotas"]
    counts = counts_at(model.measured, metrics)["dsdash"]
    events = float(counts["events"])
    batches = sorted(int(size) for size in model.measured["batch_sizes"])
    lines: list[QuotaLine] = []

    fanout_rules = math.ceil(spokes / contracts.MAX_TARGETS_PER_RULE) + HUB_BUS_FIXED_RULES
    lines.append(
        QuotaLine(
            "EventBridge rules per bus (hub, per-account mode)",
            fanout_rules,
            rules_per_bus_quota,
            _request(fanout_rules, rules_per_bus_quota),
            f"{contracts.MAX_TARGETS_PER_RULE} spoke buses per fan-out rule; organization mode "
            f"keeps {HUB_BUS_FIXED_RULES} rule whatever N (refresh goes through the SNS topic)",
        )
    )
    policy = bus_policy_chars(spokes)
    policy_limit = float(quotas["bus_policy_chars"]["default"])
    # Each account adds one statement of the same length: the policy grows linearly.
    one, per_statement = bus_policy_chars(1), bus_policy_chars(2) - bus_policy_chars(1)
    per_account_fits = max(0, 1 + math.floor((policy_limit - one) / per_statement))
    lines.append(
        QuotaLine(
            "Hub bus policy size (characters, per-account mode)",
            policy,
            policy_limit,
            None,
            (
                f"cannot be raised: per-account statements fit {per_account_fits} spokes; use "
                f"organization mode ({organization_policy_chars()} characters whatever N)"
                if policy > policy_limit
                else f"fits; organization mode needs {organization_policy_chars()} characters"
            ),
            adjustable=False,
        )
    )
    burst = model.assumption("refresh_burst_seconds")
    peak_events = spokes * events / burst
    put_events_default = float(quotas["put_events_per_second"]["default"])
    lines.append(
        QuotaLine(
            "Events per second on the hub bus (PutEvents rate)",
            peak_events,
            put_events_default,
            _request(peak_events, put_events_default),
            f"`dsdash refresh` reaches every spoke within ~{burst:.0f} s; scheduled extractions "
            f"spread over {spread_seconds(model, period_seconds):,.0f} s "
            f"({spokes * events / spread_seconds(model, period_seconds):,.1f}/s)",
        )
    )
    batch = records_per_invocation(
        model, spokes=spokes, events_per_extraction=events, period_seconds=period_seconds
    )
    small, large = batches[0], batches[-1]
    calls_small = float(counts[f"ingest_batch_{small}"]["aws_calls"])
    calls_large = float(counts[f"ingest_batch_{large}"]["aws_calls"])
    per_record = (calls_large - calls_small) / (large - small) if large != small else calls_small
    burst_batch = min(
        model.assumption("ingest_max_batch_records"),
        max(1.0, peak_events * model.assumption("ingest_batching_window_seconds")),
    )
    calls = calls_small + per_record * (burst_batch - small)
    memory = float(lambda_footprints(model)["ingest"]["memory_mb"])
    duration = duration_seconds(
        ingest_cpu_seconds(model, burst_batch), calls, memory, per_call_seconds(model)
    )
    concurrency = math.ceil(peak_events / burst_batch * duration)
    lambda_default = float(quotas["lambda_concurrent_executions"]["default"])
    lines.append(
        QuotaLine(
            "Lambda concurrent executions (hub account, ingest)",
            concurrency,
            lambda_default,
            _request(concurrency, lambda_default),
            f"at a refresh burst: batches of {burst_batch:,.0f} records, ~{duration:,.2f} s each at "
            f"{memory:,.0f} MB "
            f"(scheduled: batches of {batch:,.1f}); each extractor runs in its own spoke account",
        )
    )
    write_units = float(counts[f"ingest_batch_{small}"]["dynamodb_write_units"]) / small
    # The busiest partition key's units for one event, and for `large` events of spokes of ONE
    # project: their ratio is how many of those spokes' events land on that key.
    one_event_key = float(counts[f"ingest_batch_{small}"]["dynamodb_busiest_key_write_units"])
    batch_key = float(counts[f"ingest_batch_{large}"]["dynamodb_busiest_key_write_units"])
    sharing = batch_key / one_event_key if one_event_key else 0.0
    partition_default = float(quotas["dynamodb_partition_write_units_per_second"]["default"])
    table_default = float(quotas["dynamodb_table_write_units_per_second"]["default"])
    if sharing <= 1.0:
        partition_need = one_event_key
        partition_note = (
            f"measured: no partition key is shared by two spokes of a project (busiest key "
            f"{one_event_key:,.0f} units per event, written once per spoke extraction)"
        )
    else:
        share = sharing / large
        partition_need = peak_events * one_event_key * share
        partition_note = (
            f"measured: {sharing:,.1f} of {large} spokes of one project write the busiest key "
            f"({one_event_key:,.0f} units each); with all {spokes:,} spokes in one project a "
            "refresh burst puts this on one partition, a hard limit: shard the key"
        )
    lines.append(
        QuotaLine(
            "DynamoDB write units per second, one partition",
            partition_need,
            partition_default,
            None,
            partition_note,
            adjustable=False,
        )
    )
    table_peak = peak_events * write_units
    lines.append(
        QuotaLine(
            "DynamoDB write units per second, table (on-demand)",
            table_peak,
            table_default,
            _request(table_peak, table_default),
            "at a refresh burst",
        )
    )
    athena_default = float(quotas["athena_active_dml_queries"]["default"])
    lines.append(
        QuotaLine(
            "Athena active DML queries",
            1,
            athena_default,
            None,
            "one aggregate query per dashboard build or `dsdash query`, whatever N; request more "
            f"only for more than {athena_default:.0f} simultaneous readers",
        )
    )
    return lines
