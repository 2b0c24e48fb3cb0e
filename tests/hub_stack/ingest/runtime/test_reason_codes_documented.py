"""Operators filter quarantined events by reason code: the README's list must be the real one."""

from __future__ import annotations

import re
from pathlib import Path

from hub_stack.ingest.runtime.event_validation import RejectionCode

README = Path(__file__).resolve().parents[4] / "README.md"


def test_every_reason_code_is_documented_and_every_documented_code_exists() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Quarantine reason codes", 1)[1].split("\n## ", 1)[0]
    # The codes open each table row: "| `Code` |" or "| `Code` / `Other` |".
    first_cells = re.findall(r"^\| ([^|]+) \|", section, flags=re.MULTILINE)
    documented = {code for cell in first_cells for code in re.findall(r"`([A-Za-z]+)`", cell)}
    assert documented == {code.value for code in RejectionCode}
