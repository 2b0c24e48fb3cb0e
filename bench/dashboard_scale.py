"""Dashboard scale: 1,000 spokes x 15 metrics x 90 days of hourly history in one HTML file.

The data is `bench.synthetic_dashboard.synthetic_dashboard_data` and the page `dashboard.html
.render_dashboard`, the same renderer `dsdash dashboard` uses. Embedded points are counted in
the page's own JSON block; raw points are what the history holds (every spoke reports every
metric every hour). When Debian's chromium is installed at /usr/bin/chromium, the page is opened
headless through Playwright (never `playwright install`: its browsers come from a CDN) and the
times to the load event, to `#charts[data-ready="true"]` (set by the page script once the last
chart is drawn), to redraw every project at once, and to filter the latest-values table are
measured. The page's Content-Security-Policy forbids eval, so only locator expectations are
used to wait, never `wait_for_function` with a string.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.support import BenchmarkResult, format_ratio, ratio, stopwatch
from bench.synthetic_dashboard import synthetic_dashboard_data
from dashboard.html import render_dashboard
from dashboard.model import DashboardData

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


FULL_SIZE = DashboardSize(spokes=1_000, metrics=15, days=90)
QUICK_SIZE = DashboardSize(spokes=100, metrics=15, days=14)


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

            # Every project at once: the most lines the page ever draws.
            with stopwatch() as redrawing:
                page.select_option("#chart-project", "*")
                expect(charts_ready).to_be_attached(timeout=BROWSER_TIMEOUT_MS)
            figures["browser_all_projects_redraw_seconds"] = redrawing.seconds

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
        f"Dashboard: {size.spokes:,} spokes x {size.metrics} metrics x {size.days} days hourly",
    )
    with stopwatch() as building:
        data = synthetic_dashboard_data(
            spoke_count=size.spokes, metric_count=size.metrics, history_days=size.days
        )
    with stopwatch() as rendering:
        page_html = render_dashboard(data)
    page_bytes = len(page_html.encode("utf-8"))
    embedded = embedded_charts(page_html)
    raw_points = size.spokes * size.metrics * size.days * 24
    reduction = ratio(raw_points, embedded.points)

    page = result.section("The HTML file")
    page.add("size (MB)", page_bytes / 1e6, f"{page_bytes:,} bytes, self-contained")
    page.add("raw history points", raw_points, "spokes x metrics x hours")
    page.add(
        "points embedded",
        embedded.points,
        f"{embedded.lines:,} lines in {embedded.charts} charts, "
        f"{ratio(embedded.points, embedded.lines) or 0:,.0f} points/line; "
        f"{embedded.numbers:,} chart numbers in all",
    )
    page.add("raw / embedded", format_ratio(reduction))
    page.add("latest-value rows", len(data.latest_values), "one per account and series")
    page.add("build data (s, informational)", building.seconds)
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
        "charts drawn, after load (s)",
        browser["browser_charts_ready_after_load_seconds"],
        f"{browser['browser_charts_drawn']} charts, {browser['browser_lines_drawn']:,} lines "
        "(the page opens on one project when all would be too many lines)",
    )
    shown.add(
        "redraw with every project (s)",
        browser["browser_all_projects_redraw_seconds"],
        f"{embedded.lines:,} lines, one chart per task",
    )
    shown.add("filter the latest-values table (s)", browser["browser_table_filter_seconds"])
    shown.add("console errors", browser["browser_console_errors"])
    return result
