"""Hardening of the config loader: a fixed corpus of mutated config files (`bench.config_mutations`)
through `config.loader.parse_config`, the function behind `dsdash validate`.

Figures (the `hardening` object of `--json`, shared with the hub-event hardening figures):
- `config_variants`: files in the corpus (goal: at least 250);
- `tracebacks`: files that raised anything but ConfigError (goal: 0);
- `silent_coercions`: accepted files whose loaded value differs from what the text means
  (goal: 0).
Every figure is counted from the outcomes, never from the corpus's own constants. The slowest
file's time is printed for information.
"""

from __future__ import annotations

from collections import Counter

from bench.config_mutations import Outcome, corpus, judge
from bench.support import BenchmarkResult

# Both hardening modules report under one name, so `--json` holds one `hardening` object.
RESULT_NAME = "hardening"


def run(*, quick: bool = False) -> BenchmarkResult:
    judgements = [judge(variant) for variant in corpus(quick=quick)]
    outcomes = Counter(judgement.outcome for judgement in judgements)
    slowest = max(judgements, key=lambda judgement: judgement.seconds)
    result = BenchmarkResult(RESULT_NAME, "Hardening: mutated config files")
    result.figures.update(
        {
            "config_variants": len(judgements),
            "tracebacks": outcomes[Outcome.TRACEBACK],
            "silent_coercions": outcomes[Outcome.SILENT_COERCION],
        }
    )
    section = result.section("config/projects.yaml mutated (value tokens and structure)")
    section.add("files", len(judgements), "goal >= 250")
    section.add("refused (exit 2)", outcomes[Outcome.REFUSED])
    section.add("accepted, meaning kept", outcomes[Outcome.ACCEPTED])
    section.add("silent coercions", outcomes[Outcome.SILENT_COERCION], "goal 0")
    section.add("tracebacks", outcomes[Outcome.TRACEBACK], "goal 0")
    section.add("slowest file (s)", slowest.seconds, f"informational: {slowest.variant.name}")
    for judgement in judgements:
        if judgement.outcome in (Outcome.TRACEBACK, Outcome.SILENT_COERCION):
            result.notes.append(
                f"{judgement.outcome}: {judgement.variant.name} ({judgement.detail})"
            )
    return result
