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
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Final

from dashboard.downsample import TimeGrid, points_per_series, resample_mean
from dashboard.model import (
    DashboardData,
    HistorySeries,
    LatestValue,
    SpokeStatus,
    is_additive,
    series_label,
)

# 300,000 numbers are about 2 MB of JSON: 15 charts x 200 lines then get a point a day over 90
# days, and the whole page stays well under 5 MB, small enough to mail.
MAX_TOTAL_CHART_POINTS: Final = 300_000
MAX_POINTS_PER_SERIES: Final = 500
# Significant digits kept for chart values: more than a chart's pixels can show.
CHART_SIGNIFICANT_DIGITS: Final = 6

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


def spoke_is_marked_stale(spoke: SpokeStatus) -> bool:
    return spoke.stale and spoke.state != "offboarded"


def render_dashboard(data: DashboardData) -> str:
    """The whole page as one HTML string (UTF-8 when written)."""
    assets = {name: _asset_text(name) for name in ASSET_NAMES}
    for name, text in assets.items():
        closing_tag = "</script" if name.endswith(".js") else "</style"
        if closing_tag in text.lower():
            raise DashboardRenderError(f"asset {name} contains {closing_tag!r}: cannot be inlined")
    payload = _json_for_script(_payload(data))
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
        _latest_section() + _charts_section(data) if has_values else _empty_state(data, figures)
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
{_kpi_section(figures)}
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


def _kpi_section(figures: KeyFigures) -> str:
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
        f'<li class="kpi{" kpi-alert" if alert else ""}" data-kpi="{key}">'
        f'<span class="kpi-label">{html.escape(label)}</span>'
        f'<span class="kpi-value">{value:,}</span>'
        f'<span class="kpi-detail">{html.escape(detail)}</span></li>'
        for key, label, value, detail, alert in cards
    )
    return f"""<section aria-labelledby="kpi-heading">
<h2 id="kpi-heading" class="visually-hidden">Key figures</h2>
<ul class="kpis">
{items}
</ul>
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
click a column to sort. Long tables show a page at a time; the filter searches every row.</p>
<div class="toolbar">
<label for="latest-filter">Filter</label>
<input id="latest-filter" type="search" autocomplete="off" spellcheck="false"
 placeholder="project, environment or metric" aria-describedby="latest-count">
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
<div class="toolbar">
<label for="chart-project">Projects</label>
<select id="chart-project"></select>
<span id="chart-note" class="count" role="status" aria-live="polite"></span>
</div>
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


# --- The JSON the page script reads ------------------------------------------------------------


def _payload(data: DashboardData) -> dict[str, Any]:
    return {
        "generatedAt": _epoch(data.generated_at),
        "refreshPeriodSeconds": data.refresh_period_seconds,
        "groups": _latest_groups(data.latest_values),
        "charts": _charts(data.history),
        "spokes": [_spoke_entry(spoke) for spoke in _spokes_in_display_order(data.spokes)],
    }


def _dimension_text(dimensions: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name}={value}" for name, value in dimensions)


def _latest_groups(values: Sequence[LatestValue]) -> list[dict[str, Any]]:
    """One entry per project, environment, metric and dimensions, with its accounts' rows."""
    grouped: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[LatestValue]]
    grouped = defaultdict(list)
    for value in values:
        grouped[(value.project, value.environment, value.metric, value.dimensions)].append(value)
    groups = []
    for (project, environment, metric, dimensions), members in sorted(grouped.items()):
        unit = members[0].unit
        additive = is_additive(unit)
        total = math.fsum(member.value for member in members)
        groups.append(
            {
                "project": project,
                "environment": environment,
                "metric": metric,
                "dimensions": _dimension_text(dimensions),
                "unit": unit,
                "value": _finite_or_none(total if additive else total / len(members)),
                "combined": "sum" if additive else "mean",
                "extracted": _epoch(max(member.extraction_date for member in members)),
                # [account, value, extraction epoch]: arrays, not objects, as there are many.
                "accounts": [
                    [
                        member.account_id,
                        _finite_or_none(member.value),
                        _epoch(member.extraction_date),
                    ]
                    for member in sorted(members, key=lambda member: member.account_id)
                ],
            }
        )
    return groups


def _charts(history: Sequence[HistorySeries]) -> list[dict[str, Any]]:
    by_metric: dict[str, list[HistorySeries]] = defaultdict(list)
    for series in history:
        if series.points:
            by_metric[series.metric].append(series)
    budget = points_per_series(
        [len(lines) for lines in by_metric.values()],
        max_points_per_series=MAX_POINTS_PER_SERIES,
        max_total_points=MAX_TOTAL_CHART_POINTS,
    )
    charts = []
    for metric in sorted(by_metric):
        lines = sorted(
            by_metric[metric],
            key=lambda s: (s.project, _environment_rank(s.environment), s.dimensions),
        )
        first = min(point[0] for line in lines for point in line.points)
        last = max(point[0] for line in lines for point in line.points)
        grid = TimeGrid.spanning(first, last, budget)
        charts.append(
            {
                "metric": metric,
                "unit": lines[0].unit,
                "step": grid.step,
                "x": grid.times(),
                "series": [
                    {
                        "label": series_label(line.project, line.environment, line.dimensions),
                        "project": line.project,
                        "environment": line.environment,
                        "y": [_chart_number(v) for v in resample_mean(line.points, grid)],
                    }
                    for line in lines
                ],
            }
        )
    return charts


def _epoch(moment: datetime) -> float | int:
    # Whole seconds print without ".0": 15,000 account rows make the difference visible.
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN or infinity; the page shows "n/a" for None.
    return value if math.isfinite(value) else None


def _environment_rank(environment: str) -> tuple[int, str]:
    # Lines read dev, then int, then prod, whatever other environments a project has.
    order = {"dev": 0, "int": 1, "prod": 3}
    return (order.get(environment, 2), environment)


def _chart_number(value: float | None) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = float(f"{value:.{CHART_SIGNIFICANT_DIGITS}g}")
    return int(rounded) if rounded.is_integer() else rounded


def _spokes_in_display_order(spokes: Sequence[SpokeStatus]) -> list[SpokeStatus]:
    """Problems first (stale, failed enrollment, failing metrics), then by name."""

    def needs_attention(spoke: SpokeStatus) -> bool:
        return spoke_is_marked_stale(spoke) or spoke.state == "failed" or bool(spoke.last_errors)

    return sorted(
        spokes,
        key=lambda spoke: (
            not needs_attention(spoke),
            spoke.project,
            _environment_rank(spoke.environment),
            spoke.account_id,
        ),
    )


def _spoke_entry(spoke: SpokeStatus) -> dict[str, Any]:
    return {
        "account": spoke.account_id,
        "project": spoke.project,
        "environment": spoke.environment,
        "state": spoke.state,
        "reason": spoke.reason,
        "lastSeen": _epoch(spoke.last_seen_at) if spoke.last_seen_at else None,
        "stale": spoke_is_marked_stale(spoke),
        "errors": [
            [error.metric_name, error.error_code, error.message] for error in spoke.last_errors
        ],
    }
