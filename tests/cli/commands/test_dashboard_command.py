"""`dsdash dashboard`: the data read from the hub, and the file it writes."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from operator_cli_support import (
    CHURN_PROD_FRESH,
    FRAUD_DEV_FRESH,
    NOW,
    STALE_ACCOUNTS,
)

from config.loader import load_config
from dashboard.dashboard_data import build_dashboard_data, refresh_period_seconds


def embedded_data(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S
    )
    assert match is not None, "the page embeds its data"
    return json.loads(match.group(1))


def test_dashboard_data_combines_accounts_per_project_and_environment(hub):
    data = build_dashboard_data(hub.store, load_config(), history_days=1, clock=lambda: NOW)

    lines = {
        (series.project, series.environment, series.metric, series.dimensions): series
        for series in data.history
    }
    total_jobs = lines[("fraud-detection", "dev", "TotalCompletedTrainingJobs", ())]
    # Counts add up across the two dev accounts: 10+4 at 09:00, 12+5 at 10:00, 15 at 11:00.
    assert [value for _, value in total_jobs.points] == [14, 17, 15]
    assert [epoch for epoch, _ in total_jobs.points] == [
        (NOW - timedelta(hours=hours)).timestamp() for hours in (3, 2, 1)
    ]
    assert {(s.project, s.environment) for s in data.history} == {
        ("fraud-detection", "dev"),
        ("churn-prediction", "prod"),
    }
    assert {spoke.account_id for spoke in data.spokes if spoke.stale} == STALE_ACCOUNTS
    assert data.quarantine_count == 2
    assert data.refresh_period_seconds == 3600
    assert len(data.latest_values) == 6


def test_history_window_leaves_out_older_datapoints(hub):
    # One day back from two days later: nothing of the history is in the window.
    later = NOW + timedelta(days=2)
    data = build_dashboard_data(hub.store, load_config(), history_days=1, clock=lambda: later)

    assert data.history == ()
    assert len(data.latest_values) == 6


def test_dashboard_command_writes_a_file_with_the_hub_data(hub, tmp_path):
    out = tmp_path / "kpis.html"

    result = hub.run("dashboard", "--out", str(out), "--since", "7")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert 'data-state="populated"' in page
    document = embedded_data(page)
    groups = {
        (g["project"], g["environment"], g["metric"], g["dimensions"]): g
        for g in document["groups"]
    }
    total_jobs = groups[("fraud-detection", "dev", "TotalCompletedTrainingJobs", "")]
    assert total_jobs["value"] == 20  # latest 15 + latest 5
    assert sorted(account for account, _, _ in total_jobs["accounts"]) == sorted(
        [FRAUD_DEV_FRESH, "111111111102"]
    )
    notebook = groups[("churn-prediction", "prod", "NotebookInstancesInService", "")]
    assert notebook["accounts"][0][:2] == [CHURN_PROD_FRESH, 3]
    assert {spoke["account"] for spoke in document["spokes"] if spoke["stale"]} == STALE_ACCOUNTS
    assert {chart["metric"] for chart in document["charts"]} >= {"TotalCompletedTrainingJobs"}


def test_an_empty_hub_renders_a_dashboard_that_says_why_it_is_empty(empty_hub, tmp_path):
    out = tmp_path / "empty.html"

    result = empty_hub.run("dashboard", "--out", str(out))

    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert 'data-state="empty"' in page
    assert "No spokes have reported yet" in page
    assert "dsdash enroll" in page


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        ("rate(1 hour)", 3600),
        ("rate(15 minutes)", 900),
        ("rate(2 days)", 172800),
        ("cron(0/30 * * * ? *)", 1800),
        ("cron(0 6 * * ? *)", 86400),
        ("cron(0 */4 * * ? *)", 4 * 3600),
        # 09:00 and 17:00: the night's 16 hours are the longest pause.
        ("cron(0 9,17 * * ? *)", 16 * 3600),
        # Weekdays at 09:00 and 17:00: Friday 17:00 to Monday 09:00 is 64 hours.
        ("cron(0 9,17 ? * MON-FRI *)", 64 * 3600),
        ("cron(0 6 ? * 2 *)", 7 * 86400),
        # Days relative to the month count as monthly (31 days).
        ("cron(0 6 L * ? *)", 31 * 86400),
    ],
)
def test_refresh_period_of_a_schedule(schedule, seconds):
    assert refresh_period_seconds(schedule) == seconds


@pytest.mark.parametrize(
    "command",
    [["status", "--json"], ["dashboard", "--out", "/dev/null"], ["quarantine", "list", "--json"]],
)
def test_status_dashboard_and_quarantine_read_with_queries_only(hub, command):
    result = hub.run(*command)

    assert result.exit_code == 0, result.output
    assert "Query" in hub.operations
    assert "Scan" not in hub.operations
