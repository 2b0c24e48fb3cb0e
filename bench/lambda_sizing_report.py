"""The cost report's Lambda part: each function's measured footprint beside the memory its
template sets and the memory the model would choose, and the measured session-reuse what-if
(`bench.lambda_footprint` measures; `cli.capacity.lambda_sizing` models)."""

from __future__ import annotations

from typing import Any

from bench.support import BenchmarkResult


def sizing_section(result: BenchmarkResult, model: Any, batch: float) -> None:
    """Each function's measured footprint, its template memory, and the memory the model
    chooses (the cheapest with 1.5x the peak RSS, well within the timeout)."""
    from cli.capacity.cost_model import ingest_cpu_seconds, lambda_footprints, per_call_seconds
    from cli.capacity.lambda_sizing import FunctionFootprint, cheapest_memory, linear_in_records

    footprints = lambda_footprints(model)
    extractor, ingest = footprints["extractor"], footprints["ingest"]
    largest = str(max(int(size) for size in ingest["by_batch"]))
    typical = {
        "extractor": (
            float(extractor["cpu_ms_per_invocation"]) / 1000,
            float(extractor["aws_calls_per_invocation"]),
        ),
        "ingest": (
            ingest_cpu_seconds(model, batch),
            linear_in_records(
                {size: f["aws_calls_per_invocation"] for size, f in ingest["by_batch"].items()},
                batch,
            ),
        ),
    }
    biggest = {
        "extractor": typical["extractor"],
        "ingest": (
            float(ingest["by_batch"][largest]["cpu_ms_per_invocation"]) / 1000,
            float(ingest["by_batch"][largest]["aws_calls_per_invocation"]),
        ),
    }
    section = result.section(
        "Lambda sizing: measured CPU and peak RSS (own process, moto in another), template memory"
    )
    for name in ("extractor", "ingest"):
        figures = footprints[name]
        footprint = FunctionFootprint(
            name=name,
            cpu_seconds=typical[name][0],
            aws_calls=typical[name][1],
            largest_cpu_seconds=biggest[name][0],
            largest_aws_calls=biggest[name][1],
            peak_rss_mb=float(figures["peak_rss_mb"]),
            memory_mb=float(figures["memory_mb"]),
            timeout_seconds=float(figures["timeout_seconds"]),
        )
        choice = cheapest_memory(footprint, per_call_seconds(model))
        cpu_ms = 1000 * typical[name][0]
        section.add(
            f"{name}: CPU per warm invocation",
            f"{cpu_ms:,.0f} ms",
            "informational (varies by run)"
            + (f"; {batch:,.1f} records, interpolated" if name == "ingest" else ""),
        )
        section.add(f"{name}: peak RSS", f"{float(figures['peak_rss_mb']):,.0f} MB")
        section.add(
            f"{name}: memory (template) / cheapest that fits",
            f"{footprint.memory_mb:,.0f} MB / {choice.memory_mb} MB",
            f"modelled duration {choice.duration_seconds:,.2f} s, largest invocation "
            f"{choice.largest_duration_seconds:,.2f} s of a {footprint.timeout_seconds:,.0f} s "
            "timeout",
        )
        result.figures[name] = {
            "peak_rss_mb": float(figures["peak_rss_mb"]),
            "memory_mb": footprint.memory_mb,
            "cpu_ms_per_invocation": (
                float(figures["cpu_ms_per_invocation"])
                if name == "extractor"
                else {size: f["cpu_ms_per_invocation"] for size, f in ingest["by_batch"].items()}
            ),
            "chosen_memory_mb": choice.memory_mb,
            "memory_fits_rss_with_headroom": footprint.memory_mb >= choice.smallest_for_rss_mb,
            "modelled_duration_seconds": choice.duration_seconds,
        }
