"""The rendered page, read as text: escaping, self-containment, numbers. The browser tests in
test_dashboard_browser.py check what a reader sees."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re

import pytest
from dashboard_sample_data import (
    GENERATED_AT,
    HOSTILE,
    HOSTILE_SCRIPT,
    account_value,
    empty_dashboard_data,
    sample_dashboard_data,
)

from bench.synthetic_dashboard import synthetic_dashboard_data
from dashboard.html import MAX_TOTAL_CHART_POINTS, render_dashboard
from dashboard.model import (
    DashboardData,
    HistorySeries,
    LatestValue,
    SpokeStatus,
)


def embedded_data(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S
    )
    assert match, "the page has no data block"
    return json.loads(match.group(1))


def kpi(page: str, key: str) -> int:
    match = re.search(rf'data-kpi="{key}">.*?<span class="kpi-value">([\d,]+)</span>', page)
    assert match, f"no KPI card {key}"
    return int(match.group(1).replace(",", ""))


def test_hostile_strings_never_reach_the_page_as_markup() -> None:
    page = render_dashboard(sample_dashboard_data())

    assert HOSTILE not in page
    assert "<script>alert" not in page
    # Exactly one data block and three scripts: nothing from the data closed or opened one.
    assert page.count("</script>") == 3
    data = embedded_data(page)
    assert HOSTILE in {group["project"] for group in data["groups"]}
    assert HOSTILE_SCRIPT in {spoke["reason"] for spoke in data["spokes"]}


def test_the_page_loads_nothing_and_runs_only_its_own_scripts() -> None:
    page = render_dashboard(sample_dashboard_data())

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page
    assert "@import" not in page
    csp_attribute = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp_attribute
    csp = html.unescape(csp_attribute.group(1))
    assert "default-src 'none'" in csp
    inline_scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(inline_scripts) == 2
    for script in inline_scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_key_figures_count_the_sample() -> None:
    page = render_dashboard(sample_dashboard_data())

    # Three projects (two plus the hostile one); six enrolled spokes plus one failed; the stale
    # churn-prediction prod spoke and the failed spoke that was never seen.
    assert kpi(page, "projects") == 3
    assert kpi(page, "spokes-enrolled") == 6
    assert kpi(page, "stale-spokes") == 2
    assert kpi(page, "metrics-reporting") == 4
    assert kpi(page, "quarantined-events") == 2


def test_offboarded_spokes_are_neither_counted_nor_marked_stale() -> None:
    offboarded = SpokeStatus(
        "555555555501", "old-project", "prod", "offboarded", "account closed", None, stale=True
    )
    data = DashboardData(
        generated_at=GENERATED_AT, refresh_period_seconds=3600, spokes=(offboarded,)
    )
    page = render_dashboard(data)

    assert kpi(page, "stale-spokes") == 0
    assert kpi(page, "projects") == 0
    assert embedded_data(page)["spokes"][0]["stale"] is False


def test_accounts_are_summed_for_counts_and_averaged_for_percentages() -> None:
    groups = {
        (group["project"], group["environment"], group["metric"]): group
        for group in embedded_data(render_dashboard(sample_dashboard_data()))["groups"]
    }
    hours = 7 * 24
    jobs = groups[("fraud-detection", "prod", "CompletedTrainingJobs24h")]
    savings = groups[("fraud-detection", "prod", "ManagedSpotSavingsPercent")]

    assert [account[0] for account in jobs["accounts"]] == ["111111111102", "111111111103"]
    assert jobs["value"] == pytest.approx(
        account_value("111111111102", 0, hours) + account_value("111111111103", 0, hours)
    )
    assert savings["value"] == pytest.approx(
        (account_value("111111111102", 2, hours) + account_value("111111111103", 2, hours)) / 2
    )


def test_empty_hub_explains_what_to_do() -> None:
    page = render_dashboard(empty_dashboard_data())

    assert "No spokes have reported yet:" in page
    assert "dsdash enroll --account" in page
    assert "dsdash refresh --wait" in page
    assert 'id="latest-table"' not in page
    assert 'id="charts"' not in page
    assert 'data-state="empty"' in page


def test_enrolled_spokes_without_values_still_list_the_spokes() -> None:
    pending = SpokeStatus("666666666601", "new-project", "dev", "pending", "", None, stale=True)
    page = render_dashboard(
        DashboardData(generated_at=GENERATED_AT, refresh_period_seconds=3600, spokes=(pending,))
    )

    assert "No spokes have reported yet:" in page
    assert "1 spoke is registered (0 enrolled, 1 pending, 0 failed)" in page
    assert 'id="spoke-table"' in page


def test_long_raw_history_is_bounded_on_one_shared_grid_per_chart() -> None:
    # 90 days of hourly points, each valued at its UTC hour of day (0 to 23), from 12:00.
    start = GENERATED_AT.timestamp() - 90 * 86400
    hourly = tuple(
        (start + hour * 3600, float((hour + GENERATED_AT.hour) % 24)) for hour in range(90 * 24)
    )
    history = tuple(
        HistorySeries("p", environment, "TrainingJobsInProgress", "Count", hourly)
        for environment in ("dev", "prod")
    )
    latest = LatestValue(
        "p", "dev", "TrainingJobsInProgress", "Count", (), "1" * 12, 1.0, GENERATED_AT
    )
    data = DashboardData(
        generated_at=GENERATED_AT,
        refresh_period_seconds=3600,
        latest_values=(latest,),
        history=history,
    )

    (chart,) = embedded_data(render_dashboard(data))["charts"]

    assert len(chart["x"]) <= 500
    assert chart["x"][0] <= hourly[0][0] and chart["x"][-1] >= hourly[-1][0] - chart["step"]
    assert [len(series["y"]) for series in chart["series"]] == [len(chart["x"])] * 2
    # 6-hour buckets (00:00, 06:00, ...) average their hours: 0-5 gives 2.5 and 18-23 gives
    # 20.5, so the daily pattern survives while the raw extremes 0 and 23 do not.
    assert chart["step"] == 6 * 3600
    values = [value for value in chart["series"][0]["y"] if value is not None]
    assert min(values) == pytest.approx(2.5)
    assert max(values) == pytest.approx(20.5)


def test_thousand_spoke_page_stays_within_its_point_budget(thousand_spoke_page: str) -> None:
    data = embedded_data(thousand_spoke_page)
    total_points = sum(len(series["y"]) for chart in data["charts"] for series in chart["series"])

    assert len(data["charts"]) == 15
    assert total_points <= MAX_TOTAL_CHART_POINTS
    # A day a point over 90 days (91 points) is the resolution the budget affords.
    assert {chart["step"] for chart in data["charts"]} == {86400}
    assert len(data["groups"]) == 3000
    assert sum(len(group["accounts"]) for group in data["groups"]) == 15_000


@pytest.fixture(scope="module")
def thousand_spoke_page() -> str:
    return render_dashboard(synthetic_dashboard_data(generated_at=GENERATED_AT))
