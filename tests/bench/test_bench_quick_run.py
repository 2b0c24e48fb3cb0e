"""`python -m bench --quick`: the report carries every figure, and its ratios come from counts.

These tests never compare a wall time with a limit: the machines are shared and noisy. They check
that each benchmark measured what it claims (counts consistent with each other and with the
sizes seeded) and that every ratio printed is the quotient of the counts it names.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.config_mutations import Outcome, corpus, judge
from contracts import (
    BUS_POLICY_MAX_CHARS,
    DEFAULT_RULES_PER_BUS_QUOTA,
    MAX_TARGETS_PER_RULE,
    PUT_EVENTS_MAX_ENTRIES,
)

REPOSITORY = Path(__file__).resolve().parents[2]
SEARCH_PAGE_SIZE = 100  # SageMaker Search and List* maximum page size

pytestmark = pytest.mark.slow


def run_bench(*arguments: str, json_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bench", *arguments]
    if json_path is not None:
        command += ["--json", str(json_path)]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    return subprocess.run(
        command,
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    json_path = tmp_path_factory.mktemp("bench") / "figures.json"
    completed = run_bench("--quick", json_path=json_path)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout, json.loads(json_path.read_text())


def figures_of(quick_run: tuple[str, dict[str, Any]], name: str) -> dict[str, Any]:
    figures: dict[str, Any] = quick_run[1]["benchmarks"][name]
    return figures


def test_report_has_a_section_for_every_benchmark(quick_run: tuple[str, dict[str, Any]]) -> None:
    report, document = quick_run
    assert document["mode"] == "quick"
    assert sorted(document["benchmarks"]) == [
        "cost",
        "dashboard",
        "enrollment",
        "extraction",
        "fanout",
        "hardening",
        "ingest",
        "publishing",
        "refresh",
    ]
    for name in document["benchmarks"]:
        assert f"[{name}] ==" in report
    for label in (
        "Search TrainingJob",
        "Describe* calls",
        "naive / ours, training jobs",
        "137 datapoints, v1 PutEvents calls",
        "DynamoDB write calls per event",
        "registry items read (BatchGetItem)",
        "60 spokes: fan-out rules",
        "per-account policy: most spokes",
        "raw / embedded",
        "silent coercions",
    ):
        assert label in report, f"{label!r} missing from the report"


def test_extraction_makes_one_pass_per_listing_and_no_describe_calls(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "extraction")
    jobs = figures["training_jobs_seeded"]
    assert figures["training_job_records"] == jobs
    assert figures["training_job_calls"] == math.ceil(jobs / SEARCH_PAGE_SIZE)
    assert figures["describe_calls"] == 0
    assert figures["max_fetches_per_listing"] == 1
    listings = [key.removeprefix("calls_") for key in figures if key.startswith("calls_")]
    assert len(listings) >= 5
    for listing in listings:
        assert figures[f"calls_{listing}"] == figures[f"pages_for_one_pass_{listing}"], listing
    assert figures["total_calls"] == sum(figures[f"calls_{listing}"] for listing in listings)
    # The metric values are real: the completed-job count matches the seed.
    assert figures["completed_jobs_reported"] == figures["completed_jobs_seeded"] > 0


def test_extraction_ratio_is_the_naive_call_count_over_ours(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "extraction")
    jobs = figures["training_job_records"]
    naive = math.ceil(jobs / SEARCH_PAGE_SIZE) + jobs
    assert figures["naive_training_job_calls"] == naive
    assert figures["naive_to_ours_training_jobs"] == pytest.approx(
        naive / figures["training_job_calls"]
    )
    naive_total = figures["total_calls"] - figures["training_job_calls"] + naive
    assert figures["naive_total_calls"] == naive_total
    assert figures["naive_to_ours_total"] == pytest.approx(naive_total / figures["total_calls"])


def test_publishing_batches_ten_per_call_and_v2_sends_one_event(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "publishing")
    sizes = sorted(
        int(key.removeprefix("n").removesuffix("_datapoints"))
        for key in figures
        if key.endswith("_datapoints") and key.startswith("n")
    )
    assert figures["headline_datapoints"] in sizes
    for size in sizes:
        prefix = f"n{size}_"
        events = figures[f"{prefix}v1_events"]
        assert events == figures[f"{prefix}v1_sent"] == size
        assert figures[f"{prefix}v1_put_events_calls"] == math.ceil(events / PUT_EVENTS_MAX_ENTRIES)
        assert figures[f"{prefix}v1_batching_ratio"] == pytest.approx(
            figures[f"{prefix}v1_one_call_per_event"] / figures[f"{prefix}v1_put_events_calls"]
        )
        assert figures[f"{prefix}v2_sent"] == figures[f"{prefix}v2_events"]
        assert figures[f"{prefix}v1_to_v2_calls"] == pytest.approx(
            figures[f"{prefix}v1_put_events_calls"] / figures[f"{prefix}v2_put_events_calls"]
        )
        assert figures[f"{prefix}v1_bytes_per_event"] == pytest.approx(
            figures[f"{prefix}v1_bytes_total"] / events
        )
    headline = f"n{figures['headline_datapoints']}_"
    assert figures[f"{headline}v2_events"] == figures[f"{headline}v2_put_events_calls"] == 1


def test_ingest_costs_at_most_two_writes_per_event_and_reads_only_the_batchs_senders(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "ingest")
    assert figures["batch_failures"] == figures["replay_failures"] == 0
    assert figures["dynamodb_write_calls_per_event"] <= 2
    assert max(figures["write_calls_by_case"].values()) <= 2
    # Two records (regions) per sender; a registry larger than the senders is not read whole.
    assert figures["registry_size"] > figures["batch_distinct_senders"]
    assert figures["batch_records"] == 2 * figures["batch_distinct_senders"]
    assert figures["registry_items_read_per_batch"] == figures["batch_distinct_senders"]
    assert figures["registry_batch_get_calls"] == 1
    # One latest item per spoke and region, the batch's rows packed into Firehose records (the
    # quick batch's ~100 KB fit one of 1,000 KiB), every datapoint a row of the Parquet files.
    assert figures["latest_items_after_batch"] == figures["batch_records"]
    assert figures["firehose_records"] == 1 < figures["batch_records"]
    assert figures["history_rows_after_batch"] == figures["batch_datapoints"]


def test_ingest_replays_add_no_datapoint_and_a_conflict_is_quarantined(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "ingest")
    assert figures["replay_new_datapoint_keys"] == 0
    assert figures["replay_quarantined"] == 0
    # An event is one conditional UpdateItem of its spoke's latest item (freshness included); an
    # identical replay is that one write refused by its condition, and nothing else.
    assert figures["replay_dynamodb_write_calls"] <= figures["batch_dynamodb_write_calls"]
    assert figures["replay_dynamodb_write_calls"] <= figures["batch_records"]
    assert figures["conflicting_replay_quarantined"] is True


def test_ingest_invocations_fall_with_the_batch_size_and_latest_reads_follow_spokes(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "ingest")
    per_thousand = figures["lambda_invocations_per_1000_datapoints"]
    assert per_thousand["1"] > per_thousand["10"] > per_thousand["100"] > 0
    assert figures["latest_read_items"] == figures["latest_items_after_batch"]
    assert figures["latest_read_values"] == figures["batch_datapoints"]


def test_fanout_projection_matches_moto_and_names_where_each_design_stops(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "fanout")
    for spokes in (60, 300, 1500):
        assert figures[f"s{spokes}_fanout_rules"] == math.ceil(spokes / MAX_TARGETS_PER_RULE)
        assert figures[f"s{spokes}_max_targets_per_rule"] <= MAX_TARGETS_PER_RULE
        assert figures[f"s{spokes}_rules_headroom"] == (
            DEFAULT_RULES_PER_BUS_QUOTA
            - figures["other_rules_on_hub_bus"]
            - figures[f"s{spokes}_fanout_rules"]
        )
    assert figures["moto_s60_fanout_rules"] == figures["s60_fanout_rules"]
    assert figures["moto_s60_max_targets_per_rule"] == MAX_TARGETS_PER_RULE
    assert figures["moto_s60_policy_chars"] == figures["organization_policy_chars"]
    assert figures["moto_s60_second_run_write_calls"] == 0
    assert figures["moto_s60_per_account_refused"] is True
    assert figures["moto_s60_per_account_policy_unchanged"] is True
    assert (
        figures["per_account_policy_chars_at_limit"]
        <= BUS_POLICY_MAX_CHARS
        < figures["per_account_policy_chars_beyond_limit"]
    )
    assert figures["per_account_spoke_limit"] < 60
    assert figures["fanout_spoke_capacity"] == (
        (DEFAULT_RULES_PER_BUS_QUOTA - figures["other_rules_on_hub_bus"]) * MAX_TARGETS_PER_RULE
    )


def test_dashboard_ratio_is_raw_points_over_embedded_points(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "dashboard")
    # One extraction per spoke, metric and day, each written to the history files.
    assert figures["raw_points"] == figures["spokes"] * figures["metrics"] * figures["history_days"]
    assert figures["history_rows_written"] == figures["raw_points"]
    assert 0 < figures["embedded_points"] < figures["raw_points"]
    assert figures["raw_to_embedded"] == pytest.approx(
        figures["raw_points"] / figures["embedded_points"]
    )
    assert figures["html_megabytes"] == pytest.approx(figures["html_bytes"] / 1e6)
    if figures["browser_measured"]:
        assert figures["browser_charts_drawn"] == figures["embedded_charts"]
        assert figures["browser_console_errors"] == 0


def test_only_runs_the_named_benchmark(tmp_path: Path) -> None:
    json_path = tmp_path / "only.json"
    completed = run_bench("--quick", "--only", "publishing", json_path=json_path)
    assert completed.returncode == 0, completed.stderr
    assert list(json.loads(json_path.read_text())["benchmarks"]) == ["publishing"]
    assert "[publishing] ==" in completed.stdout
    assert "[extraction] ==" not in completed.stdout


def test_an_unknown_benchmark_name_is_refused() -> None:
    completed = run_bench("--only", "extractoin")
    assert completed.returncode == 2
    assert "invalid choice: 'extractoin'" in completed.stderr


def test_hardening_config_figures_count_the_outcomes_of_the_corpus(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "hardening")
    judged = [judge(variant) for variant in corpus(quick=True)]
    assert figures["config_variants"] == len(judged) > 0
    assert figures["tracebacks"] == sum(j.outcome is Outcome.TRACEBACK for j in judged) == 0
    assert (
        figures["silent_coercions"]
        == sum(j.outcome is Outcome.SILENT_COERCION for j in judged)
        == 0
    )


def test_hardening_events_are_all_refused_or_stored_exactly(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "hardening")
    assert figures["hostile_events"] >= 150
    assert figures["hostile_events"] == figures["expected_refusals"] + figures["valid_variants"]
    assert figures["stored_wrongly"] == 0
    assert figures["crashes"] == 0
    assert figures["valid_variants_refused"] == 0


def test_enrollment_calls_per_account_do_not_grow_with_the_spokes_enrolled(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "enrollment")
    per_size = figures["calls_per_account"]
    assert sorted(int(size) for size in per_size) == [10, 100]
    assert len(set(per_size.values())) == 1
    assert figures["calls_per_account_flat"] is True
    assert figures["calls_per_account_max"] == max(per_size.values())
    assert figures["calls_per_account_max"] <= figures["calls_per_account_goal"]


def test_one_on_demand_refresh_reaches_every_subscribed_spoke_in_two_hub_calls(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    figures = figures_of(quick_run, "refresh")
    assert figures["on_demand_reach"] == figures["on_demand_spokes"]
    assert figures["on_demand_extractions"] == figures["on_demand_spokes"]
    assert figures["on_demand_hub_calls"] == 2  # one PutEvents, one Publish
    assert figures["on_demand_account_scope_extractions"] == 1
