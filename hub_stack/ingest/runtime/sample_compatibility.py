"""v1 events exactly as the original sample (aws-samples/ds-dashboard) writes them.

The sample's spokes put one event per metric whose detail differs from our v1 contract in three
ways (docs/architecture.md §7, "Spokes of the original sample"). `SampleDialect.normalize` runs
on every v1 detail before it is validated, and rewrites what it can read without guessing:

- `ExtractionDate` is `datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")`, a local time with no
  zone. Lambda's local time is UTC, so a naive timestamp is read as UTC. A timestamp with a zone
  keeps it. Either way it becomes ISO 8601 with an offset; anything else is left for the schema
  to refuse.
- `MetricValue` of its SSM metric is the parameter's text (`"42"`). A string holding a finite
  decimal number becomes that number; `"NaN"` and `"Infinity"` are refused as NonFiniteValue,
  any other string as NonNumericValue, with the text in the reason.
- `ProjectName` is free text (`Project1`). It becomes the configured project whose name or
  alias it equals ignoring case. With no match the event is refused as UnknownProject, and the
  reason names the closest configured project.

The project names and aliases reach the ingest function as JSON in its environment
(`PROJECT_ALIASES_ENVIRONMENT_VARIABLE`), written by the hub stack from the config.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

from hub_stack.ingest.runtime.event_rejection import Claims, EventRejected, RejectionCode

PROJECT_ALIASES_ENVIRONMENT_VARIABLE: Final = "PROJECT_ALIASES"
# Lambda allows 4 KB for all of a function's environment variables together
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html); the other variables
# of the ingest function take well under 1 KB.
MAX_PROJECT_ALIASES_CHARS: Final = 3_000

# A decimal number as text: what Python's Decimal reads, without its NaN and Infinity spellings,
# and with the surrounding blanks an SSM parameter value may carry.
_DECIMAL_TEXT: Final = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_NON_FINITE_TEXT: Final = re.compile(r"^\s*[+-]?(nan|snan|inf|infinity)\s*$", re.IGNORECASE)
# A date and a time of day, separated by `T` or a blank, then anything fromisoformat reads.
_DATE_TIME_TEXT: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class ProjectDirectoryError(ValueError):
    """The PROJECT_ALIASES setting cannot be read."""


@dataclass(frozen=True)
class ProjectDirectory:
    """Configured project names and their aliases; looks a written name up ignoring case."""

    aliases: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "aliases",
            MappingProxyType({name: tuple(names) for name, names in self.aliases.items()}),
        )

    @classmethod
    def from_projects(cls, projects: Mapping[str, Sequence[str]]) -> ProjectDirectory:
        return cls({name: tuple(aliases) for name, aliases in projects.items()})

    @classmethod
    def from_document(cls, document: object) -> ProjectDirectory:
        """The directory of the PROJECT_ALIASES document (read by `json_document`)."""
        if not isinstance(document, dict) or not all(
            isinstance(aliases, list) and all(isinstance(alias, str) for alias in aliases)
            for aliases in document.values()
        ):
            raise ProjectDirectoryError(
                f"must map each project name to a list of alias strings, got {document!r:.200}"
            )
        return cls.from_projects(document)

    def environment_value(self) -> str:
        """The JSON the hub stack puts in the ingest function's environment."""
        text = json.dumps(
            {name: list(aliases) for name, aliases in sorted(self.aliases.items())},
            separators=(",", ":"),
        )
        if len(text) > MAX_PROJECT_ALIASES_CHARS:
            raise ProjectDirectoryError(
                f"the project names and aliases take {len(text)} characters; the ingest "
                f"function's environment holds at most {MAX_PROJECT_ALIASES_CHARS} of them "
                "(Lambda allows 4 KB for all variables): shorten or remove aliases"
            )
        return text

    def _by_folded_name(self) -> dict[str, str]:
        names = {name.casefold(): name for name in self.aliases}
        for name, aliases in self.aliases.items():
            for alias in aliases:
                names.setdefault(alias.casefold(), name)
        return names

    def resolve(self, written: str) -> str | None:
        """The configured project `written` names (by name or alias, ignoring case), or None."""
        return self._by_folded_name().get(written.casefold())

    def closest(self, written: str) -> str | None:
        """The configured project whose name or alias looks most like `written`."""
        by_folded_name = self._by_folded_name()
        if not by_folded_name:
            return None
        folded = written.casefold()
        best = max(
            by_folded_name,
            key=lambda name: (difflib.SequenceMatcher(None, folded, name).ratio(), name),
        )
        return by_folded_name[best]


@dataclass(frozen=True)
class SampleDialect:
    """Rewrites a v1 detail as the sample writes it into our v1 contract (see module doc).

    Without a directory (an ingest function deployed before aliases existed), project names are
    left as written and the schema decides.
    """

    directory: ProjectDirectory | None = None

    def normalize(self, detail: dict[str, Any], claims: Claims) -> dict[str, Any]:
        normalized = dict(detail)
        value = detail.get("MetricValue")
        if isinstance(value, str):
            normalized["MetricValue"] = number_from_text(value, claims)
        extraction_date = detail.get("ExtractionDate")
        if isinstance(extraction_date, str):
            normalized["ExtractionDate"] = timestamp_with_zone(extraction_date)
        project = detail.get("ProjectName")
        if isinstance(project, str) and self.directory is not None:
            normalized["ProjectName"] = configured_project(project, self.directory, claims)
        return normalized


def number_from_text(text: str, claims: Claims) -> Decimal:
    """The number a string holds, or EventRejected saying why it holds none."""
    shown = text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"
    if _DECIMAL_TEXT.match(text):
        return Decimal(text.strip())
    if _NON_FINITE_TEXT.match(text):
        raise EventRejected(
            RejectionCode.NON_FINITE_VALUE,
            f"detail.MetricValue is the string {shown!r}, not a finite number",
            claims,
        )
    raise EventRejected(
        RejectionCode.NON_NUMERIC_VALUE,
        f"detail.MetricValue is the string {shown!r}, which does not hold a number (a numeric "
        "string such as '42' is read as a number)",
        claims,
    )


def timestamp_with_zone(text: str) -> str:
    """ISO 8601 with an offset: a naive time is UTC, a zoned one keeps its zone. Text that is
    not a date and time is returned unchanged, for the schema to refuse with its own reason."""
    if not _DATE_TIME_TEXT.match(text):
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def configured_project(written: str, directory: ProjectDirectory, claims: Claims) -> str:
    project = directory.resolve(written)
    if project is not None:
        return project
    closest = directory.closest(written)
    hint = (
        f"; the closest configured project is {closest!r}: if the event is its, add "
        f"{written!r} to projects.{closest}.aliases in config/projects.yaml and deploy the hub"
        if closest is not None
        else "; no project is configured"
    )
    raise EventRejected(
        RejectionCode.UNKNOWN_PROJECT,
        f"detail.ProjectName {written[:128]!r} is no configured project's name or alias "
        f"(ignoring case){hint}",
        claims,
    )
