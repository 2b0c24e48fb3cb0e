"""Adding a metric means one module: the README's example, dropped into the metrics package as a
new module, is registered, accepted by the config, given its IAM actions and listed in the
catalog, with nothing else edited (README, "Adding a metric")."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import metrics
from cli.commands.metrics import render_metric_catalog_markdown
from config.loader import DEFAULT_CONFIG_PATH, parse_config
from metrics import registry
from metrics.registry import build_metric, iam_statements_for

README = Path(__file__).resolve().parents[2] / "README.md"
MODULE_NAME = "sagemaker_processing"
METRIC_NAME = "ProcessingJobsInProgress"


def _readme_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Adding a metric\n", 1)[1]
    match = re.search(r"```python\n(?P<code>.*?)```", section, re.DOTALL)
    assert match, "README's 'Adding a metric' section has no python example"
    return match.group("code")


@pytest.fixture
def added_metric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The README's module, in a directory the metrics package searches (as if in `metrics/`),
    with a throwaway copy of the registry; everything is undone afterwards."""
    (tmp_path / f"{MODULE_NAME}.py").write_text(_readme_example(), encoding="utf-8")
    monkeypatch.setattr(metrics, "__path__", [*metrics.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.metric_module_names.cache_clear()
    try:
        yield f"metrics.{MODULE_NAME}"
    finally:
        registry.metric_module_names.cache_clear()
        sys.modules.pop(f"metrics.{MODULE_NAME}", None)


def test_a_new_module_is_discovered_and_registered(added_metric: str) -> None:
    assert METRIC_NAME not in registry._REGISTRY
    assert added_metric in registry.metric_module_names()
    assert METRIC_NAME in registry.all_metric_classes()


def test_its_iam_actions_are_derived_from_the_class(added_metric: str) -> None:
    statements = iam_statements_for([build_metric(METRIC_NAME)])
    assert [statement.actions for statement in statements] == [("sagemaker:ListProcessingJobs",)]


def test_the_config_accepts_it_and_the_catalog_lists_it(added_metric: str) -> None:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    selecting = text.replace(
        "    - TotalCompletedTrainingJobs\n",
        f"    - TotalCompletedTrainingJobs\n    - {METRIC_NAME}\n",
        1,
    )
    assert selecting != text, "the example config no longer lists TotalCompletedTrainingJobs"
    config = parse_config(selecting, source=DEFAULT_CONFIG_PATH)
    # Every project without its own list extracts the defaults, the new metric among them.
    assert any(METRIC_NAME in project.metric_names for project in config.projects.values())
    assert f"| `{METRIC_NAME}` | Count |" in render_metric_catalog_markdown()


def test_without_the_module_the_metric_is_unknown() -> None:
    # The fixture's effect is the module, not a leftover: the real package has no such metric.
    assert METRIC_NAME not in registry.all_metric_classes()
