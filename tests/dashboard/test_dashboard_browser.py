"""The dashboard in a real browser: Debian's chromium, headless, driven by Playwright.

`.ci/run` installs chromium with apt; `playwright install` is never used (its browsers come from
a CDN, not a package registry). Without /usr/bin/chromium these tests skip with the reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dashboard_sample_data import (
    FAILED_ACCOUNT,
    GENERATED_AT,
    HOSTILE,
    HOSTILE_SCRIPT,
    STALE_ACCOUNT,
    empty_dashboard_data,
    sample_dashboard_data,
)
from playwright.sync_api import expect, sync_playwright

from bench.synthetic_dashboard import synthetic_dashboard_data
from dashboard.html import render_dashboard

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
REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = REPOSITORY / "test-artifacts"
# Rows of a table the page attaches at a time (PAGE_SIZE in dashboard.js).
PAGE_SIZE = 200
# 1,000 spokes x 15 metrics x 90 days: the budget in dashboard/html.py gives about 4 MB. 5 MB
# stays under the 10 MB attachment limit of common mail services with room for base64's third.
THOUSAND_SPOKE_PAGE_LIMIT_BYTES = 5_000_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]

# Counts each chart's canvas pixels close to each line colour (uPlot draws into a canvas, so the
# DOM alone cannot tell whether a line was drawn).
COUNT_LINE_PIXELS = """
(figure) => {
  const canvas = figure.querySelector("canvas");
  const context = canvas.getContext("2d");
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  return figure.dataset.seriesColors.split(",").map((hex) => {
    const [r, g, b] = [1, 3, 5].map((offset) => parseInt(hex.slice(offset, offset + 2), 16));
    let matches = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i + 3] > 200 && Math.abs(pixels[i] - r) <= 12 &&
          Math.abs(pixels[i + 1] - g) <= 12 && Math.abs(pixels[i + 2] - b) <= 12) {
        matches += 1;
      }
    }
    return matches;
  });
}
"""


@dataclass
class LoadedPage:
    page: Any
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    load_seconds: float = 0.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_dashboard(browser: Any, tmp_path: Path) -> Iterator[Any]:
    contexts = []

    def open_page(html: str, name: str = "dashboard.html") -> LoadedPage:
        path = tmp_path / name
        path.write_text(html, encoding="utf-8")
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        loaded = LoadedPage(page)
        page.on(
            "console",
            lambda message: (
                loaded.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: loaded.console_errors.append(str(error)))

        def on_dialog(dialog: Any) -> None:
            loaded.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        started = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=60_000)
        loaded.load_seconds = time.perf_counter() - started
        return loaded

    yield open_page
    for context in contexts:
        context.close()


def wait_for_charts(page: Any) -> None:
    page.wait_for_selector("#charts[data-ready='true']", state="attached", timeout=60_000)


def visible_group_rows(page: Any) -> int:
    return page.locator("#latest-table tbody.group:not([hidden])").count()


def test_sample_dashboard_draws_every_line_without_errors(open_dashboard: Any) -> None:
    loaded = open_dashboard(render_dashboard(sample_dashboard_data()))
    page = loaded.page
    wait_for_charts(page)

    figures = page.locator("figure.chart")
    # One chart per metric with history; the dimensioned metric has latest values only.
    assert figures.count() == 3
    for index in range(figures.count()):
        figure = figures.nth(index)
        # fraud-detection, churn-prediction and the hostile project, each dev and/or prod: the
        # sample has 5 project environments with history.
        assert figure.get_attribute("data-series-count") == "5"
        assert figure.get_attribute("data-drawn") == "true"
        assert figure.locator(".u-legend tr.u-series").count() == 1 + 5  # time + lines
        pixel_counts = figure.evaluate(COUNT_LINE_PIXELS)
        assert all(count > 50 for count in pixel_counts), (
            f"{figure.get_attribute('data-metric')}: a line was not drawn, "
            f"pixels per colour {pixel_counts}"
        )
    assert loaded.console_errors == []
    assert loaded.dialogs == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_picking_a_project_shows_its_dev_against_prod(open_dashboard: Any) -> None:
    page = open_dashboard(render_dashboard(sample_dashboard_data())).page
    wait_for_charts(page)

    page.select_option("#chart-project", "fraud-detection")
    wait_for_charts(page)

    figures = page.locator("figure.chart")
    assert figures.count() == 3
    for index in range(figures.count()):
        figure = figures.nth(index)
        labels = figure.locator(".u-legend tr.u-series .u-label").all_text_contents()
        assert labels[1:] == ["fraud-detection/dev", "fraud-detection/prod"]
        colours = figure.get_attribute("data-series-colors").split(",")
        assert len(set(colours)) == 2
        assert all(count > 50 for count in figure.evaluate(COUNT_LINE_PIXELS))


def test_filter_narrows_the_latest_values_table(open_dashboard: Any) -> None:
    page = open_dashboard(render_dashboard(sample_dashboard_data())).page

    # 3 metrics x 5 project environments, plus 2 instance types of fraud-detection prod.
    assert visible_group_rows(page) == 17
    page.fill("#latest-filter", "churn")
    expect(page.locator("#latest-count")).to_have_text(re.compile(r"^Showing 6 of "))
    assert visible_group_rows(page) == 6  # churn-prediction dev and prod x 3 metrics

    page.fill("#latest-filter", "fraud prod percent")
    expect(page.locator("#latest-count")).to_have_text(re.compile(r"^Showing 1 of "))
    rows = page.locator("#latest-table tbody.group:not([hidden]) tr.group-row")
    assert rows.count() == 1
    assert "ManagedSpotSavingsPercent" in rows.first.inner_text()


def test_sorting_and_expanding_the_latest_values(open_dashboard: Any) -> None:
    page = open_dashboard(render_dashboard(sample_dashboard_data())).page

    page.click("th[data-sort-key='value'] button")
    values = page.eval_on_selector_all(
        "#latest-table tbody.group tr.group-row td:nth-child(5)",
        "cells => cells.map(cell => parseFloat(cell.textContent.replace(/,/g, '')))",
    )
    assert values == sorted(values)
    assert page.get_attribute("th[data-sort-key='value']", "aria-sort") == "ascending"
    page.click("th[data-sort-key='value'] button")
    values = page.eval_on_selector_all(
        "#latest-table tbody.group tr.group-row td:nth-child(5)",
        "cells => cells.map(cell => parseFloat(cell.textContent.replace(/,/g, '')))",
    )
    assert values == sorted(values, reverse=True)

    page.fill("#latest-filter", "fraud-detection prod CompletedTrainingJobs24h")
    expect(page.locator("#latest-count")).to_have_text(re.compile(r"^Showing 1 of "))
    group = page.locator("#latest-table tbody.group:not([hidden])")
    assert group.locator("tr.account-row").count() == 0  # built only on expansion
    group.locator("button.expand").click()
    assert group.locator("tr.account-row td.account-id").all_text_contents() == [
        "111111111102",
        "111111111103",
    ]
    assert group.locator("button.expand").get_attribute("aria-expanded") == "true"
    group.locator("button.expand").click()
    assert group.locator("tr.account-row:not([hidden])").count() == 0


def test_stale_and_failed_spokes_are_marked(open_dashboard: Any) -> None:
    page = open_dashboard(render_dashboard(sample_dashboard_data())).page

    stale_row = page.locator(f"#spoke-rows tr[data-account='{STALE_ACCOUNT}']")
    assert "stale" in stale_row.get_attribute("class").split()
    assert stale_row.locator(".badge-stale").inner_text() == "Stale"
    assert "5 h ago" in stale_row.inner_text()
    fresh_row = page.locator("#spoke-rows tr[data-account='111111111101']")
    assert not fresh_row.get_attribute("class")
    assert fresh_row.locator(".badge-stale").count() == 0
    failed_row = page.locator(f"#spoke-rows tr[data-account='{FAILED_ACCOUNT}']")
    assert failed_row.locator(".badge-state-failed").inner_text() == "failed"
    assert "role dsdash-spoke-extractor exists" in failed_row.inner_text()

    page.check("#spoke-problems-only")
    shown = page.locator("#spoke-rows tr:not([hidden])")
    # The stale spoke, the failed one and the hostile project's spoke with a failed metric.
    assert sorted(shown.evaluate_all("rows => rows.map(row => row.dataset.account)")) == sorted(
        [STALE_ACCOUNT, FAILED_ACCOUNT, "333333333301"]
    )


def test_hostile_strings_are_shown_as_text_and_never_run(open_dashboard: Any) -> None:
    loaded = open_dashboard(render_dashboard(sample_dashboard_data()))
    page = loaded.page
    wait_for_charts(page)
    page.select_option("#chart-project", HOSTILE)
    wait_for_charts(page)

    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 3
    hostile_row = page.locator("#spoke-rows tr[data-account='333333333301']")
    assert hostile_row.locator("td").nth(1).inner_text() == HOSTILE
    assert HOSTILE_SCRIPT in hostile_row.inner_text()
    assert HOSTILE in page.locator("#latest-table").inner_text()
    legend = page.locator("figure.chart .u-legend").first.inner_text()
    assert f"{HOSTILE}/prod" in legend
    assert loaded.dialogs == []
    assert loaded.console_errors == []


def test_empty_hub_explains_itself(open_dashboard: Any) -> None:
    loaded = open_dashboard(render_dashboard(empty_dashboard_data()))
    page = loaded.page

    explanation = page.locator("#empty-state")
    assert explanation.is_visible()
    assert "No spokes have reported yet:" in explanation.inner_text()
    assert "dsdash refresh --wait" in explanation.inner_text()
    assert page.locator("canvas").count() == 0
    assert page.locator("[data-kpi='spokes-enrolled'] .kpi-value").inner_text() == "0"
    assert loaded.console_errors == []


def test_thousand_spoke_dashboard_loads(open_dashboard: Any) -> None:
    html = render_dashboard(synthetic_dashboard_data(generated_at=GENERATED_AT))
    size = len(html.encode("utf-8"))
    assert size < THOUSAND_SPOKE_PAGE_LIMIT_BYTES

    loaded = open_dashboard(html, "thousand-spokes.html")
    page = loaded.page
    started = time.perf_counter()
    wait_for_charts(page)
    charts_seconds = time.perf_counter() - started
    print(
        f"\n1,000 spokes x 15 metrics x 90 days: {size / 1e6:.2f} MB, load event after "
        f"{loaded.load_seconds:.2f} s, charts drawn {charts_seconds:.2f} s later"
    )

    expect(page.locator("#latest-count")).to_have_text(
        re.compile(r"^Showing 3000 of 3000 series: 1\u2013200 on this page")
    )
    # One page of each table is in the document, not 3,000 groups and 1,000 spokes.
    assert visible_group_rows(page) == PAGE_SIZE
    assert page.locator("#spoke-rows tr").count() == PAGE_SIZE
    # Problem spokes come first, so every stale one is on the first page.
    assert page.locator("#spoke-rows tr.stale").count() == 20
    # 200 project environments are too many lines for one chart: the page opens on one project.
    assert page.input_value("#chart-project") == "project-000"
    assert page.locator("figure.chart[data-drawn='true']").count() == 15
    assert loaded.console_errors == []


def group_keys(page: Any) -> list[str]:
    """Project, environment and metric of every group row in the document, in order."""
    return page.eval_on_selector_all(
        "#latest-table tbody.group tr.group-row",
        "rows => rows.map(row => [1, 2, 3].map(i => row.cells[i].textContent).join('|'))",
    )


def test_long_tables_show_a_page_at_a_time(open_dashboard: Any) -> None:
    data = synthetic_dashboard_data(spoke_count=250, history_days=2, generated_at=GENERATED_AT)
    series = {(v.project, v.environment, v.metric) for v in data.latest_values}
    assert len(series) > 3 * PAGE_SIZE  # so the table has a middle page and a short last one
    loaded = open_dashboard(render_dashboard(data))
    page = loaded.page
    pager = page.locator("#latest-pager")

    expect(page.locator("#latest-count")).to_have_text(
        re.compile(rf"^Showing {len(series)} of {len(series)} series: 1\u2013200 on this page")
    )
    expect(pager).to_be_visible()
    expect(page.locator("#latest-previous")).to_be_disabled()
    pages = [group_keys(page)]
    while page.locator("#latest-next").is_enabled():
        page.click("#latest-next")
        pages.append(group_keys(page))
    # Every series is on exactly one page, and no page holds more than PAGE_SIZE.
    assert [len(keys) for keys in pages[:-1]] == [PAGE_SIZE] * (len(pages) - 1)
    assert 0 < len(pages[-1]) <= PAGE_SIZE
    shown = [key for keys in pages for key in keys]
    assert sorted(shown) == sorted("|".join(key) for key in series)
    last = len(series)
    expect(page.locator("#latest-page")).to_have_text(
        f"Rows {last - len(pages[-1]) + 1}\u2013{last} of {last}"
    )
    page.click("#latest-previous")
    assert group_keys(page) == pages[-2]

    # The filter searches every series, not only the page shown.
    project, environment, metric = max(series)
    assert "|".join((project, environment, metric)) not in pages[0]
    page.fill("#latest-filter", f"{project} {environment} {metric}")
    expect(page.locator("#latest-count")).to_have_text(re.compile(rf"^Showing 1 of {last} "))
    assert group_keys(page) == ["|".join((project, environment, metric))]
    expect(pager).to_be_hidden()

    # Sorting orders every series, then shows the first page of that order.
    page.fill("#latest-filter", "")
    expect(page.locator("#latest-count")).to_have_text(re.compile(rf"^Showing {last} of {last} "))
    page.click("th[data-sort-key='project'] button")
    page.click("th[data-sort-key='project'] button")
    first_page_projects = [key.split("|")[0] for key in group_keys(page)]
    projects_descending = sorted((key[0] for key in series), reverse=True)
    assert first_page_projects == projects_descending[:PAGE_SIZE]
    expect(page.locator("#latest-previous")).to_be_disabled()

    # An expanded group stays expanded when its page is left and shown again.
    page.locator("#latest-table button.expand").first.click()
    expanded = page.locator("#latest-table tbody.group").first.locator("tr.account-row")
    assert expanded.count() > 0
    page.click("#latest-next")
    page.click("#latest-previous")
    assert page.locator("#latest-table button.expand").first.get_attribute("aria-expanded") == (
        "true"
    )
    assert (
        page.locator("#latest-table tbody.group")
        .first.locator("tr.account-row:not([hidden])")
        .count()
        == expanded.count()
    )

    # The spoke list pages the same way, and its filter finds a spoke on a later page.
    assert page.locator("#spoke-rows tr").count() == PAGE_SIZE
    expect(page.locator("#spoke-count")).to_have_text(
        re.compile(rf"^Showing {len(data.spokes)} of {len(data.spokes)} spokes: ")
    )
    first_spokes = page.eval_on_selector_all(
        "#spoke-rows tr", "rows => rows.map(row => row.dataset.account)"
    )
    page.click("#spoke-next")
    later_spokes = page.eval_on_selector_all(
        "#spoke-rows tr", "rows => rows.map(row => row.dataset.account)"
    )
    assert len(later_spokes) == len(data.spokes) - PAGE_SIZE
    assert sorted(first_spokes + later_spokes) == sorted(s.account_id for s in data.spokes)
    hidden_account = later_spokes[-1]
    page.click("#spoke-previous")
    page.fill("#spoke-filter", hidden_account)
    expect(page.locator("#spoke-count")).to_have_text(
        re.compile(rf"^Showing 1 of {len(data.spokes)} spokes$")
    )
    assert page.eval_on_selector_all(
        "#spoke-rows tr", "rows => rows.map(row => row.dataset.account)"
    ) == [hidden_account]
    expect(page.locator("#spoke-pager")).to_be_hidden()
    assert loaded.console_errors == []
