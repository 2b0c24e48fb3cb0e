"""`dsdash demo`'s history: 14 days of hourly extractions through the real path
(`DEFAULT_BACKFILL_DAYS`, hourly throughout by default; a number of hourly days extracts the
days before them every `DEFAULT_HOURS_BETWEEN_EXTRACTIONS` hours, which the tests use to stay
cheap).

Without it the demo's hub holds one extraction per spoke, and every history chart is one point.
The backfill replays the spokes' SageMaker activity on a simulated clock:

- **Activity that changes over time.** Each spoke's seeded plan (`sandbox.seed`) gets extra
  training jobs that ended over the last `days` days (`history_jobs`), added to the plan itself,
  so the demo's truth check (`sandbox.seed.expected_datapoints`) still holds at the end. At each
  simulated hour, moto's training jobs are set to what existed then (only the jobs that change:
  the clock only moves forward): a job not yet created is
  absent, a job before its end is InProgress, after it Completed/Failed/Stopped with its end time
  (moto gap: the API cannot move a job through its lifecycle, so the backend objects are set, with
  naive UTC datetimes, as `sandbox.seed` does). Endpoints, notebooks, packages and pipelines keep
  their seeded state (flat lines are real lines too).
- **The real extractor.** `spoke_stackset.extractor.runtime.extractor.run_extraction` with the deployed
  function's own environment (its metric selection) and the spoke's credentials, at the simulated
  time: the same Search and List calls, the same v2 events put on the spoke bus.
- **The real transport and ingest.** Events go spoke bus -> hub bus -> queue -> ingest as any
  refresh's do. To stay within `make demo`'s time budget the queue is drained once per simulated
  `DELIVERY_BATCH_HOURS` rather than after each extraction: SQS then hands ingest full batches,
  as it does in AWS when extractions arrive together.

Where the history lands is ingest's business: the hub writes it as it writes any refresh (with
the data-plane write side merged, to Firehose and Parquet in the history bucket, where the
dashboard's query layer reads it). The new account the demo adds later gets no backfill: it was
just created.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from moto.sagemaker.models import sagemaker_backends

import contracts
from runtime_common.settings import read_settings
from sandbox.seed import OBJECTIVE_METRICS, SEED_ROLE_NAME, TrainingJobPlan
from spoke_stackset.extractor.runtime.extractor import (
    ExtractorSettings,
    SettingsError,
    SpokeIdentity,
    run_extraction,
)

if TYPE_CHECKING:
    from sandbox.demo_world import Demo

DEFAULT_BACKFILL_DAYS: Final = 14
# By default every simulated hour of the backfill is extracted, as issue 12 asks
# (docs/architecture.md §7, "Dashboard"): for 14 days, 1,344 extractions of 4 spokes, measured at
# 47-49 s of CPU with their ingest once the sandbox stopped paying moto's per-member serializer
# lookups and cold Lambda clients (`sandbox.moto_serializer_cache`, `sandbox.lambda_runtime`);
# 165 s before. A number of `hourly_days` keeps only the last days hourly and extracts the days
# before every `DEFAULT_HOURS_BETWEEN_EXTRACTIONS` hours: the tests' short, cheap histories.
DEFAULT_HOURS_BETWEEN_EXTRACTIONS: Final = 4
# Queues are drained once per this many simulated hours (see the module docstring).
DELIVERY_BATCH_HOURS: Final = 24
# Training jobs that ended in the backfilled days, per spoke and day (drawn per day).
JOBS_PER_DAY: Final = (2, 6)
# Job end ages (hours before `now`) near a metric window's edge are skipped: the seconds between
# seeding and the demo's final refresh must never move a job across a window (24 h and 168 h,
# the metrics' defaults), or the truth check would flake.
WINDOW_EDGES_HOURS: Final = (24, 168)
HISTORY_STATUSES: Final = ("Completed", "Failed", "Stopped")
# The functions' loggers (Powertools names them by service): one INFO line per simulated
# extraction and ingested event would bury the demo's own progress under thousands of lines.
QUIETED_LOGGERS: Final = ("dsdash-spoke-extractor", "dsdash-hub-ingest")


@dataclass(frozen=True)
class BackfillResult:
    spokes: int
    simulated_hours: int
    extractions: int
    datapoints: int
    events: int
    delivery_rounds: int
    seconds: float
    # Of `seconds`: in the extractor (SageMaker calls, PutEvents) and in delivery and ingest.
    extract_seconds: float
    deliver_seconds: float
    # CPU time of the whole backfill: what it costs on an idle machine, whatever else runs.
    cpu_seconds: float


def history_jobs(
    account_id: str, *, seed: int, days: int, job_name_prefix: str
) -> tuple[TrainingJobPlan, ...]:
    """Training jobs that ended over the last `days` days, a few a day, deterministic per seed."""
    rng = random.Random(f"history-{seed}-{account_id}")
    jobs: list[TrainingJobPlan] = []
    for day in range(days):
        for _ in range(rng.randint(*JOBS_PER_DAY)):
            end_age = day * 24 + rng.randint(1, 23)
            if any(abs(end_age - edge) <= 1 for edge in WINDOW_EDGES_HOURS):
                continue
            status = rng.choices(HISTORY_STATUSES, weights=(7, 2, 1))[0]
            training_seconds = rng.randint(600, 3 * 3600)
            spot = rng.random() < 0.5
            index = len(jobs)
            jobs.append(
                TrainingJobPlan(
                    # Every other job carries the project's prefix, as the seeded jobs do, so
                    # BestTrainingObjective has candidates through the whole history.
                    name=f"{job_name_prefix if index % 2 == 0 else 'adhoc-'}history-{index:04d}",
                    status=status,
                    instance_type=rng.choice(("ml.m5.xlarge", "ml.g5.2xlarge")),
                    instance_count=rng.choice((1, 1, 2)),
                    spot=spot,
                    end_age_hours=end_age,
                    training_seconds=training_seconds,
                    billable_seconds=int(training_seconds * rng.uniform(0.3, 0.8))
                    if spot
                    else training_seconds,
                    # Quality drifts upward over the fortnight, with noise: a model improving.
                    final_metrics={
                        name: round(min(0.99, 0.7 + (days - day) * 0.01 + rng.uniform(0, 0.08)), 4)
                        for name in OBJECTIVE_METRICS
                    }
                    if status == "Completed"
                    else {},
                )
            )
    return tuple(jobs)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass
class _JobTimeline:
    """One training job's moments, and moto's object for it."""

    plan: TrainingJobPlan
    stored: Any
    created: datetime
    started: datetime
    ended: datetime | None

    def show_at(self, moment: datetime) -> None:
        """Set moto's object to what DescribeTrainingJob would have said at `moment`."""
        if self.ended is None or moment < self.ended:
            self.stored.training_job_status = "InProgress"
            self.stored.secondary_status = "InProgress"
            self.stored.training_end_time = None
            self.stored.last_modified_time = _naive(
                max(self.started, moment - timedelta(minutes=5))
            )
            self.stored.final_metric_data_list = []
            return
        self.stored.training_job_status = self.plan.status
        self.stored.secondary_status = self.plan.status
        self.stored.training_end_time = _naive(self.ended)
        self.stored.last_modified_time = _naive(self.ended)
        self.stored.final_metric_data_list = [
            {"MetricName": name, "Value": value, "Timestamp": _naive(self.ended)}
            for name, value in self.plan.final_metrics.items()
        ]


