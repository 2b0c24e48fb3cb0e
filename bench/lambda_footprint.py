"""Lambda CPU time, peak memory and configured memory of the spoke extractor and the hub ingest
function (and of the sample's two functions, reconstructed), measured for the cost model.

- **Configured memory and timeout** come from the synthesized templates (`MemorySize`, `Timeout`
  of the functions named `contracts.SPOKE_EXTRACTOR_FUNCTION_NAME` and
  `contracts.HUB_INGEST_FUNCTION_NAME`), for the repository's `config/projects.yaml`.
- **CPU time and peak RSS** are the function's own: moto runs as a server (moto's
  `ThreadedMotoServer`) in *this* process, and each handler runs in a process of its own
  (`bench.lambda_runner`) whose boto3 reaches the server through `AWS_ENDPOINT_URL`. That process
  imports the handler, is invoked once (cold), then several times warm; a warm invocation's
  `time.process_time()` is what the function computed (serialising, parsing, validating), none
  of moto's work, and the peak RSS (`VmHWM`, see `bench.lambda_runner`) is that of a process
  holding only the function. CPU times vary from run to run and machine to machine: they are
  printed, never asserted.

Ingest is measured on SQS batches of 1, 10 and 100 records (what its event-source mapping can
deliver) of 15-datapoint events, each invocation a new extraction of spokes enrolled in the
registry (a refused record fails the measurement); the extractor on a small spoke (20 training
jobs, every listing one page) with the catalog's SageMaker metrics. The sample's two functions
(`bench.sample_design_functions`, a reconstruction) are measured the same way, so both designs
are priced on one model. The handlers keep their session and clients between warm invocations
(`runtime_common.aws.warm_client`), as on Lambda; the sample's reconstruction does too.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import boto3

from bench.extraction import REGION as EXTRACTION_REGION
from bench.sample_design_functions import create_sample_table
from contracts import (
    HUB_INGEST_FUNCTION_NAME,
    SPOKE_BUS_NAME,
    SPOKE_EXTRACTOR_FUNCTION_NAME,
)

REPOSITORY: Final = Path(__file__).resolve().parents[1]
# The extraction benchmark's region: its seeding writes moto's backend of that region.
REGION: Final = EXTRACTION_REGION
SERVER_ACCOUNT: Final = "123456789012"  # moto's default account, the server's credentials
WARM_INVOCATIONS: Final = 3
INGEST_BATCH_SIZES: Final = (1, 10, 100)
INGEST_METRICS: Final = 15
SAMPLE_METRIC_COUNTS: Final = (1, 15)
HUB_TABLE: Final = "bench-footprint-hub"
SAMPLE_TABLE: Final = "bench-footprint-sample"
KIB_PER_MB: Final = 1024


def _function_settings(template: Mapping[str, Any], function_name: str) -> dict[str, float]:
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if (
            resource["Type"] == "AWS::Lambda::Function"
            and properties.get("FunctionName") == function_name
        ):
            return {
                "memory_mb": float(properties["MemorySize"]),
                "timeout_seconds": float(properties["Timeout"]),
            }
    raise LookupError(f"no function named {function_name} in the synthesized template")


def synthesized_functions() -> dict[str, dict[str, float]]:
    """Memory and timeout of the extractor and of ingest, as the synthesized templates set them."""
    import aws_cdk as cdk

    from cdk_support.synthesis import dsdash_stack_synthesizer
    from config.loader import load_config
    from hub_stack.stack import HubStack
    from spoke_stackset.stack import synthesize_spoke_template

    config = load_config(REPOSITORY / "config" / "projects.yaml")
    with tempfile.TemporaryDirectory(prefix="dsdash-footprint-") as directory:
        spoke = synthesize_spoke_template(
            config, next(iter(config.projects)), outdir=Path(directory) / "spoke"
        )
        app = cdk.App(outdir=str(Path(directory) / "hub"))
        hub = HubStack(app, "DsdashHub", config=config, synthesizer=dsdash_stack_synthesizer())
        hub_template = app.synth().get_stack_by_name(hub.stack_name).template
    return {
        "extractor": _function_settings(spoke.template, SPOKE_EXTRACTOR_FUNCTION_NAME),
        "ingest": _function_settings(hub_template, HUB_INGEST_FUNCTION_NAME),
    }


@contextmanager
def _moto_server() -> Iterator[str]:
    """moto as a server in this process, and this process's boto3 pointed at it (for seeding)."""
    from moto.server import ThreadedMotoServer

    # The server's request log (werkzeug) is noise in the report.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        yield endpoint
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved
        server.stop()


