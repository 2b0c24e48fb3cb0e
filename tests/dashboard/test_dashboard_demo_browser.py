"""The dashboard's controls in Debian's headless chromium, over a page built the way the demo
builds it: history as Parquet read through the query layer (`dashboard_history_files`).

One browser and one page for the module: each test starts from a view set through the URL
fragment, which is also how a shared link opens the page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_history_files import (
    SINGLE_POINT_METRIC,
    SPOKES,
    STOPPED_METRIC,
    demo_shaped_dashboard,
)
from playwright.sync_api import expect, sync_playwright
from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, COUNT_LINE_PIXELS

from dashboard.html import render_dashboard

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


# Where the first line's colour is drawn, mid-chart, in CSS pixels from the canvas's corner.
FIRST_LINE_PIXEL = """
(figure) => {
  const canvas = figure.querySelector("canvas");
  const context = canvas.getContext("2d");
  const hex = figure.dataset.seriesColors.split(",")[0];
  const [r, g, b] = [1, 3, 5].map((offset) => parseInt(hex.slice(offset, offset + 2), 16));
  const x = Math.floor(canvas.width * 0.6);
  const column = context.getImageData(x, 0, 1, canvas.height).data;
  for (let y = 0; y < canvas.height; y++) {
    const i = y * 4;
    if (column[i + 3] > 200 && Math.abs(column[i] - r) <= 12 &&
        Math.abs(column[i + 1] - g) <= 12 && Math.abs(column[i + 2] - b) <= 12) {
      const ratio = canvas.width / canvas.getBoundingClientRect().width;
      return [x / ratio, y / ratio];
    }
  }
  throw new Error("the line is not drawn in the middle column");
}
"""


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-shaped")
    path = root / "dashboard.html"
    path.write_text(render_dashboard(demo_shaped_dashboard(root / "history")), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def page(page_file: Path) -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1300, "height": 900}, accept_downloads=True
        )
        opened = context.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        opened.errors = errors
        yield opened
        browser.close()


def open_view(page: Any, page_file: Path, fragment: str = "") -> None:
    # A new document each time: about:blank first, so the same URL with another fragment is a
    # load and not an in-page jump.
    page.goto("about:blank")
    page.goto(page_file.as_uri() + (f"#{fragment}" if fragment else ""), wait_until="load")
    page.wait_for_selector("#charts[data-ready='true']", state="attached", timeout=30_000)


def table_rows(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#latest-table tbody.group tr.group-row",
        "rows => rows.map(row => Array.from(row.cells).slice(1).map(cell => cell.textContent))",
    )


def test_every_chart_draws_its_lines(page: Any, page_file: Path) -> None:
    open_view(page, page_file)
    figures = page.locator("figure.chart")
    metrics = figures.evaluate_all("figures => figures.map(f => f.dataset.metric)")
    assert SINGLE_POINT_METRIC in metrics and STOPPED_METRIC in metrics
    for index in range(figures.count()):
        figure = figures.nth(index)
        metric = figure.get_attribute("data-metric")
        assert figure.get_attribute("data-drawn") == "true", metric
        pixels = figure.evaluate(COUNT_LINE_PIXELS)
        assert len(pixels) == int(figure.get_attribute("data-series-count"))
        assert all(count > 0 for count in pixels), f"{metric}: pixels per line {pixels}"
    assert page.errors == []


def test_one_datapoint_draws_as_a_point_and_an_empty_range_says_so(
    page: Any, page_file: Path
) -> None:
    open_view(page, page_file, "range=1d")
    single = page.locator(f"figure.chart[data-metric='{SINGLE_POINT_METRIC}']")
    assert single.get_attribute("data-series-count") == "1"
    (pixels,) = single.evaluate(COUNT_LINE_PIXELS)
    assert pixels > 20  # a visible dot, not a zero-length line
    stopped = page.locator(f"figure.chart[data-metric='{STOPPED_METRIC}']")
    expect(stopped).to_contain_text("No data in this range.")
    assert stopped.locator("canvas").count() == 0
    # Over the whole embedded range the stopped series is back.
    open_view(page, page_file)
    stopped = page.locator(f"figure.chart[data-metric='{STOPPED_METRIC}']")
    assert stopped.get_attribute("data-series-count") == "4"


def test_filters_change_the_rows_and_the_lines(page: Any, page_file: Path) -> None:
    open_view(page, page_file)
    everything = table_rows(page)
    page.select_option("#filter-project", "fraud-detection")
    rows = table_rows(page)
    assert rows and len(rows) < len(everything)
    assert {row[0] for row in rows} == {"fraud-detection"}
    page.wait_for_selector("#charts[data-ready='true']", state="attached")
    legend = page.locator("figure.chart[data-metric='CompletedTrainingJobs24h'] .u-legend")
    assert "churn-prediction" not in legend.inner_text()

    page.select_option("#filter-region", "us-east-1")
    rows = table_rows(page)
    assert rows and {row[3] for row in rows} == {"us-east-1"}
    # One account in that region: its own value, not its environment's sum.
    (us_account,) = [spoke[2] for spoke in SPOKES if spoke[3] == "us-east-1"]
    assert {row[6] for row in rows} == {"1"}
    page.wait_for_selector("#charts[data-ready='true']", state="attached")
    chart = page.locator("figure.chart[data-metric='CompletedTrainingJobs24h']")
    assert chart.get_attribute("data-series-count") == "1"
    assert us_account in chart.locator(".u-legend").inner_text()
    spoke_rows = page.locator("#spoke-rows tr")
    assert spoke_rows.count() == 1
    assert spoke_rows.first.get_attribute("data-account") == us_account
    assert "region=us-east-1" in page.url and "project=fraud-detection" in page.url


def test_a_link_reproduces_the_view(page: Any, page_file: Path) -> None:
    open_view(page, page_file)
    page.select_option("#filter-environment", "prod")
    page.select_option("#chart-range", "7d")
    shown = table_rows(page)
    link = page.url
    page.goto("about:blank")
    page.goto(link, wait_until="load")
    page.wait_for_selector("#charts[data-ready='true']", state="attached")
    assert page.input_value("#filter-environment") == "prod"
    assert page.input_value("#chart-range") == "7d"
    assert table_rows(page) == shown


def test_drill_down_shows_the_accounts_of_a_line(page: Any, page_file: Path) -> None:
    open_view(page, page_file)
    drilldown = page.locator("#drilldown")
    assert drilldown.is_hidden()
    figure = page.locator("figure.chart[data-metric='NumberEndPointsInService']")
    figure.locator("select.drill-select").select_option("fraud-detection/prod")
    expect(drilldown).to_be_visible()
    prod_accounts = [s[2] for s in SPOKES if s[:2] == ("fraud-detection", "prod")]
    assert drilldown.get_attribute("data-series-count") == str(len(prod_accounts))
    legend = drilldown.locator(".u-legend").inner_text()
    assert all(account in legend for account in prod_accounts)
    pixels = drilldown.evaluate(COUNT_LINE_PIXELS)
    assert len(pixels) == len(prod_accounts) and all(count > 0 for count in pixels)
    assert "drill=NumberEndPointsInService" in page.url

    # A click on a line opens that line's accounts too: one line per chart, so the click cannot
    # land nearer another.
    page.click("#drilldown-close")
    expect(drilldown).to_be_hidden()
    page.select_option("#filter-project", "churn-prediction")
    page.select_option("#filter-environment", "prod")
    page.wait_for_selector("#charts[data-ready='true']", state="attached")
    figure = page.locator("figure.chart[data-metric='NumberEndPointsInService']")
    assert figure.get_attribute("data-series-count") == "1"
    figure.scroll_into_view_if_needed()
    x, y = figure.evaluate(FIRST_LINE_PIXEL)
    box = figure.locator("canvas").bounding_box()  # viewport coordinates, as the mouse uses
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(drilldown).to_be_visible()
    assert drilldown.get_attribute("data-line") == "churn-prediction/prod"
    assert drilldown.get_attribute("data-series-count") == "1"


def test_csv_download_equals_the_filtered_table(page: Any, page_file: Path) -> None:
    open_view(page, page_file, "environment=prod")
    with page.expect_download() as download_info:
        page.click("#latest-csv")
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(text)))
    rows = table_rows(page)
    assert len(records) == len(rows) > 0
    for record, row in zip(records, rows, strict=True):
        project, environment, metric, region, value, unit, accounts, _ = row
        assert [record["project"], record["environment"], record["region"]] == [
            project,
            environment,
            region,
        ]
        assert metric.startswith(record["metric"]) and metric.endswith(record["dimensions"])
        assert record["unit"] == unit
        assert accounts.startswith(record["accounts"])
        shown = float(value.replace(",", ""))
        assert float(record["value"]) == pytest.approx(shown, abs=0.01, rel=0.005)


def test_cards_lead_with_data_science_figures(page: Any, page_file: Path) -> None:
    open_view(page, page_file)
    first = page.locator("#science-kpis .kpi").first
    assert first.get_attribute("data-kpi") == "CompletedTrainingJobs24h"
    assert "vs 24 h earlier" in first.locator(".kpi-change").inner_text()
    completed = [row for row in table_rows(page) if row[2] == "CompletedTrainingJobs24h"]
    total = sum(float(row[4].replace(",", "")) for row in completed)
    assert float(first.locator(".kpi-value").inner_text().replace(",", "")) == total
    # Platform health comes after the data-science cards.
    order = page.eval_on_selector_all("section h2", "headings => headings.map(h => h.id)")
    assert order.index("kpi-heading") < order.index("health-heading")
