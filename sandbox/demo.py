"""`dsdash demo`: the whole product on a sandbox organization, end to end, its story in order, on
a world the caller opens (`run_demo`) or keeps (`--serve`).

The organization is built and dsdash deployed and enrolled (`sandbox.demo_world.set_up_demo`); every
spoke is seeded, its 14 days of history backfilled through the real path
(`sandbox.history_backfill`); a new account joins; the alert story breaches and recovers
(`sandbox.alert_story`); a refresh flows to the hub; what the hub stored is compared with the
seeded truth (`sandbox.demo_truth`); the page is written (`sandbox.demo_page`) and the refreshes'
publish schedules run (`sandbox.dashboard_publishing`). `summary.json` records it all.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.model import DsdashConfig, StackSetAdmin
from sandbox.alert_story import (
    AlertStoryResult,
    approve_backlog,
    attach_subscriber,
    backlog_alert_target,
    receive_notifications,
    seed_backlog,
)
from sandbox.dashboard_publishing import run_due_page_schedules
from sandbox.demo_page import write_dashboard
from sandbox.demo_truth import SpokeResult
from sandbox.demo_world import Demo, DemoError, Progress, set_up_demo
from sandbox.history_backfill import (
    DEFAULT_BACKFILL_DAYS,
    DEFAULT_HOURS_BETWEEN_EXTRACTIONS,
    backfill_history,
)
from sandbox.world import SandboxWorld

# The demo's entry point: its story, and the world and steps it runs, which the tests and
# `sandbox.serve` take from here.
__all__ = [
    "Demo",
    "DemoError",
    "DemoOptions",
    "DemoResult",
    "Progress",
    "SpokeResult",
    "run_demo",
    "run_demo_in",
    "set_up_demo",
]


@dataclass(frozen=True)
class DemoOptions:
    config: DsdashConfig
    spokes: int = 4
    out_dir: Path = Path("demo-output")
    seed: int = 7
    # None: the config's `organization.stackset_admin`.
    stackset_admin: StackSetAdmin | None = None
    # Days of history backfilled before the refresh (`sandbox.history_backfill`); 0: none.
    history_days: int = DEFAULT_BACKFILL_DAYS
    # Simulated hours between two backfilled extractions of a spoke, and the last days of the
    # backfill that are hourly all the same (None: every day of it).
    history_every_hours: int = DEFAULT_HOURS_BETWEEN_EXTRACTIONS
    history_hourly_days: int | None = None


@dataclass
class DemoResult:
    organization_id: str
    hub_account_id: str
    management_account_id: str
    stackset_admin: StackSetAdmin
    org_account_id: str
    spokes: list[SpokeResult]
    quarantined: int
    seconds: float
    out_dir: Path
    alerts: AlertStoryResult = field(default_factory=AlertStoryResult)
    # What `sandbox.history_backfill` extracted and ingested (counts and seconds).
    history: dict[str, Any] = field(default_factory=dict)
    # The publisher's runs that the refreshes scheduled, oldest first
    # (`hub_stack.dashboard_publisher.runtime.publisher`).
    page_publishes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.spokes) and all(spoke.ok for spoke in self.spokes) and self.alerts.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "organization_id": self.organization_id,
            "hub_account_id": self.hub_account_id,
            "management_account_id": self.management_account_id,
            "stackset_admin": self.stackset_admin,
            "org_account_id": self.org_account_id,
            "seconds": round(self.seconds, 1),
            "quarantined_events": self.quarantined,
            "spokes": [{**dataclasses.asdict(spoke), "ok": spoke.ok} for spoke in self.spokes],
            "alerts": self.alerts.to_dict(),
            "history": self.history,
            "page_publishes": self.page_publishes,
        }


def run_demo_in(
    world: SandboxWorld, options: DemoOptions, progress: Progress
) -> tuple[Demo, DemoResult]:
    """Every demo step, in a world the caller keeps open (for `--serve`)."""
    started = time.monotonic()
    options.out_dir.mkdir(parents=True, exist_ok=True)
    demo = set_up_demo(
        world,
        options.config,
        spokes=options.spokes,
        work_dir=options.out_dir,
        progress=progress,
        stackset_admin=options.stackset_admin,
    )
    now = datetime.now(UTC)
    progress("Seeding SageMaker activity in every spoke")
    for spoke in list(demo.layout.spokes):
        demo.seed(spoke.account_id, options.seed, now)
    backfill = None
    if options.history_days:
        hourly_days = (
            options.history_days
            if options.history_hourly_days is None
            else min(options.history_hourly_days, options.history_days)
        )
        progress(
            f"History: {options.history_days} days of extractions, hourly"
            + (
                ""
                if hourly_days == options.history_days
                else f" over the last {hourly_days} day(s) and every"
                f" {options.history_every_hours} hour(s) before"
            )
            + ", on a simulated clock"
        )
        backfill = backfill_history(
            demo,
            now,
            days=options.history_days,
            every_hours=options.history_every_hours,
            hourly_days=hourly_days,
            seed=options.seed,
            progress=progress,
        )
    first = demo.layout.spokes[0]
    progress(f"Creating a new account and moving it into {first.project}/{first.environment}")
    new_account = demo.add_account(first.project, first.environment)
    demo.seed(new_account, options.seed, now)
    alerts = AlertStoryResult()
    target = backlog_alert_target(demo)
    if target is None:
        alerts.skipped = "no spoke is in scope of an alert on ModelPackagesPendingApproval"
        progress(f"Alerts: skipped ({alerts.skipped})")
    else:
        spoke, rule = target
        alerts.alert, alerts.account_id = f"{spoke.project}/{rule.name}", spoke.account_id
        alerts.subscriber_queue_url = attach_subscriber(demo)
        added = seed_backlog(demo, spoke.account_id, rule)
        progress(
            f"Alerts: an SQS queue subscribes to the hub's alert topic; {spoke.account_id}"
            f" ({spoke.project}/{spoke.environment}) gets {added} more model package(s) awaiting"
            f" approval, breaching {rule.name} ({rule.metric} {rule.comparison} {rule.threshold:g})"
        )
    progress("Refreshing: hub topic -> extractors -> spoke buses -> hub bus -> queue -> ingest")
    demo.refresh()
    if target is not None and alerts.subscriber_queue_url is not None:
        alerts.on_breach = receive_notifications(demo, alerts.subscriber_queue_url)
        for notification in alerts.on_breach:
            progress(f"Alerts: the subscriber received {notification.subject!r}")
        approved = approve_backlog(demo, target[0].account_id)
        progress(
            f"Alerts: a reviewer approves {approved} package(s) in {target[0].account_id};"
            " refreshing that account"
        )
        demo.refresh({"AccountId": target[0].account_id})
        alerts.on_recovery = receive_notifications(demo, alerts.subscriber_queue_url)
        for notification in alerts.on_recovery:
            progress(f"Alerts: the subscriber received {notification.subject!r}")
    results = demo.compare_with_truth()
    write_dashboard(
        demo, options.out_dir / "dashboard.html", history_days=options.history_days or 1
    )
    # Each refresh scheduled the page render for when it completes (docs/architecture.md §7).
    runs = run_due_page_schedules(demo.hub_session(), demo.hub_account, demo.config.hub.region)
    published = [run for run in runs if run["published"]]
    if not published:
        raise DemoError(f"no refresh's schedule rendered the dashboard page: {runs}")
    progress(
        f"Dashboard: {len(runs)} refresh schedule(s) ran the hub's publisher; it wrote its page "
        f"({published[-1]['page_bytes']:,} bytes) to the dashboard bucket {len(published)} "
        "time(s) (dsdash dashboard --open / --share)"
    )
    result = DemoResult(
        organization_id=demo.layout.organization_id,
        hub_account_id=demo.hub_account,
        management_account_id=demo.layout.management_account_id,
        stackset_admin=demo.config.organization.stackset_admin,
        org_account_id=demo.org_account,
        spokes=results,
        quarantined=demo.store().quarantine.count(),
        seconds=time.monotonic() - started,
        out_dir=options.out_dir,
        alerts=alerts,
        history=dataclasses.asdict(backfill) if backfill else {},
        page_publishes=runs,
    )
    (options.out_dir / "summary.json").write_text(
        json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return demo, result


def run_demo(options: DemoOptions, progress: Progress) -> DemoResult:
    with SandboxWorld(seed=options.seed) as world:
        _, result = run_demo_in(world, options, progress)
    return result
