"""Dashboard scale: 1,000 spokes x 15 metrics x 90 days of history in one HTML file.

History is real: Parquet files written by the contract's writer (`contracts.history_parquet
.write_parquet`), one per delivery day, read through the query layer (`hub_stack.history_query`,
DuckDB over the local files) by `dashboard.dashboard_data.combined_history`, the function `dsdash
dashboard` uses. Granularity: one extraction per spoke and metric per *day* (1.35 million rows at
full size); hourly would be 32 million rows, minutes of Python just to write them, and the
dashboard's 6-hour buckets over 90 days make the query's output the same size either way
(O(series x buckets)). `rows_from_engine` is counted at two spoke counts with the same projects,
metrics and buckets (more accounts per environment): it must not grow with spokes.
The spokes and latest values are `bench.synthetic_dashboard.synthetic_dashboard_data`'s (the
registry and latest items are DynamoDB's, not this benchmark's subject); the page is `dashboard.html
.render_dashboard`, the same renderer `dsdash dashboard` uses. Embedded points are counted in
the page's own JSON block. When Debian's chromium is installed at /usr/bin/chromium, the page is opened
headless through Playwright (never `playwright install`: its browsers come from a CDN) and the
times to the load event, to `#charts[data-ready="true"]` (set by the page script once the last
chart is drawn), to redraw every project at once, and to filter the latest-values table are
measured. The page's Content-Security-Policy forbids eval, so only locator expectations are
used to wait, never `wait_for_function` with a string.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.support import BenchmarkResult, format_ratio, ratio, stopwatch
from bench.synthetic_dashboard import SYNTHETIC_METRICS, synthetic_dashboard_data
from contracts.history_parquet import write_parquet
from contracts.history_table import canonical_dimensions, partition_folder
from dashboard.dashboard_data import combined_history
from dashboard.downsample import TimeGrid
from dashboard.html import render_dashboard
from dashboard.kpi_spoke_history import with_spoke_history
from dashboard.model import DashboardData
from hub_stack.history_query.duckdb_engine import DuckDbEngine, LocalHistorySource
from hub_stack.history_query.queries import HistoryFilters
from hub_stack.history_query.reads import aggregate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_TIMEOUT_MS = 180_000
DATA_BLOCK = re.compile(
    r'<script type="application/json" id="dashboard-data">(?P<json>.*?)</script>', re.DOTALL
)


@dataclass(frozen=True)
class DashboardSize:
    spokes: int
    metrics: int
    days: int
    # The smaller spoke count `rows_from_engine` is compared at: same projects and metrics.
    fewer_spokes: int


# 50 projects x 2 environments; 10 or 1 account per environment.
FULL_SIZE = DashboardSize(spokes=1_000, metrics=15, days=90, fewer_spokes=100)
QUICK_SIZE = DashboardSize(spokes=100, metrics=15, days=14, fewer_spokes=10)
ENVIRONMENTS = ("dev", "prod")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EXTRACTION_STEP = timedelta(days=1)


def write_history_files(root: Path, *, spokes: int, groups: int, metrics: int, days: int) -> int:
    """Daily history of `spokes` spokes spread over `groups` project environments, one Parquet
    file per delivery day written by `write_parquet`; returns the rows written."""
    per_group = spokes // groups
    dimensions = canonical_dimensions({})
    written = 0
    for day in range(days, 0, -1):
        moment = NOW - day * EXTRACTION_STEP
        rows = []
        for index in range(spokes):
            group = index // per_group
            project = f"project-{group // len(ENVIRONMENTS):03d}"
            environment = ENVIRONMENTS[group % len(ENVIRONMENTS)]
            account = f"{100000000000 + index:012d}"
            for number, (metric, unit) in enumerate(SYNTHETIC_METRICS[:metrics]):
                rows.append(
                    {
                        "project": project,
                        "environment": environment,
                        "account_id": account,
                        "region": "eu-west-1",
                        "metric_name": metric,
                        "dimensions": dimensions,
                        "metric_value": float((number + 1) * (1 + index % 7) + day % 5),
                        "unit": unit,
                        "extraction_time": moment,
                        "event_id": f"{account}-{day}",
                        "schema_version": 2,
                        "ingested_at": moment + timedelta(seconds=30),
                    }
                )
        written += write_parquet(rows, root / partition_folder(moment) / "part-0.parquet")
    return written


def _engine_rows(root: Path, since: datetime, until: datetime) -> int:
    """Rows the engine returns for the dashboard's history query."""
    grid = TimeGrid.spanning(since.timestamp(), until.timestamp())
    filters = HistoryFilters(since=since, until=until)
    return len(aggregate(DuckDbEngine(LocalHistorySource(root)), filters, bucket_seconds=grid.step))


