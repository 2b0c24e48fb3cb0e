"""`dsdash demo`: the whole product on a sandbox organization, end to end.

Every step runs the real code: the CDK app is synthesized and its templates deployed through
moto's CloudFormation (assets uploaded as `cdk deploy` would); the real reconciler creates the
stack instances; the sandbox's StackSet emulation deploys the spoke template per account and emits
StackInstance events; the real enrollment handler connects each spoke through the real connection
functions; a refresh flows spoke bus -> hub bus -> queue -> ingest through the real handlers.
What moto lacks is covered by the `sandbox` modules, each naming its gap (see `sandbox.world`).

The demo then compares what the hub stored with the truth it seeded (`sandbox.seed`), and writes
`summary.json` and `dashboard.html`. One spoke is seeded breaching the config's approval-backlog
alert: a subscriber queue hears the alert start, then recover once the packages are approved
(`sandbox.alert_story`).

Both `organization.stackset_admin` modes run (docs/architecture.md §7): in delegated mode the
organization gets a registered StackSets delegated administrator, the org stack and artifact
buckets deploy there, and the management account gets only the forwarder stacks; Organizations
events then travel management account -> delegated administrator's lifecycle bus -> functions.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import contracts
from config.model import DsdashConfig, ProjectSettings, StackSetAdmin
from hub_stack.runtime.store import HubStore
from sandbox.alert_story import (
    AlertStoryResult,
    approve_backlog,
    attach_subscriber,
    backlog_alert_target,
    receive_notifications,
    seed_backlog,
)
from sandbox.cfn_deploy import DeployedStack, deploy_cdk_stack
from sandbox.dashboard_publishing import run_due_page_schedules
from sandbox.history_backfill import (
    DEFAULT_BACKFILL_DAYS,
    DEFAULT_HOURLY_DAYS,
    DEFAULT_HOURS_BETWEEN_EXTRACTIONS,
    backfill_history,
)
from sandbox.organization import OrganizationLayout, build_organization, create_account_in
from sandbox.seed import (
    SpokeActivityPlan,
    describe_key,
    expected_datapoints,
    plan_spoke_activity,
    seed_spoke_activity,
)
from sandbox.world import SandboxWorld

Progress = Callable[[str], None]
# Comparing floats that went through JSON and DynamoDB's decimal numbers.
VALUE_TOLERANCE = 1e-6


class DemoError(RuntimeError):
    """A demo step failed; the message names the step."""


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
    # backfill that are hourly all the same.
    history_every_hours: int = DEFAULT_HOURS_BETWEEN_EXTRACTIONS
    history_hourly_days: int = DEFAULT_HOURLY_DAYS


@dataclass
class SpokeResult:
    account_id: str
    name: str
    project: str
    environment: str
    state: str
    reason: str
    expected: int
    matching: int
    mismatches: list[str] = field(default_factory=list)
    joined_late: bool = False

    @property
    def ok(self) -> bool:
        return self.state == "enrolled" and self.matching == self.expected and not self.mismatches


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


def demo_config(
    config: DsdashConfig, organization_id: str, delegated_admin_account_id: str | None = None
) -> DsdashConfig:
    """The user's config with the sandbox organization's id (moto chooses it), in delegated mode
    with the sandbox's delegated administrator (moto chooses its id too), else management mode.

    Explicitly listed accounts are dropped: they are accounts outside tagged OUs, which the
    sandbox organization does not have; `dsdash enroll` is their path.
    """
    projects = {
        name: dataclasses.replace(project, accounts={}) for name, project in config.projects.items()
    }
    return dataclasses.replace(
        config,
        organization=dataclasses.replace(
            config.organization,
            id=organization_id,
            stackset_admin="delegated" if delegated_admin_account_id else "management",
            delegated_admin_account_id=delegated_admin_account_id,
        ),
        projects=projects,
    )


def synthesize(config: DsdashConfig, assembly_dir: Path) -> Path:
    """Synthesize the real CDK app (the one `cdk synth` runs) into `assembly_dir`."""
    import aws_cdk as cdk

    from app import build_app

    app = cdk.App(outdir=str(assembly_dir))
    build_app(config, app)
    app.synth()
    return assembly_dir


@dataclass
class Demo:
    """The demo's steps, each usable on its own by tests (lifecycle, policy, hostile spoke)."""

    world: SandboxWorld
    config: DsdashConfig
    layout: OrganizationLayout
    assembly_dir: Path
    plans: dict[str, SpokeActivityPlan] = field(default_factory=dict)
    stacks: dict[str, DeployedStack] = field(default_factory=dict)

    @property
    def hub_account(self) -> str:
        return self.config.hub.account_id

    @property
    def home_region(self) -> str:
        return self.config.organization.regions[0]

    def hub_session(self) -> Any:
        return self.world.session(self.hub_account, self.config.hub.region)

    def management_session(self, region: str | None = None) -> Any:
        return self.world.session(self.layout.management_account_id, region or self.home_region)

    @property
    def org_account(self) -> str:
        """Where the org stack runs: the management account or the delegated administrator."""
        return self.config.organization.administrator_account_id

    def org_session(self, region: str | None = None) -> Any:
        return self.world.session(self.org_account, region or self.home_region)

    def store(self) -> HubStore:
        return HubStore(contracts.HUB_TABLE_NAME, self.hub_session())

    def deploy(self) -> None:
        """Deploy the hub, the org account's stacks and the management account's (the forwarders
        in delegated mode), as `cdk deploy --all` would."""
        from app import ORG_EVENTS_STACK_ID, ORG_STACK_ID, artifact_stack_id
        from org_stack.management_forwarder import (
            management_forwarder_regions,
            management_forwarder_stack_id,
        )

        self.stacks["hub"] = deploy_cdk_stack(
            self.assembly_dir, "DsdashHub", session=self.hub_session()
        )
        for region in self.config.organization.regions:
            self.stacks[f"artifacts-{region}"] = deploy_cdk_stack(
                self.assembly_dir,
                artifact_stack_id(region),
                session=self.org_session(region),
            )
        if (self.assembly_dir / f"{ORG_EVENTS_STACK_ID}.template.json").exists():
            self.stacks["org-events"] = deploy_cdk_stack(
                self.assembly_dir, ORG_EVENTS_STACK_ID, session=self.management_session("us-east-1")
            )
        # The delegated admin's lifecycle bus comes with the org stack: deploy it first, so the
        # management account's rules have their target as soon as they exist.
        self.stacks["org"] = deploy_cdk_stack(
            self.assembly_dir, ORG_STACK_ID, session=self.org_session()
        )
        if self.config.organization.is_delegated:
            for region in management_forwarder_regions(self.home_region):
                stack_id = management_forwarder_stack_id(region)
                self.stacks[stack_id] = deploy_cdk_stack(
                    self.assembly_dir, stack_id, session=self.management_session(region)
                )

    def reconcile(self) -> dict[str, Any]:
        """Invoke the real reconciler function, then let everything it starts finish."""
        response = (
            self.org_session()
            .client("lambda")
            .invoke(FunctionName=contracts.ORG_RECONCILER_FUNCTION_NAME, Payload=b"{}")
        )
        payload: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
        if "FunctionError" in response:
            raise DemoError(f"the reconciler failed: {payload}")
        self.world.settle()
        return payload

    def seed(self, account_id: str, seed: int, now: datetime) -> None:
        spoke = self.layout.spoke(account_id)
        project = self.config.projects[spoke.project]
        plan = plan_spoke_activity(
            account_id,
            self.home_region,
            seed=seed,
            ssm_parameter_names=_ssm_parameter_names(project),
            job_name_prefix=_job_name_prefix(project),
        )
        for region in self.config.organization.regions:
            plan_in_region = dataclasses.replace(plan, region=region)
            seed_spoke_activity(self.world.session(account_id, region), plan_in_region, now)
        self.plans[account_id] = plan

    def add_account(self, project: str, environment: str) -> str:
        """A new account, created and moved into a tagged OU: it enrolls itself."""
        ou_id = self.layout.environment_ous[(project, environment)]
        name = f"{project}-{environment}-new"
        account_id = create_account_in(self.world, self.layout, self.home_region, name, ou_id)
        self.layout.spokes.append(
            dataclasses.replace(
                self.layout.spokes[0],
                account_id=account_id,
                name=name,
                project=project,
                environment=environment,
                parent_ou_id=ou_id,
            )
        )
        self.world.settle()
        return account_id

    def refresh(self, scope: Mapping[str, str] | None = None) -> None:
        """Invoke the hub's real refresh function and let the extractions flow to the hub."""
        response = (
            self.hub_session()
            .client("lambda")
            .invoke(
                FunctionName=contracts.HUB_REFRESH_FUNCTION_NAME,
                Payload=json.dumps(dict(scope or {})).encode(),
            )
        )
        if "FunctionError" in response:
            raise DemoError(f"the refresh failed: {response['Payload'].read().decode()}")
        self.world.settle()

    def compare_with_truth(self) -> list[SpokeResult]:
        store = self.store()
        registry = {spoke.account_id: spoke for spoke in store.registry.list_spokes()}
        latest = [record for records in store.latest_values_all().values() for record in records]
        results = []
        for spoke in self.layout.spokes:
            record = registry.get(spoke.account_id)
            plan = self.plans.get(spoke.account_id)
            expected = (
                expected_datapoints(plan, self.config.projects[spoke.project].metrics)
                if plan
                else {}
            )
            measured = {
                (value.metric_name, tuple(sorted(value.dimensions.items()))): float(value.value)
                for value in latest
                if value.account_id == spoke.account_id
            }
            mismatches = [
                f"{describe_key(key)}: expected {value:g}, hub has "
                + (f"{measured[key]:g}" if key in measured else "nothing")
                for key, value in sorted(expected.items())
                if key not in measured or abs(measured[key] - value) > VALUE_TOLERANCE
            ]
            mismatches += [
                f"{describe_key(key)}: unexpected value {measured[key]:g}"
                for key in sorted(set(measured) - set(expected))
            ]
            results.append(
                SpokeResult(
                    account_id=spoke.account_id,
                    name=spoke.name,
                    project=spoke.project,
                    environment=spoke.environment,
                    state=record.state if record else "unknown",
                    reason=record.reason if record else "not in the hub registry",
                    expected=len(expected),
                    matching=len(expected)
                    - sum(
                        1
                        for key in expected
                        if key not in measured
                        or abs(measured[key] - expected[key]) > VALUE_TOLERANCE
                    ),
                    mismatches=mismatches,
                    joined_late=spoke.name.endswith("-new"),
                )
            )
        return results


