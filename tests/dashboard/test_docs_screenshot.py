"""The README's picture was made from `make demo`'s output by update_docs_screenshot.py.

The PNG carries, in its own text chunks, the SHA-256 of the demo page and summary it was taken
from; both are committed beside it. A picture of synthetic data, or one left behind after the
page changed, fails here: its digests do not match, or the page it names is not the summary's
demo.
"""

from __future__ import annotations

import json
import re
import struct
from typing import Any

from update_docs_screenshot import (
    OUTPUT,
    PAGE_COPY,
    PAGE_DIGEST_KEY,
    SUMMARY_COPY,
    SUMMARY_DIGEST_KEY,
    VIEWPORT,
    read_text_chunks,
    sha256_of,
)

DATA_BLOCK = re.compile(
    r'<script type="application/json" id="dashboard-data">(?P<json>.*?)</script>', re.DOTALL
)
# The demo backfills 14 days of hourly extractions: a chart of its history has an hourly point for
# at least 13 whole days (the first and last buckets may be partial).
MIN_HISTORY_POINTS = 13 * 24


def page_data() -> dict[str, Any]:
    match = DATA_BLOCK.search(PAGE_COPY.read_text(encoding="utf-8"))
    assert match is not None, f"{PAGE_COPY} has no dashboard data block"
    data: dict[str, Any] = json.loads(match["json"])
    return data


def test_the_picture_names_the_demo_output_it_was_taken_from() -> None:
    png = OUTPUT.read_bytes()
    chunks = read_text_chunks(png)
    assert chunks.get(PAGE_DIGEST_KEY) == sha256_of(PAGE_COPY), (
        "docs/dashboard.png was not taken from docs/dashboard-demo.html: run `make demo`, then "
        "tests/dashboard/update_docs_screenshot.py"
    )
    assert chunks.get(SUMMARY_DIGEST_KEY) == sha256_of(SUMMARY_COPY)
    (width,) = struct.unpack(">I", png[16:20])  # IHDR width
    assert width == VIEWPORT["width"]


def test_the_pictured_page_is_the_summary_demo_with_history() -> None:
    summary = json.loads(SUMMARY_COPY.read_text(encoding="utf-8"))
    assert summary["ok"], "the pictured demo failed its check against the seeded truth"
    assert summary["history"]["extractions"] > 0
    data = page_data()
    assert {spoke["account"] for spoke in data["spokes"]} == {
        spoke["account_id"] for spoke in summary["spokes"]
    }
    assert data["charts"], "the pictured page has no history chart"
    for chart in data["charts"]:
        assert chart["spokeLines"], f"{chart['metric']}: no per-account lines"
        longest = max(sum(value is not None for value in series["y"]) for series in chart["series"])
        assert longest >= MIN_HISTORY_POINTS, f"{chart['metric']}: {longest} points"
