"""Renders `DashboardData` as one self-contained HTML file.

Everything the page needs is inside it: uPlot (vendored in `dashboard/assets/`, see its README),
the page's own script and styles, and the data as a JSON block. A Content-Security-Policy with
`default-src 'none'` and script hashes means the page cannot fetch anything and runs only the two
scripts written here, even if a string from the data were to slip past escaping.

Where untrusted strings go (project names, reasons, error messages all come from spoke accounts):
- into HTML written here, always through `html.escape`;
- into the JSON block, with `<`, `>` and `&` written as `\\u003c`, `\\u003e` and `\\u0026`, so no
  `</script>` can end the block early;
- into the page by the script, only through `textContent` and DOM properties, never `innerHTML`.

Size: history is averaged onto one time grid per chart (see `dashboard.downsample`) within a
whole-page budget of `MAX_TOTAL_CHART_POINTS`, so 1,000 spokes x 15 metrics x 90 days of hourly
history stay a few megabytes. The page script keeps the tables light as well: it attaches one
page of rows at a time (filter and sort see every row) and builds a group's per-account rows only
when the group is expanded.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from importlib import resources
from typing import Any, Final

from dashboard.kpi import KpiCard, kpi_cards
from dashboard.kpi_payload import (
    MAX_TOTAL_CHART_POINTS,
    MAX_TOTAL_SPOKE_POINTS,
    page_payload,
    spoke_is_marked_stale,
)
from dashboard.model import DashboardData

# Re-exported: the budgets are part of what this renderer promises (tests and bench read them).
__all__ = [
    "MAX_TOTAL_CHART_POINTS",
    "MAX_TOTAL_SPOKE_POINTS",
    "DashboardRenderError",
    "KeyFigures",
    "key_figures",
    "render_dashboard",
    "spoke_is_marked_stale",
]

ASSET_NAMES: Final = ("uPlot.iife.min.js", "uPlot.min.css", "dashboard.js", "dashboard.css")


class DashboardRenderError(RuntimeError):
    """A vendored asset is missing or cannot be embedded safely."""


@dataclass(frozen=True)
class KeyFigures:
    projects: int
    spokes_registered: int
    spokes_enrolled: int
    spokes_pending: int
    spokes_failed: int
    stale_spokes: int
    metrics_reporting: int
    series_reporting: int
    quarantined_events: int


def key_figures(data: DashboardData) -> KeyFigures:
    """The KPI cards' numbers. Offboarded spokes count nowhere: they are not expected to report."""
    active = [spoke for spoke in data.spokes if spoke.state != "offboarded"]
    projects = {spoke.project for spoke in active} | {v.project for v in data.latest_values}
    series = {(v.project, v.environment, v.metric, v.dimensions) for v in data.latest_values}
    return KeyFigures(
        projects=len(projects),
        spokes_registered=len(active),
        spokes_enrolled=sum(spoke.state == "enrolled" for spoke in active),
        spokes_pending=sum(spoke.state == "pending" for spoke in active),
        spokes_failed=sum(spoke.state == "failed" for spoke in active),
        stale_spokes=sum(spoke_is_marked_stale(spoke) for spoke in active),
        metrics_reporting=len({v.metric for v in data.latest_values}),
        series_reporting=len(series),
        quarantined_events=data.quarantine_count,
    )


