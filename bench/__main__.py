"""`python -m bench` (`make bench`): run the benchmarks and print a readable report.

    python -m bench                    every benchmark at full size (a few minutes)
    python -m bench --quick            smaller sizes (under a minute)
    python -m bench --only ingest      one benchmark (repeat --only for several)
    python -m bench --json out.json    also write every figure as JSON

Benchmarks print counts and the ratios computed from them, side by side in one run; wall times
are informational and never compared against a limit (the machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import (
    cost,
    dashboard_scale,
    enrollment_scale,
    extraction,
    fanout,
    hardening_config,
    hardening_events,
    ingest,
    publishing,
    refresh_reach,
)
from bench.support import (
    BenchmarkResult,
    isolate_from_real_aws,
    quiet_function_logs,
    render_report,
    stopwatch,
)

Benchmark = Callable[..., BenchmarkResult]

BENCHMARKS: dict[str, Benchmark] = {
    "extraction": extraction.run,
    "publishing": publishing.run,
    "ingest": ingest.run,
    "fanout": fanout.run,
    "dashboard": dashboard_scale.run,
    "hardening_config": hardening_config.run,
    # Reports under "hardening" (result name), with the config hardening figures if any.
    "hardening_events": hardening_events.run,
    "enrollment": enrollment_scale.run,
    "refresh": refresh_reach.run,
    # After ingest: counts what the ingest path does now; writes cli/capacity/
    # measured_counts.json on a full run (`dsdash plan` reads it).
    "cost": cost.run,
}


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="dsdash benchmarks: AWS call counts, sizes and ratios (moto, in-process).",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable); one of: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every figure as JSON")
    return parser.parse_args(argv)


def _figures_by_name(results: Sequence[BenchmarkResult]) -> dict[str, dict[str, object]]:
    """Figures by result name; results sharing a name (the hardening ones) share one object."""
    figures: dict[str, dict[str, object]] = {}
    for result in results:
        figures.setdefault(result.name, {}).update(result.figures)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    isolate_from_real_aws()
    quiet_function_logs()
    names = [name for name in BENCHMARKS if not arguments.only or name in arguments.only]
    mode = "quick" if arguments.quick else "full"
    results: list[BenchmarkResult] = []
    with stopwatch() as total:
        for name in names:
            print(f"running {name} ({mode})...", file=sys.stderr, flush=True)
            with stopwatch() as watch:
                result = BENCHMARKS[name](quick=arguments.quick)
            result.figures["benchmark_seconds"] = watch.seconds
            results.append(result)
    print(render_report(results, mode=mode, seconds=total.seconds))
    if arguments.json is not None:
        document = {
            "mode": mode,
            "total_seconds": total.seconds,
            "benchmarks": _figures_by_name(results),
        }
        arguments.json.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        print(f"figures written to {arguments.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
