"""`dsdash demo` as a user runs it: a subprocess, with its files and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_dsdash_demo_with_two_spokes_enrolls_them_and_matches_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    # The console script, from outside the repository: what `make demo` runs, and a user would.
    dsdash = Path(sys.executable).parent / "dsdash"
    assert dsdash.exists(), "the dsdash console script is installed with the package"
    completed = subprocess.run(
        [str(dsdash), "demo", "--spokes", "2", "--history-days", "2", "--out", str(out)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is True
    # Two spokes in tagged OUs, plus the account the demo creates and moves in.
    assert len(summary["spokes"]) == 3
    assert {spoke["state"] for spoke in summary["spokes"]} == {"enrolled"}
    assert all(spoke["matching"] == spoke["expected"] > 0 for spoke in summary["spokes"])
    # Two simulated days of history went the real way (extractor, transport, ingest) first.
    assert summary["history"]["extractions"] > 0
    assert summary["history"]["datapoints"] > 0
    page = (out / "dashboard.html").read_text()
    assert all(spoke["account_id"] in page for spoke in summary["spokes"])
    assert "every metric equals the seeded truth" in completed.stdout
    # Progress goes to stderr, the summary to stdout; no handler log lines leak into either.
    assert "Synthesizing the CDK app" in completed.stderr
    assert '"level":"INFO"' not in completed.stdout + completed.stderr