def _timeline(plan: TrainingJobPlan, stored: Any, now: datetime) -> _JobTimeline:
    # The same arithmetic as sandbox.seed.seed_spoke_activity, so the final state is the seed's.
    if plan.end_age_hours is None:
        started, ended = now - timedelta(seconds=plan.training_seconds), None
    else:
        ended = now - timedelta(hours=plan.end_age_hours)
        started = ended - timedelta(seconds=plan.training_seconds)
    return _JobTimeline(plan, stored, started - timedelta(minutes=3), started, ended)


def _create_jobs(
    session: Any, account_id: str, region: str, jobs: Sequence[TrainingJobPlan]
) -> None:
    sagemaker = session.client("sagemaker", region_name=region)
    backend: Any = sagemaker_backends[account_id][region]
    for job in jobs:
        sagemaker.create_training_job(
            TrainingJobName=job.name,
            AlgorithmSpecification={"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
            RoleArn=f"arn:aws:iam::{account_id}:role/{SEED_ROLE_NAME}",
            OutputDataConfig={"S3OutputPath": f"s3://models-{account_id}/out"},
            ResourceConfig={
                "InstanceType": job.instance_type,
                "InstanceCount": job.instance_count,
                "VolumeSizeInGB": 30,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 86400},
            EnableManagedSpotTraining=job.spot,
        )
        stored = backend.training_jobs[job.name]
        stored.training_time_in_seconds = job.training_seconds
        stored.billable_time_in_seconds = job.billable_seconds


@dataclass
class _SpokeReplay:
    """One spoke region: its extractor settings and its jobs on the simulated clock.

    The clock only moves forward, so each hour touches only what changes: jobs created since the
    last hour join moto's map, and jobs not yet shown finished are set again; a finished job's
    object stays as it is (nothing about it changes until `restore`)."""

    session: Any
    identity: SpokeIdentity
    settings: ExtractorSettings
    backend: Any
    timelines: list[_JobTimeline]
    _pending: list[_JobTimeline] = dataclasses.field(init=False, default_factory=list)
    _unfinished: list[_JobTimeline] = dataclasses.field(init=False, default_factory=list)
    _shown_at: datetime | None = dataclasses.field(init=False, default=None)

    def show_at(self, moment: datetime) -> None:
        if self._shown_at is None or moment < self._shown_at:
            # Jobs not yet created are absent from the listing, as they would be in AWS.
            self.backend.training_jobs.clear()
            self._pending = sorted(self.timelines, key=lambda each: each.created, reverse=True)
            self._unfinished = []
        self._shown_at = moment
        while self._pending and self._pending[-1].created <= moment:
            timeline = self._pending.pop()
            self.backend.training_jobs[timeline.plan.name] = timeline.stored
            self._unfinished.append(timeline)
        still_running = []
        for timeline in self._unfinished:
            timeline.show_at(moment)
            if timeline.ended is None or moment < timeline.ended:
                still_running.append(timeline)
        self._unfinished = still_running

    def restore(self, now: datetime) -> None:
        self._shown_at = None
        self.show_at(now)


class _ClientReusingSession:
    """A boto3 session whose clients are made once: a warm Lambda container keeps its clients
    between invocations too, and creating ~6 botocore clients per simulated hour (service model,
    endpoint resolution) would cost more than the extraction's own calls."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._clients: dict[tuple[str, str | None, int], Any] = {}

    def client(self, service_name: str, region_name: str | None = None, **options: Any) -> Any:
        key = (service_name, region_name, id(options.get("config")))
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service_name, region_name=region_name, **options
            )
        return self._clients[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _extractor_settings(session: Any) -> ExtractorSettings:
    """The deployed extractor function's own settings (its METRICS selection and bus)."""
    configuration = session.client("lambda").get_function_configuration(
        FunctionName=contracts.SPOKE_EXTRACTOR_FUNCTION_NAME
    )
    return read_settings(
        ExtractorSettings, configuration["Environment"]["Variables"], error=SettingsError
    )


def _prepare_spokes(demo: Demo, now: datetime, days: int, seed: int) -> list[_SpokeReplay]:
    replays = []
    for spoke in demo.layout.spokes:
        plan = demo.plans.get(spoke.account_id)
        if plan is None:
            continue
        prefix = next(
            (
                job.name.removesuffix("job-0000")
                for job in plan.training_jobs
                if job.name.endswith("job-0000")
            ),
            "",
        )
        extra = history_jobs(spoke.account_id, seed=seed, days=days, job_name_prefix=prefix)
        demo.plans[spoke.account_id] = dataclasses.replace(
            plan, training_jobs=plan.training_jobs + extra
        )
        for region in demo.config.organization.regions:
            session = demo.world.session(spoke.account_id, region)
            _create_jobs(session, spoke.account_id, region, extra)
            backend = sagemaker_backends[spoke.account_id][region]
            timelines = [
                _timeline(job, backend.training_jobs[job.name], now)
                for job in demo.plans[spoke.account_id].training_jobs
            ]
            replays.append(
                _SpokeReplay(
                    session=_ClientReusingSession(session),
                    identity=SpokeIdentity(spoke.account_id, region),
                    settings=_extractor_settings(session),
                    backend=backend,
                    timelines=timelines,
                )
            )
    return replays


@contextmanager
def _warnings_only(names: Sequence[str]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)


def simulated_hours(
    now: datetime, days: int, every_hours: int = 1, hourly_days: int = 0
) -> Iterator[datetime]:
    """Extraction times from `days` days ago up to the hour before `now`, oldest first: every
    hour over the last `hourly_days` days, every `every_hours` hours before them.

    Half past the hour relative to `now`: never on a job's end time (ages are whole hours)."""
    hourly_from = min(hourly_days, days) * 24
    for hours_back in range(days * 24, 0, -1):
        if hours_back <= hourly_from or hours_back % every_hours == 0:
            yield now - timedelta(hours=hours_back, minutes=-30)


def backfill_history(
    demo: Demo,
    now: datetime,
    *,
    days: int = DEFAULT_BACKFILL_DAYS,
    every_hours: int = DEFAULT_HOURS_BETWEEN_EXTRACTIONS,
    hourly_days: int | None = None,
    seed: int = 7,
    progress: Callable[[str], None] = lambda message: None,
) -> BackfillResult:
    """Run an extraction every `every_hours` over `days` days, hourly over the last
    `hourly_days` of them (None: all of them), in every seeded spoke and ingest them; leave every spoke's SageMaker
    state as its (extended) plan says it is at `now`."""
    if every_hours < 1 or 24 % every_hours:
        raise ValueError(f"every_hours must divide a day, got {every_hours}")
    started, started_cpu = time.monotonic(), time.process_time()
    replays = _prepare_spokes(demo, now, days, seed)
    extractions = datapoints = events = rounds = 0
    extract_seconds = deliver_seconds = 0.0
    hours = list(
        simulated_hours(now, days, every_hours, days if hourly_days is None else hourly_days)
    )
    first = now - timedelta(days=days)

    def delivery_round(moment: datetime) -> int:
        return (moment - first) // timedelta(hours=DELIVERY_BATCH_HOURS)

    try:
        with _warnings_only(QUIETED_LOGGERS):
            for number, moment in enumerate(hours, start=1):
                mark = time.monotonic()
                for replay in replays:
                    replay.show_at(moment)
                    report = run_extraction(
                        replay.settings,
                        replay.session,
                        now=moment,
                        identity=replay.identity,
                        sleep=lambda seconds: None,
                    )
                    extractions += 1
                    datapoints += report.datapoints
                    events += report.events
                extract_seconds += time.monotonic() - mark
                last_of_round = number == len(hours) or delivery_round(
                    hours[number]
                ) != delivery_round(moment)
                if last_of_round:
                    mark = time.monotonic()
                    demo.world.settle()
                    deliver_seconds += time.monotonic() - mark
                    rounds += 1
                    day = delivery_round(moment) + 1
                    progress(f"History: {day} of {days} days extracted and ingested")
    finally:
        for replay in replays:
            replay.restore(now)
    return BackfillResult(
        spokes=len(replays),
        simulated_hours=len(hours),
        extractions=extractions,
        datapoints=datapoints,
        events=events,
        delivery_rounds=rounds,
        seconds=time.monotonic() - started,
        extract_seconds=extract_seconds,
        deliver_seconds=deliver_seconds,
        cpu_seconds=time.process_time() - started_cpu,
    )
