"""The README is the platform engineer's first contact: keep its promises checkable."""

from __future__ import annotations

import re
from pathlib import Path

from cli.commands.metrics import render_metric_catalog_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
CATALOG = re.compile(
    r"<!-- metric-catalog:start -->\n(?P<body>.*?)<!-- metric-catalog:end -->", re.DOTALL
)


def test_metric_catalog_in_readme_matches_the_registry() -> None:
    match = CATALOG.search(README.read_text(encoding="utf-8"))
    assert match, "README.md lost its metric-catalog markers"
    assert match.group("body").strip() == render_metric_catalog_markdown().strip(), (
        "README.md's metric catalog is stale: run `make readme-catalog`"
    )


def test_setup_is_the_two_make_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text
    assert "make test" in text
