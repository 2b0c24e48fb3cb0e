"""`dsdash plan`'s text: every quota line, then the cost lines with both designs side by side."""

from __future__ import annotations

from collections.abc import Sequence

from cli.capacity.cost_model import MonthlyCost
from cli.capacity.quotas import QuotaLine


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.2f}"


def render_plan(
    quotas: Sequence[QuotaLine], cost: MonthlyCost, *, schedule: str, prices_note: str
) -> str:
    lines = [
        f"dsdash plan: {cost.spokes:,} spokes x {cost.metrics} metrics, refresh {schedule}",
        "",
        "Quotas",
    ]
    width = max(len(line.name) for line in quotas)
    for line in quotas:
        lines.append(
            f"  {line.name:<{width}}  needs {_number(line.needed):>10}  default "
            f"{_number(line.default):>8}  {line.verdict()}"
        )
        lines.append(f"  {'':<{width}}  {line.note}")
    lines += ["", "Cost per month (USD)"]
    width = max(len(line.name) for line in cost.lines)
    lines.append(f"  {'':<{width}}  {'dsdash':>10}  {'sample':>10}")
    for cost_line in cost.lines:
        lines.append(
            f"  {cost_line.name:<{width}}  {cost_line.dsdash:>10,.2f}  {cost_line.sample:>10,.2f}"
            f"  {cost_line.basis}"
        )
    lines.append(f"  {'Total':<{width}}  {cost.dsdash_total:>10,.2f}  {cost.sample_total:>10,.2f}")
    ratio = cost.ratio
    lines.append(
        f"  dsdash / sample: {ratio:,.3f}" if ratio is not None else "  dsdash / sample: -"
    )
    lines += [
        "",
        "The sample's design: one event, one hub Lambda invocation and one DynamoDB item per "
        "metric; one unpaginated listing per metric.",
        f"Ingest batches: {cost.records_per_invocation:,.1f} records per invocation (records "
        "arriving within the batching window).",
        prices_note,
    ]
    return "\n".join(lines) + "\n"
