"""`dsdash plan`: every quota line with what to request, and both cost columns, without AWS."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from cli.main import app

QUOTAS = (
    "EventBridge rules per bus",
    "Hub bus policy size",
    "Events per second on the hub bus (PutEvents rate)",
    "Lambda concurrent executions",
    "DynamoDB write units per second, one partition",
    "DynamoDB write units per second, table",
    "Athena active DML queries",
)


def test_plan_prints_every_quota_and_both_cost_columns() -> None:
    result = CliRunner().invoke(app, ["plan", "--spokes", "2000", "--metrics", "15"])

    assert result.exit_code == 0, result.output
    for quota in QUOTAS:
        assert quota in result.stdout
    # 2,000 spokes in per-account mode need 401 rules, over the default 300.
    assert re.search(r"EventBridge rules per bus.*needs\s+401.*request \d", result.stdout)
    header = next(
        line for line in result.stdout.splitlines() if "dsdash" in line and "sample" in line
    )
    assert header.index("dsdash") < header.index("sample")
    total = next(line for line in result.stdout.splitlines() if line.strip().startswith("Total"))
    assert len(re.findall(r"\d[\d,]*\.\d\d", total)) == 2
    assert "dsdash / sample:" in result.stdout


def test_a_bad_schedule_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["plan", "--spokes", "10", "--schedule", "hourly"])

    assert result.exit_code == 2
    assert "--schedule" in result.stderr
