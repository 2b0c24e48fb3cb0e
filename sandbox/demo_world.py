"""`dsdash demo`'s world and its steps: the whole product on a sandbox organization.

Every step runs the real code: the CDK app is synthesized and its templates deployed through
moto's CloudFormation (assets uploaded as `cdk deploy` would); the real reconciler creates the
stack instances; the sandbox's StackSet emulation deploys the spoke template per account and emits
StackInstance events; the real enrollment handler connects each spoke through the real connection
functions; a refresh flows spoke bus -> hub bus -> queue -> ingest through the real handlers.
What moto lacks is covered by the `sandbox` modules, each naming its gap (see `sandbox.world`).

`set_up_demo` builds the organization and deploys and enrolls dsdash; `Demo` holds the result and
each step the story and the tests run on it (seed, add an account, refresh, compare with the
truth). The story itself, in order, is `sandbox.demo`, which is also where the tests and the CLI
import `Demo` and `set_up_demo` from.

Both `organization.stackset_admin` modes run (docs/architecture.md §7): in delegated mode the
organization gets a registered StackSets delegated administrator, the org stack and artifact
buckets deploy there, and the management account gets only the forwarder stacks; Organizations
events then travel management account -> delegated administrator's lifecycle bus -> functions.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import contracts
from config.model import DsdashConfig, ProjectSettings, StackSetAdmin
from hub_stack.runtime.store import HubStore
from sandbox.cfn_deploy import DeployedStack, deploy_cdk_stack
from sandbox.demo_truth import SpokeResult, compare_with_truth
from sandbox.organization import OrganizationLayout, build_organization, create_account_in
from sandbox.seed import SpokeActivityPlan, plan_spoke_activity, seed_spoke_activity
from sandbox.world import SandboxWorld

Progress = Callable[[str], None]


class DemoError(RuntimeError):
    """A demo step failed; the message names the step."""


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
        """Each spoke's latest values in the hub against its seeded truth (`sandbox.demo_truth`)."""
        return compare_with_truth(self)


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