def _ssm_parameter_names(project: ProjectSettings) -> list[str]:
    return [
        str(selection.args["parameter_name"])
        for selection in project.metrics
        if selection.name == "SsmParameterValue"
    ]


def _job_name_prefix(project: ProjectSettings) -> str:
    for selection in project.metrics:
        if selection.name == "BestTrainingObjective" and selection.args.get("job_name_prefix"):
            return str(selection.args["job_name_prefix"])
    return ""


def set_up_demo(
    world: SandboxWorld,
    config: DsdashConfig,
    *,
    spokes: int,
    work_dir: Path,
    progress: Progress,
    stackset_admin: StackSetAdmin | None = None,
) -> Demo:
    """Steps 1-4: organization, synth, deploy, reconcile and enroll. `stackset_admin` overrides
    the config's mode (None keeps it)."""
    delegated = (stackset_admin or config.organization.stackset_admin) == "delegated"
    progress(
        f"Building the organization: management {config.organization.management_account_id}, "
        f"hub {config.hub.account_id}, {spokes} spoke accounts in tagged OUs"
        + (", a registered StackSets delegated administrator" if delegated else "")
    )
    layout = build_organization(world, config, spoke_count=spokes, delegated_admin=delegated)
    sandbox_config = demo_config(config, layout.organization_id, layout.delegated_admin_account_id)
    if delegated:
        progress(
            f"The org stack runs in the delegated administrator {layout.delegated_admin_account_id}"
            "; the management account keeps only forwarding rules"
        )
    progress("Synthesizing the CDK app (hub, artifact buckets, org stack, spoke templates)")
    assembly = synthesize(sandbox_config, work_dir / "cdk.out")
    demo = Demo(world, sandbox_config, layout, assembly)
    progress("Deploying the templates through CloudFormation")
    demo.deploy()
    progress("Running the reconciler; StackSets deploy spokes; enrollment connects them")
    demo.reconcile()
    return demo


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
        progress(
            f"History: {options.history_days} days of extractions, hourly over the last"
            f" {min(options.history_hourly_days, options.history_days)} day(s) and every"
            f" {options.history_every_hours} hour(s) before, on a simulated clock"
        )
        backfill = backfill_history(
            demo,
            now,
            days=options.history_days,
            every_hours=options.history_every_hours,
            hourly_days=options.history_hourly_days,
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


def write_dashboard(demo: Demo, path: Path, *, history_days: int = DEFAULT_BACKFILL_DAYS) -> None:
    """The page `dsdash dashboard` renders, from the hub's latest values and the history the real
    path delivered to the sandbox's history bucket (ingest -> Firehose -> Parquet, §6), read
    through the query layer as the CLI's default engine reads it (DuckDB over a boto3 mirror)."""
    import tempfile

    from dashboard.dashboard_data import build_dashboard_data
    from dashboard.html import render_dashboard
    from dashboard.kpi_spoke_history import with_spoke_history
    from hub_stack.history_query.duckdb_engine import DuckDbEngine, S3HistorySource

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="dsdash-demo-history-") as cache:
        source = S3HistorySource.of_hub(
            demo.hub_session(), demo.hub_account, demo.config.hub.region, Path(cache)
        )
        engine = DuckDbEngine(source)
        data = build_dashboard_data(
            demo.store(),
            demo.config,
            history_engine=engine,
            history_days=history_days,
            clock=lambda: now,
        )
        data = with_spoke_history(data, engine)
    path.write_text(render_dashboard(data), encoding="utf-8")
