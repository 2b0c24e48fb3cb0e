"""What a bad `config/projects.yaml` produces: every problem, each with its place in the file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One mistake in the config file.

    `line` and `column` are 1-based. `message` says what was wrong, `expected` what would be
    right, and `suggestion` is the closest valid name when the mistake looks like a typo.
    """

    file: str
    line: int
    column: int
    json_path: str
    message: str
    expected: str
    suggestion: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.json_path}: {self.message}"
        if self.expected:
            text += f", {self.expected}"
        if self.suggestion is not None:
            text += f" (did you mean {self.suggestion!r}?)"
        return text


class ConfigError(Exception):
    """The config file is invalid. `problems` holds every problem found, in file order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(sorted(set(problems)))
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        super().__init__("\n".join(str(problem) for problem in self.problems))
