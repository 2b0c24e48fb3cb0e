"""Writes docs/dashboard.png, the README's picture of the dashboard, from `make demo`'s output.

Run from the repository root after `make demo` (or `dsdash demo --out DIR`):
    PYTHONPATH=. .venv/bin/python tests/dashboard/update_docs_screenshot.py [DIR]
DIR defaults to demo-output. It drives Debian's /usr/bin/chromium like the browser tests (never
`playwright install`).

Provenance: the picture must show what the product draws, not a synthetic stand-in. So the
script copies the demo's page and summary beside the image (docs/dashboard-demo.html,
docs/dashboard-demo-summary.json) and records in the PNG's own text chunks the SHA-256 of both
and the demo's run figures. `test_docs_screenshot.py` recomputes the digests from the committed
files and checks that the page's data is the summary's demo (same hub, same spoke accounts, a
truth check that passed, history extracted), so a picture of anything else fails the test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import sys
import zlib
from collections.abc import Mapping
from pathlib import Path

from playwright.sync_api import sync_playwright
from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, REPOSITORY

DOCS = REPOSITORY / "docs"
OUTPUT = DOCS / "dashboard.png"
PAGE_COPY = DOCS / "dashboard-demo.html"
SUMMARY_COPY = DOCS / "dashboard-demo-summary.json"
VIEWPORT = {"width": 1280, "height": 900}
# The top of the page: cards, filters, the table and the first rows of charts (the whole page of
# 14 charts would be a 5,000-pixel picture).
PICTURE_HEIGHT = 2300
# PNG text-chunk keywords (1-79 Latin-1 characters, https://www.w3.org/TR/png/#11tEXt).
PAGE_DIGEST_KEY = "dsdash:page-sha256"
SUMMARY_DIGEST_KEY = "dsdash:summary-sha256"
SOURCE_KEY = "dsdash:source"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def add_text_chunks(png: bytes, texts: Mapping[str, str]) -> bytes:
    """`png` with one tEXt chunk per entry, right after IHDR (the first chunk, 25 bytes)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    header_end = len(PNG_SIGNATURE) + 25
    chunks = b"".join(
        _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
        for key, value in texts.items()
    )
    return png[:header_end] + chunks + png[header_end:]


def read_text_chunks(png: bytes) -> dict[str, str]:
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    texts: dict[str, str] = {}
    offset = len(PNG_SIGNATURE)
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        offset += 12 + length
    return texts


def main(arguments: list[str]) -> int:
    demo_dir = Path(arguments[0]) if arguments else REPOSITORY / "demo-output"
    page, summary = demo_dir / "dashboard.html", demo_dir / "summary.json"
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    if not (page.exists() and summary.exists()):
        print(f"{page} or {summary} is missing: run `make demo` first", file=sys.stderr)
        return 1
    figures = json.loads(summary.read_text(encoding="utf-8"))
    if not figures.get("ok"):
        print(
            f"{summary}: the demo did not pass its truth check; not picturing it", file=sys.stderr
        )
        return 1
    DOCS.mkdir(exist_ok=True)
    shutil.copyfile(page, PAGE_COPY)
    shutil.copyfile(summary, SUMMARY_COPY)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport=VIEWPORT)
        tab.goto(PAGE_COPY.as_uri(), wait_until="load")
        tab.wait_for_selector("#charts[data-ready='true']", state="attached")
        png = tab.screenshot(
            full_page=True,
            clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": PICTURE_HEIGHT},
        )
        browser.close()
    history = figures.get("history", {})
    OUTPUT.write_bytes(
        add_text_chunks(
            png,
            {
                SOURCE_KEY: (
                    f"dsdash demo: {len(figures['spokes'])} spokes, "
                    f"{history.get('extractions', 0)} backfilled extractions, "
                    f"hub {figures['hub_account_id']}"
                ),
                PAGE_DIGEST_KEY: sha256_of(PAGE_COPY),
                SUMMARY_DIGEST_KEY: sha256_of(SUMMARY_COPY),
            },
        )
    )
    print(f"wrote {OUTPUT}, {PAGE_COPY.name} and {SUMMARY_COPY.name} from {demo_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
