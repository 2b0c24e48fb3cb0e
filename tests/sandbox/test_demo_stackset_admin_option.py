"""`dsdash demo --stackset-admin`: the option reaches the sandbox, and a wrong value is a usage
error (the sandbox run itself is tests/sandbox/test_demo_delegated_admin.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from sandbox import demo as sandbox_demo


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    options: list[Any] = []

    def run_demo(demo_options: Any, progress: Any) -> Any:
        options.append(demo_options)
        raise SystemExit(0)

    monkeypatch.setattr(sandbox_demo, "run_demo", run_demo)
    return options


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ([], None),
        (["--stackset-admin", "delegated"], "delegated"),
        (["--stackset-admin", "management"], "management"),
    ],
)
def test_the_stackset_admin_option_reaches_the_sandbox(
    captured: list[Any], tmp_path: Path, arguments: list[str], expected: str | None
) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), *arguments])

    assert result.exit_code == 0, result.output
    [options] = captured
    assert options.stackset_admin == expected


def test_an_unknown_stackset_admin_is_a_usage_error(captured: list[Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--stackset-admin", "root"])

    assert result.exit_code == 2
    assert captured == []