def _invoke(
    endpoint: str,
    handler: str,
    function_name: str,
    events: Sequence[Any],
    environment: Mapping[str, str],
) -> dict[str, Any]:
    """Run `handler` on `events` in a process of its own; its runner's JSON result."""
    with tempfile.TemporaryDirectory(prefix="dsdash-footprint-") as directory:
        result_path = Path(directory) / "result.json"
        spec = {
            "handler": handler,
            "events": list(events),
            "function_arn": f"arn:aws:lambda:{REGION}:{SERVER_ACCOUNT}:function:{function_name}",
            "result_path": str(result_path),
        }
        variables = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "POWERTOOLS_", "TABLE_", "PYTHON"))
        }
        variables.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": endpoint,
                "PYTHONPATH": str(REPOSITORY),
                "POWERTOOLS_SERVICE_NAME": function_name,
                "AWS_LAMBDA_FUNCTION_NAME": function_name,
                **environment,
            }
        )
        completed = subprocess.run(
            [sys.executable, "-m", "bench.lambda_runner"],
            input=json.dumps(spec),
            text=True,
            env=variables,
            cwd=REPOSITORY,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=600,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{handler} failed in its measured process:\n{completed.stderr}")
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        return result


def _figures(result: Mapping[str, Any], warm: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "cpu_ms_per_invocation": 1000 * statistics.median(i["cpu_seconds"] for i in warm),
        "aws_calls_per_invocation": statistics.median(i["aws_calls"] for i in warm),
        "cold_invocation_cpu_ms": 1000 * result["invocations"][0]["cpu_seconds"],
        "import_cpu_ms": 1000 * result["import_cpu_seconds"],
        "peak_rss_mb": result["peak_rss_kib"] / KIB_PER_MB,
    }


def _by_size(
    result: Mapping[str, Any], sizes: Sequence[int], warm: int
) -> dict[str, dict[str, Any]]:
    """Figures per size, from a run of one cold invocation then `warm` invocations per size."""
    invocations = result["invocations"][1:]
    return {
        str(size): _figures(result, invocations[index * warm : (index + 1) * warm])
        for index, size in enumerate(sizes)
    }


def _measure_extractor(endpoint: str) -> dict[str, Any]:
    from bench.extraction import METRIC_ARGUMENTS, SpokeSize, sagemaker_metrics, seed_spoke
    from sandbox.moto_sagemaker_search import paginated_search

    session = boto3.Session(region_name=REGION)
    session.client("events").create_event_bus(Name=SPOKE_BUS_NAME)
    with paginated_search():
        seed_spoke(
            session,
            SpokeSize(
                training_jobs=20, endpoints=3, notebooks=2, model_packages=2, pipeline_executions=3
            ),
            datetime.now(UTC),
        )
        selection = [
            {
                "name": metric.metric_name(),
                "args": dict(METRIC_ARGUMENTS.get(metric.metric_name(), {})),
            }
            for metric in sagemaker_metrics()
        ]
        environment = {
            "PROJECT_NAME": "team-0",
            "ENVIRONMENT": "dev",
            "METRICS": json.dumps(selection),
            "SPOKE_BUS_NAME": SPOKE_BUS_NAME,
            "EVENT_VERSION": "2",
        }
        result = _invoke(
            endpoint,
            "spoke_stackset.extractor.runtime.extractor.handler",
            SPOKE_EXTRACTOR_FUNCTION_NAME,
            [{"source": "dsdash.spoke-schedule"}] * (1 + WARM_INVOCATIONS),
            environment,
        )
        sample = _invoke(
            endpoint,
            "bench.sample_design_functions.extractor",
            "sample-extractor",
            [{"metric_count": SAMPLE_METRIC_COUNTS[0]}]
            + [
                {"metric_count": count}
                for count in SAMPLE_METRIC_COUNTS
                for _ in range(WARM_INVOCATIONS)
            ],
            {"PROJECT_NAME": "team-0", "ENVIRONMENT": "dev", "SPOKE_BUS_NAME": SPOKE_BUS_NAME},
        )
    return {
        "extractor": {**_figures(result, result["invocations"][1:]), "metrics": len(selection)},
        "sample_extractor": {
            "by_metrics": _by_size(sample, SAMPLE_METRIC_COUNTS, WARM_INVOCATIONS),
            "peak_rss_mb": sample["peak_rss_kib"] / KIB_PER_MB,
        },
    }


def _check_ingested(result: Mapping[str, Any]) -> None:
    """A refused record would make the figure that of a failure path, not of ingest."""
    for invocation in result["invocations"]:
        failures = (invocation.get("returned") or {}).get("batchItemFailures")
        if failures:
            raise RuntimeError(f"ingest refused {len(failures)} record(s) of a measured batch")


def _measure_hub(endpoint: str) -> dict[str, Any]:
    from bench.cost_spokes import envelope, spoke, sqs_record
    from bench.publishing import extraction_datapoints
    from contracts.history_table import HISTORY_DELIVERY_STREAM_NAME, history_bucket_name
    from hub_stack import table_design
    from hub_stack.runtime.store import HubStore
    from hub_stack.spoke_registry.records import SpokeState
    from spoke_stackset.extractor.runtime.event_builder import build_v1_entries, build_v2_entries

    session = boto3.Session(region_name=REGION)
    plain = session.client("dynamodb")
    table_design.create_table(plain, HUB_TABLE)
    store = HubStore(HUB_TABLE, session)
    for index in range(max(INGEST_BATCH_SIZES)):
        account, project, environment = spoke(index)
        store.registry.set_spoke_state(
            account, SpokeState.ENROLLED, project_name=project, environment=environment
        )
    bucket = history_bucket_name(SERVER_ACCOUNT, REGION)
    s3: Any = session.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    session.client("firehose").create_delivery_stream(
        DeliveryStreamName=HISTORY_DELIVERY_STREAM_NAME,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{SERVER_ACCOUNT}:role/dsdash-history-delivery",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "history/",
        },
    )
    datapoints = extraction_datapoints(INGEST_METRICS)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    batches: list[dict[str, Any]] = []
    # One cold invocation, then WARM_INVOCATIONS per batch size; every invocation is a new
    # extraction (a later minute) of the spokes it carries.
    sizes = [INGEST_BATCH_SIZES[0]] + [
        size for size in INGEST_BATCH_SIZES for _ in range(WARM_INVOCATIONS)
    ]
    for number, size in enumerate(sizes):
        moment = start + timedelta(minutes=number)
        records = [
            sqs_record(entry, index, moment)
            for index in range(size)
            for entry in build_v2_entries(
                envelope(index, moment), datapoints, [], SPOKE_BUS_NAME
            ).entries
        ]
        batches.append({"Records": records})
    result = _invoke(
        endpoint,
        "hub_stack.ingest.runtime.ingest.handler",
        HUB_INGEST_FUNCTION_NAME,
        batches,
        {"TABLE_NAME": HUB_TABLE, "RETENTION_DAYS": "400"},
    )
    _check_ingested(result)

    create_sample_table(plain, SAMPLE_TABLE)
    sample_events = []
    for number in range(1 + WARM_INVOCATIONS):
        moment = start + timedelta(minutes=number)
        (entry,) = build_v1_entries(envelope(0, moment), datapoints[:1], SPOKE_BUS_NAME).entries
        sample_events.append(
            {
                "source": entry["Source"],
                "detail-type": entry["DetailType"],
                "detail": json.loads(entry["Detail"]),
            }
        )
    sample = _invoke(
        endpoint,
        "bench.sample_design_functions.hub",
        "sample-hub",
        sample_events,
        {"TABLE_NAME": SAMPLE_TABLE},
    )
    by_batch = _by_size(result, INGEST_BATCH_SIZES, WARM_INVOCATIONS)
    return {
        "ingest": {
            "by_batch": by_batch,
            "peak_rss_mb": result["peak_rss_kib"] / KIB_PER_MB,
            "import_cpu_ms": 1000 * result["import_cpu_seconds"],
            "cold_invocation_cpu_ms": 1000 * result["invocations"][0]["cpu_seconds"],
            "metrics_per_event": INGEST_METRICS,
        },
        "sample_hub": _figures(sample, sample["invocations"][1:]),
    }


def measure_footprints() -> dict[str, Any]:
    """Every function's measured CPU time, calls and peak RSS, and the templates' settings."""
    settings = synthesized_functions()
    with _moto_server() as endpoint:
        measured = {**_measure_extractor(endpoint), **_measure_hub(endpoint)}
    measured["extractor"].update(settings["extractor"])
    measured["ingest"].update(settings["ingest"])
    return measured