def render_dashboard(data: DashboardData) -> str:
    """The whole page as one HTML string (UTF-8 when written)."""
    assets = {name: _asset_text(name) for name in ASSET_NAMES}
    for name, text in assets.items():
        closing_tag = "</script" if name.endswith(".js") else "</style"
        if closing_tag in text.lower():
            raise DashboardRenderError(f"asset {name} contains {closing_tag!r}: cannot be inlined")
    payload = _json_for_script(page_payload(data))
    scripts = (assets["uPlot.iife.min.js"], assets["dashboard.js"])
    csp = "; ".join(
        (
            "default-src 'none'",
            "script-src " + " ".join(f"'{_sha256_source(script)}'" for script in scripts),
            "style-src 'unsafe-inline'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )
    figures = key_figures(data)
    generated = data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    has_values = bool(data.latest_values)
    body_sections = (
        _filters_section() + _latest_section() + _charts_section(data)
        if has_values
        else _empty_state(data, figures)
    )
    spokes_section = _spokes_section() if data.spokes else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">
<meta name="color-scheme" content="light">
<title>dsdash: data-science KPIs ({html.escape(generated)})</title>
<style>{assets["uPlot.min.css"]}</style>
<style>{assets["dashboard.css"]}</style>
</head>
<body data-state="{"populated" if has_values else "empty"}">
<a class="skip-link" href="#main">Skip to content</a>
<header class="page-header">
<h1>Data-science KPIs</h1>
<p class="generated">Generated <time datetime="{html.escape(data.generated_at.astimezone(UTC).isoformat())}">{html.escape(generated)}</time>
from the dsdash hub. Spokes refresh every {html.escape(_duration(data.refresh_period_seconds))};
a spoke is stale after two refresh periods without data.</p>
</header>
<main id="main">
{_kpi_section(kpi_cards(data), figures)}
<noscript><p class="notice">The table, charts and spoke list need JavaScript; the numbers above
do not.</p></noscript>
{body_sections}
{spokes_section}
</main>
<script type="application/json" id="dashboard-data">{payload}</script>
<script>{scripts[0]}</script>
<script>{scripts[1]}</script>
</body>
</html>
"""


def _asset_text(name: str) -> str:
    try:
        return resources.files("dashboard").joinpath("assets", name).read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise DashboardRenderError(f"dashboard asset {name} is missing from the package") from error


def _sha256_source(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _json_for_script(document: Any) -> str:
    """JSON that is safe inside a <script> element: nothing in it can close the element."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _duration(seconds: int) -> str:
    for unit_seconds, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % unit_seconds == 0:
            count = seconds // unit_seconds
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _kpi_section(cards: Sequence[KpiCard], figures: KeyFigures) -> str:
    science = "\n".join(_science_card(card) for card in cards) or (
        '<li class="kpi"><span class="kpi-label">No data-science metric yet</span>'
        '<span class="kpi-detail">the cards appear with the first training or endpoint values'
        "</span></li>"
    )
    return f"""<section aria-labelledby="kpi-heading">
<h2 id="kpi-heading">Data science, all projects</h2>
<ul class="kpis" id="science-kpis">
{science}
</ul>
</section>
{_health_section(figures)}"""


def _format_card_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:,.2f}"
    if abs(value) < 1 and not value.is_integer():
        text = f"{value:.3f}"
    return text + ("%" if unit == "Percent" else "")


def _science_card(card: KpiCard) -> str:
    change = card.change
    if change is None:
        change_text, direction = "no value 24 h earlier to compare", "none"
    else:
        if change == 0:
            direction = "flat"
        elif card.rise_is_good is None:
            direction = "up" if change > 0 else "down"
        else:
            direction = "better" if (change > 0) == card.rise_is_good else "worse"
        sign = "+" if change > 0 else "\u2212" if change < 0 else "\u00b1"
        change_text = (
            f"{sign}{_format_card_value(abs(change), card.unit)} vs 24 h earlier"
            f" ({_format_card_value(card.previous, card.unit)})"
        )
    classes = "kpi kpi-science" + (" kpi-alert" if card.alert else "")
    return (
        f'<li class="{classes}" data-kpi="{html.escape(card.key)}">'
        f'<span class="kpi-label">{html.escape(card.label)}</span>'
        f'<span class="kpi-value">{html.escape(_format_card_value(card.value, card.unit))}</span>'
        f'<span class="kpi-change" data-direction="{direction}">{html.escape(change_text)}</span>'
        f'<span class="kpi-detail">{html.escape(card.detail)}</span></li>'
    )


def _health_section(figures: KeyFigures) -> str:
    spokes_detail = f"of {figures.spokes_registered} registered"
    if figures.spokes_pending or figures.spokes_failed:
        spokes_detail += f"; {figures.spokes_pending} pending, {figures.spokes_failed} failed"
    cards = (
        ("projects", "Projects", figures.projects, "with a spoke or a value", False),
        ("spokes-enrolled", "Spokes enrolled", figures.spokes_enrolled, spokes_detail, False),
        (
            "stale-spokes",
            "Stale spokes",
            figures.stale_spokes,
            "no data for two refresh periods",
            figures.stale_spokes > 0,
        ),
        (
            "metrics-reporting",
            "Metrics reporting",
            figures.metrics_reporting,
            f"in {figures.series_reporting} series",
            False,
        ),
        (
            "quarantined-events",
            "Quarantined events",
            figures.quarantined_events,
            "refused by the hub (dsdash quarantine list)",
            figures.quarantined_events > 0,
        ),
    )
    items = "\n".join(
        f'<li class="kpi kpi-health{" kpi-alert" if alert else ""}" data-kpi="{key}">'
        f'<span class="kpi-label">{html.escape(label)}</span>'
        f'<span class="kpi-value">{value:,}</span>'
        f'<span class="kpi-detail">{html.escape(detail)}</span></li>'
        for key, label, value, detail, alert in cards
    )
    return f"""<section aria-labelledby="health-heading">
<h2 id="health-heading">Platform health</h2>
<ul class="kpis kpis-health">
{items}
</ul>
</section>"""


def _filters_section() -> str:
    selects = "\n".join(
        f'<label for="filter-{key}">{label}</label>'
        f'<select id="filter-{key}" data-filter="{key}"><option value="">All</option></select>'
        for key, label in (
            ("project", "Project"),
            ("environment", "Environment"),
            ("account", "Account"),
            ("region", "Region"),
        )
    )
    return f"""<section aria-labelledby="filters-heading" id="filters">
<h2 id="filters-heading">Filters</h2>
<p class="hint">They apply to the table, the charts and the spoke list. The view (filters, time
range, drill-down) is kept in the address after <code>#</code>: copy the link to share it.
With an account or region chosen, charts show that spoke's own lines.</p>
<div class="toolbar filters">
{selects}
<button type="button" id="filter-reset">Clear filters</button>
</div>
</section>"""


def _empty_state(data: DashboardData, figures: KeyFigures) -> str:
    if data.spokes:
        situation = (
            f"{figures.spokes_registered} spoke{'s are' if figures.spokes_registered != 1 else ' is'}"
            f" registered ({figures.spokes_enrolled} enrolled, {figures.spokes_pending} pending, "
            f"{figures.spokes_failed} failed), but none has sent a metric to the hub."
        )
    else:
        situation = "the hub has no enrolled spoke account and holds no metric value."
    return f"""<section class="empty-state" id="empty-state" aria-labelledby="empty-heading">
<h2 id="empty-heading">Nothing to chart yet</h2>
<p><strong>No spokes have reported yet:</strong> {html.escape(situation)}</p>
<ol>
<li>Enroll accounts: tag an organizational unit with the project and environment tag keys of
<code>config/projects.yaml</code> (<code>organization.tag_keys</code>, by default
<code>dsdash:project</code> and <code>dsdash:environment</code>), or enroll one account by hand with
<code>dsdash enroll --account ACCOUNT --project PROJECT --environment ENV</code>.</li>
<li>Check that each spoke is enrolled with <code>dsdash status</code>; a failed enrollment shows its
reason there.</li>
<li>Ask every spoke for fresh values with <code>dsdash refresh --wait</code> (or wait for the
refresh schedule), then render this page again with <code>dsdash dashboard</code>.</li>
</ol>
</section>"""


def _latest_section() -> str:
    columns = (
        ("project", "Project", "text"),
        ("environment", "Environment", "text"),
        ("metric", "Metric", "text"),
        ("regions", "Region", "text"),
        ("value", "Value", "number"),
        ("unit", "Unit", "text"),
        ("accounts", "Accounts", "number"),
        ("extracted", "Last extraction", "number"),
    )
    headers = "".join(
        f'<th scope="col" aria-sort="none" data-sort-key="{key}" data-sort-type="{kind}">'
        f'<button type="button" class="sort">{label}</button></th>'
        for key, label, kind in columns
    )
    return f"""<section aria-labelledby="latest-heading" id="latest">
<h2 id="latest-heading">Latest values</h2>
<p class="hint">One row per project, environment and metric; values of several accounts are summed
for counts and durations and averaged for percentages and scores. Expand a row for its accounts;
click a column to sort. Long tables show a page at a time; the filter searches every row. The CSV
holds every row the filters keep, as the table shows them.</p>
<div class="toolbar">
<label for="latest-filter">Filter</label>
<input id="latest-filter" type="search" autocomplete="off" spellcheck="false"
 placeholder="project, environment or metric" aria-describedby="latest-count">
<button type="button" id="latest-csv">Download CSV</button>
<span id="latest-count" class="count" role="status" aria-live="polite"></span>
</div>
<div class="table-scroll">
<table id="latest-table" class="data-table">
<caption class="visually-hidden">Latest value of every metric by project and environment</caption>
<thead><tr><th scope="col"><span class="visually-hidden">Expand</span></th>{headers}</tr></thead>
</table>
</div>
{_pager("latest", "Pages of latest values")}
</section>"""


def _charts_section(data: DashboardData) -> str:
    period = f"the last {data.history_days} days" if data.history_days else "the stored history"
    return f"""<section aria-labelledby="charts-heading" id="history">
<h2 id="charts-heading">History</h2>
<p class="hint">One chart per metric over {html.escape(period)}, one line per project and
environment (dashed: not prod). Accounts of an environment are combined as in the table; points
are averaged into buckets to keep the page small. Click a legend entry to hide a line.</p>
<p class="hint">Click a line (or its button under the chart) for that project environment's
per-account chart.</p>
<div class="toolbar">
<label for="chart-range">Time range</label>
<select id="chart-range"></select>
<span id="chart-note" class="count" role="status" aria-live="polite"></span>
</div>
<section id="drilldown" class="drilldown" aria-labelledby="drilldown-heading" hidden>
<h3 id="drilldown-heading">Per account</h3>
<div id="drilldown-plot" class="chart-plot"></div>
<button type="button" id="drilldown-close">Close the per-account chart</button>
</section>
<div id="charts" class="charts" data-ready="false"></div>
</section>"""


def _spokes_section() -> str:
    return f"""<section aria-labelledby="spokes-heading" id="spokes">
<h2 id="spokes-heading">Spokes: freshness and enrollment</h2>
<div class="toolbar">
<label for="spoke-filter">Filter</label>
<input id="spoke-filter" type="search" autocomplete="off" spellcheck="false"
 placeholder="account, project, environment or state">
<label class="checkbox"><input id="spoke-problems-only" type="checkbox"> Only stale, failed or
failing spokes</label>
<span id="spoke-count" class="count" role="status" aria-live="polite"></span>
</div>
<div class="table-scroll">
<table id="spoke-table" class="data-table">
<caption class="visually-hidden">Every spoke account with its enrollment and freshness</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Project</th><th scope="col">Environment</th>
<th scope="col">Regions</th>
<th scope="col">Enrollment</th><th scope="col">Last seen</th><th scope="col">Freshness</th>
<th scope="col">Failed metrics in last extraction</th></tr></thead>
<tbody id="spoke-rows"></tbody>
</table>
</div>
{_pager("spoke", "Pages of spokes")}
</section>"""


def _pager(id_prefix: str, label: str) -> str:
    """Previous and next page buttons under a table; the script shows them when it has pages."""
    return f"""<nav class="pager toolbar" id="{id_prefix}-pager" aria-label="{label}" hidden>
<button type="button" id="{id_prefix}-previous">Previous page</button>
<span id="{id_prefix}-page" class="count"></span>
<button type="button" id="{id_prefix}-next">Next page</button>
</nav>"""
