"""Without the `sandbox` extra (moto, and the sandbox it powers), everything else still works.

`pip install dsdash` installs no moto: every module the wheel ships except `sandbox` must import,
`dsdash --help` must list every command, and `dsdash demo` must say in one line how to get the
extra. Each check runs in a fresh interpreter whose `sitecustomize` makes the blocked top-level
modules unimportable (and records every attempt, so an import hidden behind `except ImportError`
still fails the test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import COMMAND_MODULES

REPOSITORY = Path(__file__).resolve().parents[2]

BLOCKER = """
import os, sys
from importlib.abc import MetaPathFinder

BLOCKED = frozenset(os.environ["DSDASH_TEST_BLOCKED"].split(","))
ATTEMPTS = []


class BlockedModules(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            ATTEMPTS.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None


sys.meta_path.insert(0, BlockedModules())
"""

# Imports every module of every package the wheel ships (pyproject's package list) but the
# sandbox, plus the CDK app module, then prints what it imported and what it tried to block.
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys, tomllib
import sitecustomize

with open("pyproject.toml", "rb") as file:
    setuptools = tomllib.load(file)["tool"]["setuptools"]
imported = []
for package in setuptools["packages"]:
    if package.partition(".")[0] == "sandbox":
        continue
    module = importlib.import_module(package)
    imported.append(package)
    for info in pkgutil.iter_modules(module.__path__, package + "."):
        if not info.ispkg:
            importlib.import_module(info.name)
            imported.append(info.name)
for name in setuptools.get("py-modules", []):
    importlib.import_module(name)
    imported.append(name)
print(json.dumps({"imported": imported, "blocked": sitecustomize.ATTEMPTS}))
"""


@pytest.fixture(scope="module")
def blocker_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("without-sandbox-extra")
    (directory / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    return directory


def run_without(
    blocked: str, blocker_path: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(
        PYTHONPATH=os.pathsep.join((str(blocker_path), str(REPOSITORY))),
        DSDASH_TEST_BLOCKED=blocked,
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_shipped_module_but_the_sandbox_imports_without_moto(blocker_path: Path) -> None:
    completed = run_without("moto,sandbox", blocker_path, "-c", IMPORT_EVERYTHING)

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.splitlines()[-1])
    assert report["blocked"] == [], "these imports need the sandbox extra"
    imported = set(report["imported"])
    assert set(COMMAND_MODULES) <= imported
    # The Lambda runtimes, the page and the CDK app are among what was imported.
    for module in (
        "hub_stack.ingest.runtime.ingest",
        "spoke_stackset.extractor.runtime.extractor",
        "app",
    ):
        assert module in imported
    assert "dashboard.html" in imported


def test_dsdash_help_lists_every_command_without_the_extra(blocker_path: Path) -> None:
    completed = run_without("moto,sandbox", blocker_path, "-m", "cli.main", "--help")

    assert completed.returncode == 0, completed.stderr
    for command in ("validate", "status", "query", "enroll", "dlq", "alerts", "demo"):
        assert f"\n  {command} " in completed.stdout


def test_dsdash_demo_without_moto_says_how_to_install_the_extra(
    blocker_path: Path, tmp_path: Path
) -> None:
    # What a wheel installed without the extra looks like: the sandbox ships, moto does not.
    completed = run_without(
        "moto", blocker_path, "-m", "cli.main", "demo", "--out", str(tmp_path / "demo")
    )

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.splitlines() == [
        "dsdash: install the sandbox extra: pip install 'dsdash[sandbox]' (moto is not installed)"
    ]
    assert completed.stdout == ""
    assert not (tmp_path / "demo").exists()
