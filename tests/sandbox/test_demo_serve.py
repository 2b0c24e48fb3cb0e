"""`dsdash demo --serve`: the operator console works against the served sandbox, and stopping it
leaves no process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT_SECONDS = 300


def _environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(extra)
    return environment


def test_served_sandbox_answers_the_console_and_stops_cleanly(tmp_path: Path) -> None:
    dsdash = str(Path(sys.executable).parent / "dsdash")
    out = tmp_path / "demo"
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [dsdash, "demo", "--spokes", "1", "--history-days", "1", "--out", str(out), "--serve"],
            cwd=tmp_path,
            env=_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        endpoint = None
        while endpoint is None and time.monotonic() < deadline and server.poll() is None:
            match = re.search(r"Sandbox serving on (http://127\.0\.0\.1:\d+)", log_path.read_text())
            endpoint = match.group(1) if match else None
            time.sleep(0.5)
        assert endpoint, f"the sandbox did not start:\n{log_path.read_text()}"
        profiles = out / "aws-config"
        console = _environment(
            AWS_CONFIG_FILE=str(profiles), AWS_SHARED_CREDENTIALS_FILE=os.devnull
        )

        status = subprocess.run(
            [dsdash, "status", "--json", "--profile", "dsdash-hub", "--endpoint-url", endpoint],
            env=console,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert status.returncode == 0, status.stderr
        spokes = json.loads(status.stdout)["spokes"]
        summary = json.loads((out / "summary.json").read_text())
        assert {spoke["account_id"] for spoke in spokes} == {
            spoke["account_id"] for spoke in summary["spokes"]
        }
        assert {spoke["state"] for spoke in spokes} == {"enrolled"}

        # The page the hub's publisher wrote during the demo, fetched from the dashboard bucket.
        fetched = out / "fetched.html"
        opened = subprocess.run(
            [
                *(dsdash, "dashboard", "--open", "--out", str(fetched)),
                *("--profile", "dsdash-hub", "--endpoint-url", endpoint),
            ],
            env=console,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert opened.returncode == 0, opened.stderr
        assert 'data-state="populated"' in fetched.read_text(encoding="utf-8")

        # A refresh requested through the endpoint is carried out by the served sandbox.
        refresh = subprocess.run(
            [
                *(dsdash, "refresh", "--wait", "--timeout", "120"),
                *("--profile", "dsdash-hub", "--endpoint-url", endpoint),
            ],
            env=console,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert refresh.returncode == 0, refresh.stdout + refresh.stderr
        assert "reported" in refresh.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
    assert server.returncode == 0, log_path.read_text()
    assert "Stopping the sandbox." in log_path.read_text()
