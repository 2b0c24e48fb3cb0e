"""Adopting the original sample's spoke registrations into the hub's registry.

The sample registers a spoke in the hub as an SSM parameter `/monitored_projects/<Project>/<env>`
whose value is an account id, or a comma-separated list of them (an SSM StringList). Ingest
only trusts the hub's DynamoDB registry, so `dsdash adopt --from-ssm` reads those parameters and
registers each account as an enrolled spoke of the configured project the sample's name resolves
to (its name or one of its `aliases:`, ignoring case, as ingest resolves the events' ProjectName).

Adoption only adds registry items. It changes no parameter, rule or bus policy, so a spoke the
sample wired keeps sending exactly as before; its events are stored under the configured project
name, so its series are the ones a dsdash spoke of the same project and environment continues
(docs/architecture.md §7, "Spokes of the original sample").

dsdash's own parameters, `/monitored_projects/<project>/<env>/<AccountId>`, belong to the
enrollment function, which registers those accounts itself; they are counted and left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import boto3

from config.model import DsdashConfig
from contracts import MONITORED_PROJECTS_PREFIX
from enrollment.connection.runtime.ssm_topology import iter_parameters_by_path
from hub_stack.ingest.runtime.sample_compatibility import ProjectDirectory
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState
from runtime_common.aws import client
from runtime_common.identifiers import is_account_id

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


@dataclass(frozen=True)
class SampleRegistration:
    """One account named by one of the sample's parameters, as written there."""

    parameter_name: str
    written_project: str
    environment: str
    account_id: str


@dataclass(frozen=True)
class AdoptionProblem:
    parameter_name: str
    message: str


@dataclass(frozen=True)
class SampleParameters:
    """What the hub's `/monitored_projects/` holds: the sample's registrations, dsdash's own
    parameters (counted, not adopted) and the parameters that cannot be read."""

    registrations: tuple[SampleRegistration, ...]
    dsdash_parameters: int
    problems: tuple[AdoptionProblem, ...]


class Change(StrEnum):
    REGISTER = "register"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PlannedSpoke:
    account_id: str
    project_name: str
    environment: str
    parameter_name: str
    change: Change

    @property
    def scope(self) -> tuple[str, str]:
        return (self.project_name, self.environment)


@dataclass(frozen=True)
class AdoptionPlan:
    spokes: tuple[PlannedSpoke, ...]
    problems: tuple[AdoptionProblem, ...]
    dsdash_parameters: int

    @property
    def to_register(self) -> tuple[PlannedSpoke, ...]:
        return tuple(spoke for spoke in self.spokes if spoke.change is Change.REGISTER)


def read_sample_parameters(session: boto3.Session | None) -> SampleParameters:
    """Every parameter under `/monitored_projects/` (GetParametersByPath, all pages)."""
    ssm: SSMClient = client(session, "ssm")
    registrations: list[SampleRegistration] = []
    problems: list[AdoptionProblem] = []
    dsdash_parameters = 0
    for name, value in iter_parameters_by_path(ssm, MONITORED_PROJECTS_PREFIX):
        segments = name[len(MONITORED_PROJECTS_PREFIX) :].split("/")
        if len(segments) == 3:
            dsdash_parameters += 1
            continue
        if len(segments) != 2 or not all(segments):
            problems.append(
                AdoptionProblem(
                    name, f"expected {MONITORED_PROJECTS_PREFIX}<Project>/<env>, the sample's form"
                )
            )
            continue
        project, environment = segments
        for item in value.split(","):
            account_id = item.strip()
            if is_account_id(account_id):
                registrations.append(SampleRegistration(name, project, environment, account_id))
            else:
                problems.append(
                    AdoptionProblem(
                        name,
                        f"{account_id!r} in its value {value!r} is not a 12-digit account id; "
                        "that entry is not adopted",
                    )
                )
    return SampleParameters(tuple(registrations), dsdash_parameters, tuple(problems))


def plan_adoption(
    parameters: SampleParameters,
    config: DsdashConfig,
    registry: Mapping[str, SpokeRecord],
) -> AdoptionPlan:
    """What adoption would change, and what it cannot adopt (with why), without writing."""
    directory = ProjectDirectory.from_projects(
        {name: project.aliases for name, project in config.projects.items()}
    )
    problems = list(parameters.problems)
    spokes: dict[str, PlannedSpoke] = {}
    named_twice: set[str] = set()
    for registration in parameters.registrations:
        planned = _plan_one(registration, config, directory, registry, problems)
        if planned is None:
            continue
        earlier = spokes.get(planned.account_id)
        if earlier is not None and earlier.scope != planned.scope:
            problems.append(
                AdoptionProblem(
                    planned.parameter_name,
                    f"account {planned.account_id} is also registered for "
                    f"{'/'.join(earlier.scope)} by {earlier.parameter_name}; a spoke account "
                    "belongs to one project and environment, so it is not adopted until one of "
                    "the two parameters is fixed",
                )
            )
            named_twice.add(planned.account_id)
        spokes.setdefault(planned.account_id, planned)
    return AdoptionPlan(
        spokes=tuple(
            sorted(
                (spoke for spoke in spokes.values() if spoke.account_id not in named_twice),
                key=lambda spoke: spoke.account_id,
            )
        ),
        problems=tuple(problems),
        dsdash_parameters=parameters.dsdash_parameters,
    )


def _plan_one(
    registration: SampleRegistration,
    config: DsdashConfig,
    directory: ProjectDirectory,
    registry: Mapping[str, SpokeRecord],
    problems: list[AdoptionProblem],
) -> PlannedSpoke | None:
    name = registration.parameter_name
    account_id = registration.account_id
    project_name = directory.resolve(registration.written_project)
    if project_name is None:
        closest = directory.closest(registration.written_project)
        problems.append(
            AdoptionProblem(
                name,
                f"project {registration.written_project!r} is no configured project's name or "
                "alias (ignoring case)"
                + (
                    f"; the closest is {closest!r}: add {registration.written_project!r} to "
                    f"projects.{closest}.aliases in the config if it is that one"
                    if closest
                    else ""
                ),
            )
        )
        return None
    environments = config.project(project_name).environments
    if registration.environment not in environments:
        problems.append(
            AdoptionProblem(
                name,
                f"environment {registration.environment!r} is not one of project "
                f"{project_name}'s environments ({', '.join(environments)}); the sample's "
                "events name it too, so add it to the project's environments",
            )
        )
        return None
    scope = (project_name, registration.environment)
    spoke = registry.get(account_id)
    if spoke is None:
        change = Change.REGISTER
    elif spoke.state is SpokeState.ENROLLED and (spoke.project_name, spoke.environment) == scope:
        change = Change.UNCHANGED
    else:
        problems.append(
            AdoptionProblem(
                name,
                f"account {account_id} is already in the registry as {spoke.state.value} for "
                f"{spoke.project_name}/{spoke.environment}; it is left as it is (use `dsdash "
                "enroll` or `dsdash offboard` to change it)",
            )
        )
        return None
    return PlannedSpoke(account_id, project_name, registration.environment, name, change)


def register_spokes(store: HubStore, spokes: Iterable[PlannedSpoke]) -> int:
    """Write the registry items of `spokes` (each one UpdateItem); returns how many."""
    written = 0
    for spoke in spokes:
        store.registry.set_spoke_state(
            spoke.account_id,
            SpokeState.ENROLLED,
            reason=f"adopted from the sample's {spoke.parameter_name} (dsdash adopt)",
            project_name=spoke.project_name,
            environment=spoke.environment,
        )
        written += 1
    return written
