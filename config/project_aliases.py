"""Project aliases name one project each: the config check behind `projects.<name>.aliases`.

The hub reads a v1 event's ProjectName ignoring case, and through the aliases the config lists
(docs/architecture.md §7, "Spokes of the original sample"). So an alias that equals, ignoring
case, another project's name or another project's alias would make one name mean two projects.
An alias equal to its own project's name is harmless (it only repeats what case-insensitive
matching does), so it is not reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from config.yaml_positions import DocumentPath


@dataclass(frozen=True)
class AliasClash:
    """`alias` (at `path`) of `project` already names `other_project` (at `other_path`)."""

    path: DocumentPath
    project: str
    alias: str
    other_project: str
    other_path: DocumentPath | None  # None: it is that project's own name


def project_name_clashes(
    projects: Any, *, blocked: Callable[[DocumentPath], bool]
) -> Iterator[AliasClash]:
    """Every alias that names a second project, in file order; skips what is already reported."""
    if not isinstance(projects, dict):
        return
    owners: dict[str, tuple[str, DocumentPath | None]] = {
        str(name).casefold(): (str(name), None) for name in projects
    }
    for name, project in projects.items():
        aliases = project.get("aliases") if isinstance(project, dict) else None
        if not isinstance(aliases, list):
            continue
        for index, alias in enumerate(aliases):
            path: DocumentPath = ("projects", str(name), "aliases", index)
            if not isinstance(alias, str) or blocked(path):
                continue
            owner = owners.get(alias.casefold())
            if owner is None:
                owners[alias.casefold()] = (str(name), path)
            elif owner[0] != str(name):
                yield AliasClash(path, str(name), alias, owner[0], owner[1])