@dataclass(frozen=True)
class EmbeddedCharts:
    charts: int
    lines: int
    points: int  # non-empty (x, y) points over every line
    numbers: int  # every number the chart data holds: x grids and y values, nulls included


def embedded_charts(page_html: str) -> EmbeddedCharts:
    """What the page carries for its charts, read back from its JSON block."""
    import json

    match = DATA_BLOCK.search(page_html)
    if match is None:
        raise ValueError("the rendered page has no dashboard-data JSON block")
    charts: list[dict[str, Any]] = json.loads(match["json"])["charts"]
    lines = [line for chart in charts for line in chart["series"]]
    return EmbeddedCharts(
        charts=len(charts),
        lines=len(lines),
        points=sum(value is not None for line in lines for value in line["y"]),
        numbers=sum(len(chart["x"]) for chart in charts) + sum(len(line["y"]) for line in lines),
    )


def _browser_figures(page_path: Path, data: DashboardData) -> dict[str, float | int]:
    from playwright.sync_api import expect, sync_playwright

    figures: dict[str, float | int] = {}
    console_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.on(
                "console",
                lambda message: (
                    console_errors.append(message.text) if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: console_errors.append(str(error)))
            charts_ready = page.locator('#charts[data-ready="true"]')
            with stopwatch() as loading:
                page.goto(page_path.as_uri(), wait_until="load", timeout=BROWSER_TIMEOUT_MS)
            with stopwatch() as drawing:
                expect(charts_ready).to_be_attached(timeout=BROWSER_TIMEOUT_MS)
            figures["browser_load_event_seconds"] = loading.seconds
            figures["browser_charts_ready_after_load_seconds"] = drawing.seconds
            figures["browser_charts_drawn"] = page.locator(
                'figure.chart[data-drawn="true"]'
            ).count()
            figures["browser_lines_drawn"] = sum(
                int(value or 0)
                for value in page.locator("figure.chart").evaluate_all(
                    "figures => figures.map(figure => figure.dataset.seriesCount)"
                )
            )

            # The drill-down: the first chart's first line, per account (the spoke lines
            # `with_spoke_history` embedded).
            drill_select = page.locator("select.drill-select").first
            first_line = drill_select.locator("option").nth(1).get_attribute("value") or ""
            drilldown = page.locator("#drilldown")
            with stopwatch() as drilling:
                drill_select.select_option(first_line)
                expect(drilldown).to_be_visible(timeout=BROWSER_TIMEOUT_MS)
            figures["browser_drilldown_seconds"] = drilling.seconds
            figures["browser_drilldown_lines"] = int(
                drilldown.get_attribute("data-series-count") or 0
            )

            project = data.spokes[0].project if data.spokes else ""
            with stopwatch() as filtering:
                page.fill("#latest-filter", f"{project} prod")
                expect(page.locator("#latest-count")).not_to_have_text(
                    re.compile(r"^Showing (\d+) of \1 "), timeout=BROWSER_TIMEOUT_MS
                )
            figures["browser_table_filter_seconds"] = filtering.seconds
        finally:
            browser.close()
    figures["browser_console_errors"] = len(console_errors)
    return figures


def run(*, quick: bool = False) -> BenchmarkResult:
    size = QUICK_SIZE if quick else FULL_SIZE
    result = BenchmarkResult(
        "dashboard",
        f"Dashboard: {size.spokes:,} spokes x {size.metrics} metrics x {size.days} days (daily)",
    )
    groups = size.fewer_spokes  # one account per environment at the smaller count
    since, until = NOW - timedelta(days=size.days), NOW
    with tempfile.TemporaryDirectory(prefix="dsdash-bench-history-") as directory:
        many, few = Path(directory) / "many", Path(directory) / "few"
        with stopwatch() as writing:
            raw_points = write_history_files(
                many, spokes=size.spokes, groups=groups, metrics=size.metrics, days=size.days
            )
        write_history_files(
            few, spokes=size.fewer_spokes, groups=groups, metrics=size.metrics, days=size.days
        )
        history_files_bytes = sum(path.stat().st_size for path in many.rglob("*.parquet"))
        rows_from_engine = {
            str(size.fewer_spokes): _engine_rows(few, since, until),
            str(size.spokes): _engine_rows(many, since, until),
        }
        many_engine = DuckDbEngine(LocalHistorySource(many))
        with stopwatch() as building:
            history = combined_history(many_engine, since=since, until=until)
        synthetic = synthetic_dashboard_data(
            spoke_count=size.spokes,
            metric_count=size.metrics,
            history_days=1,
            accounts_per_environment=size.spokes // groups,
            generated_at=NOW,
        )
        data = dataclasses.replace(synthetic, history=tuple(history), history_days=size.days)
        # The drill-down's per-account lines, read as `dsdash dashboard` reads them.
        with stopwatch() as drilling:
            data = with_spoke_history(data, many_engine)
    with stopwatch() as rendering:
        page_html = render_dashboard(data)
    page_bytes = len(page_html.encode("utf-8"))
    embedded = embedded_charts(page_html)
    reduction = ratio(raw_points, embedded.points)

    engine = result.section("History through the query layer (DuckDB over Parquet)")
    engine.add(
        "history rows written",
        raw_points,
        f"spokes x metrics x days (daily), {history_files_bytes:,} bytes of Parquet "
        f"in {size.days} files",
    )
    engine.add(
        "rows from the engine",
        " / ".join(f"{count:,} at {spokes} spokes" for spokes, count in rows_from_engine.items()),
        "same projects, metrics and buckets: O(series x buckets), not O(spokes)",
    )
    engine.add("write the files (s, informational)", writing.seconds)
    engine.add("build the history (s, informational)", building.seconds)
    engine.add(
        "per-account drill-down lines",
        len(data.spoke_history),
        f"read in {drilling.seconds:.2f} s (informational)",
    )

    page = result.section("The HTML file")
    page.add("size (MB)", page_bytes / 1e6, f"{page_bytes:,} bytes, self-contained")
    page.add("raw history points", raw_points, "spokes x metrics x days")
    page.add(
        "points embedded",
        embedded.points,
        f"{embedded.lines:,} lines in {embedded.charts} charts, "
        f"{ratio(embedded.points, embedded.lines) or 0:,.0f} points/line; "
        f"{embedded.numbers:,} chart numbers in all",
    )
    page.add("raw / embedded", format_ratio(reduction))
    page.add("latest-value rows", len(data.latest_values), "one per account and series")
    page.add("render (s, informational)", rendering.seconds)
    result.figures.update(
        {
            "spokes": size.spokes,
            "metrics": size.metrics,
            "history_days": size.days,
            "html_bytes": page_bytes,
            "html_megabytes": page_bytes / 1e6,
            "raw_points": raw_points,
            "embedded_points": embedded.points,
            "embedded_lines": embedded.lines,
            "embedded_charts": embedded.charts,
            "embedded_numbers": embedded.numbers,
            "raw_to_embedded": reduction,
            "latest_value_rows": len(data.latest_values),
            "build_seconds": building.seconds,
            "spoke_history_lines": len(data.spoke_history),
            "spoke_history_seconds": drilling.seconds,
            "rows_from_engine": rows_from_engine,
            "history_rows_written": raw_points,
            "history_files_bytes": history_files_bytes,
            "write_history_seconds": writing.seconds,
            "render_seconds": rendering.seconds,
            "browser_measured": CHROMIUM.exists(),
        }
    )

    if not CHROMIUM.exists():
        result.notes.append(f"{CHROMIUM} not found: browser load times not measured")
        return result
    with tempfile.TemporaryDirectory(prefix="dsdash-bench-") as directory:
        page_path = Path(directory) / "dashboard.html"
        page_path.write_text(page_html, encoding="utf-8")
        browser = _browser_figures(page_path, data)
    result.figures.update(browser)
    shown = result.section("Headless Chromium (informational times)")
    shown.add("load event (s)", browser["browser_load_event_seconds"])
    shown.add(
        "per-account drill-down lines drawn",
        browser["browser_drilldown_lines"],
        f"opened in {browser['browser_drilldown_seconds']:.2f} s",
    )
    shown.add(
        "charts drawn, after load (s)",
        browser["browser_charts_ready_after_load_seconds"],
        f"{browser['browser_charts_drawn']} charts, {browser['browser_lines_drawn']:,} lines "
        f"of {embedded.lines:,} embedded",
    )
    shown.add("filter the latest-values table (s)", browser["browser_table_filter_seconds"])
    shown.add("console errors", browser["browser_console_errors"])
    return result
