"""The sandbox's organization, built in moto from `config/projects.yaml`.

For each project a container OU, and under it one OU per environment tagged with both keys
(`dsdash:project`, `dsdash:environment`), as an org admin would tag them. One environment OU gets
an untagged child OU (`team-a`): its accounts inherit project and environment from the nearest
tagged ancestor, which is the rule the reconciler implements. Spoke accounts are spread over these
OUs round-robin, the nested OU included.

Both keys sit on the environment OU (rather than the project key on the container) so that
untagging one OU takes its accounts out of dsdash cleanly: removing only one key of a pair leaves
accounts half-assigned, which the reconciler reports as a conflict and never acts on.

With `delegated_admin=True` (`dsdash demo --stackset-admin delegated`), a member account
`dsdash-stackset-admin` is created at the root, after the spokes (so spoke ids do not depend on
the mode), and registered as the CloudFormation StackSets delegated administrator, with trusted
access enabled, as the README's deploy section tells an operator to do.

moto's Organizations chooses account and OU ids at random (seeded by the world), so the layout
records them for everything that follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from config.model import DsdashConfig
from sandbox.moto_delegated_admin import STACKSETS_SERVICE_PRINCIPAL
from sandbox.world import SandboxWorld

NESTED_OU_NAME = "team-a"
DELEGATED_ADMIN_ACCOUNT_NAME = "dsdash-stackset-admin"


@dataclass(frozen=True)
class SpokeAccount:
    account_id: str
    name: str
    project: str
    environment: str
    parent_ou_id: str


@dataclass
class OrganizationLayout:
    organization_id: str
    management_account_id: str
    root_id: str
    # (project, environment) -> OU id of the tagged environment OU.
    environment_ous: dict[tuple[str, str], str] = field(default_factory=dict)
    project_ous: dict[str, str] = field(default_factory=dict)
    nested_ou_id: str = ""
    nested_ou_assignment: tuple[str, str] = ("", "")
    spokes: list[SpokeAccount] = field(default_factory=list)
    # The StackSets delegated administrator, when the organization has one.
    delegated_admin_account_id: str | None = None

    def spoke(self, account_id: str) -> SpokeAccount:
        return next(spoke for spoke in self.spokes if spoke.account_id == account_id)


def _create_ou(organizations: Any, parent_id: str, name: str, tags: dict[str, str]) -> str:
    ou_id: str = organizations.create_organizational_unit(
        ParentId=parent_id,
        Name=name,
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )["OrganizationalUnit"]["Id"]
    return ou_id


def create_account_in(
    world: SandboxWorld, layout: OrganizationLayout, region: str, name: str, ou_id: str
) -> str:
    """Create a member account and move it into `ou_id` (two lifecycle events, as in AWS)."""
    organizations = world.session(layout.management_account_id, region).client("organizations")
    status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
    account_id: str = status["CreateAccountStatus"]["AccountId"]
    organizations.move_account(
        AccountId=account_id, SourceParentId=layout.root_id, DestinationParentId=ou_id
    )
    return account_id


def register_stacksets_delegated_admin(
    world: SandboxWorld, layout: OrganizationLayout, region: str
) -> str:
    """Create `dsdash-stackset-admin` at the root and make it the StackSets delegated admin."""
    organizations = world.session(layout.management_account_id, region).client("organizations")
    status = organizations.create_account(
        AccountName=DELEGATED_ADMIN_ACCOUNT_NAME,
        Email=f"{DELEGATED_ADMIN_ACCOUNT_NAME}@example.com",
    )
    account_id: str = status["CreateAccountStatus"]["AccountId"]
    # Trusted access for StackSets, then the registration (README, "Deploying"). moto has no
    # CloudFormation ActivateOrganizationsAccess: the Organizations side of it stands in.
    organizations.enable_aws_service_access(ServicePrincipal=STACKSETS_SERVICE_PRINCIPAL)
    organizations.register_delegated_administrator(
        AccountId=account_id, ServicePrincipal=STACKSETS_SERVICE_PRINCIPAL
    )
    layout.delegated_admin_account_id = account_id
    return account_id


def build_organization(
    world: SandboxWorld, config: DsdashConfig, *, spoke_count: int, delegated_admin: bool = False
) -> OrganizationLayout:
    """Create the organization, its tagged OUs (one nested) and `spoke_count` spoke accounts,
    and with `delegated_admin` the StackSets delegated administrator account."""
    region = config.hub.region
    management = config.organization.management_account_id
    organizations = world.session(management, region).client("organizations")
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    layout = OrganizationLayout(organization_id, management, root_id)

    project_key = config.organization.project_tag_key
    environment_key = config.organization.environment_tag_key
    placements: list[tuple[str, str, str]] = []  # (project, environment, ou id)
    for project in sorted(config.projects):
        project_ou = _create_ou(organizations, root_id, project, {})
        layout.project_ous[project] = project_ou
        for environment in config.projects[project].environments:
            ou_id = _create_ou(
                organizations,
                project_ou,
                environment,
                {project_key: project, environment_key: environment},
            )
            layout.environment_ous[(project, environment)] = ou_id
            placements.append((project, environment, ou_id))

    # The nested OU sits under the last environment of the first project (prod, typically).
    nested_project, nested_environment, nested_parent = next(
        placement for placement in placements if placement[0] == sorted(config.projects)[0]
    )
    for placement in placements:
        if placement[0] == nested_project:
            nested_project, nested_environment, nested_parent = placement
    layout.nested_ou_id = _create_ou(organizations, nested_parent, NESTED_OU_NAME, {})
    layout.nested_ou_assignment = (nested_project, nested_environment)

    # Spread the spokes: every project first, then the nested OU, then round-robin.
    slots = _spoke_slots(placements, (nested_project, nested_environment, layout.nested_ou_id))
    for index in range(spoke_count):
        project, environment, ou_id = slots[index % len(slots)]
        name = f"{project}-{environment}-{index + 1:02d}"
        account_id = create_account_in(world, layout, region, name, ou_id)
        layout.spokes.append(SpokeAccount(account_id, name, project, environment, ou_id))
    if delegated_admin:
        register_stacksets_delegated_admin(world, layout, region)
    return layout


def _spoke_slots(
    placements: list[tuple[str, str, str]], nested: tuple[str, str, str]
) -> list[tuple[str, str, str]]:
    projects = sorted({project for project, _, _ in placements})
    first_per_project = [
        next(placement for placement in placements if placement[0] == project)
        for project in projects
    ]
    rest = [placement for placement in placements if placement not in first_per_project]
    return [*first_per_project, nested, *rest]
