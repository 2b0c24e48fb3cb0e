"""The judge behind `hardening.silent_coercions` can tell a coercion from a kept meaning, so the
bench figure can fail."""

from __future__ import annotations

from bench.config_mutations import AMBIGUOUS, Outcome, Variant, corpus, judge
from config.loader import DEFAULT_CONFIG_PATH

EXAMPLE = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


def test_an_accepted_ambiguous_value_is_a_silent_coercion():
    # The example's own `retention_days: 400`, declared ambiguous: accepted, so counted.
    variant = Variant("probe", EXAMPLE, ("retention_days",), AMBIGUOUS)

    assert judge(variant).outcome is Outcome.SILENT_COERCION


def test_a_loaded_value_of_another_type_is_a_silent_coercion():
    # The file says 400 (a number); a judge expecting the text "400" must flag the load.
    variant = Variant("probe", EXAMPLE, ("retention_days",), "400")

    assert judge(variant).outcome is Outcome.SILENT_COERCION


def test_a_kept_meaning_and_a_refusal_are_not_coercions():
    assert judge(Variant("kept", EXAMPLE, ("retention_days",), 400)).outcome is Outcome.ACCEPTED
    refused = EXAMPLE.replace("retention_days: 400", "retention_days: 0o620")
    assert judge(Variant("refused", refused, ("retention_days",), AMBIGUOUS)).outcome is (
        Outcome.REFUSED
    )


def test_the_corpus_is_fixed_and_large_enough():
    first, second = corpus(), corpus()

    assert [variant.name for variant in first] == [variant.name for variant in second]
    assert len(first) >= 250
