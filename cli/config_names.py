"""Check the project and environment names an operator types against the config.

EventBridge and DynamoDB accept any name, so `dsdash refresh --project nosuch` would reach no
spoke and `dsdash query --project nosuch` would find nothing, both "successfully". The console
refuses names the config does not know (exit 2), with the closest configured name.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from config.model import DsdashConfig


class UnknownNameError(ValueError):
    """A name the config does not declare; the message names the known ones."""


def check_configured_names(
    config: DsdashConfig, *, project: str | None = None, environment: str | None = None
) -> None:
    """Raise UnknownNameError unless `project` is a configured project and `environment` one of
    its environments (or, without a project, of any project)."""
    if project is not None and project not in config.projects:
        raise UnknownNameError(_unknown("project", project, sorted(config.projects)))
    if environment is None:
        return
    if project is not None:
        environments = list(config.projects[project].environments)
        scope = f" of project {project}"
    else:
        environments = sorted(
            {name for settings in config.projects.values() for name in settings.environments}
        )
        scope = ""
    if environment not in environments:
        raise UnknownNameError(_unknown("environment", environment, environments, scope))


def _unknown(kind: str, name: str, known: Sequence[str], scope: str = "") -> str:
    message = f"unknown {kind} {name!r}{scope}; the config has: {', '.join(known) or 'none'}"
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if matches:
        message += f" (did you mean {matches[0]!r}?)"
    return message
