"""Writes docs/dashboard.png, the README's picture of the dashboard, from the sample data.

Run from the repository root after changing the page:
    PYTHONPATH=. .venv/bin/python tests/dashboard/update_docs_screenshot.py
It drives Debian's /usr/bin/chromium like the browser tests (never `playwright install`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dashboard_sample_data import sample_dashboard_data
from playwright.sync_api import sync_playwright
from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, REPOSITORY

from dashboard.html import render_dashboard

OUTPUT = REPOSITORY / "docs" / "dashboard.png"


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    page_file = REPOSITORY / "test-artifacts" / "docs-dashboard.html"
    page_file.parent.mkdir(exist_ok=True)
    page_file.write_text(render_dashboard(sample_dashboard_data(include_hostile=False)), "utf-8")
    OUTPUT.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_file.as_uri(), wait_until="load")
        page.wait_for_selector("#charts[data-ready='true']", state="attached")
        page.screenshot(path=str(OUTPUT), full_page=True)
        browser.close()
    print(
        f"wrote {OUTPUT.relative_to(Path.cwd()) if OUTPUT.is_relative_to(Path.cwd()) else OUTPUT}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
