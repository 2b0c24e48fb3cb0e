"""What every validation pass of `config/projects.yaml` shares: the problems found so far.

The passes (`config.schema_checks`, `config.metric_list_checks`, `config.semantic_checks`,
`config.alert_validation`; run in order by `config.loader`) report through one
`ConfigValidation`, which places each problem at its line and column and remembers the values
already reported, so that later passes do not pile on inside a value found malformed.
"""

from __future__ import annotations

from typing import Any

from config.errors import ConfigProblem
from config.yaml_positions import DocumentPath, ParsedDocument, Position, format_json_path
from metrics.base import Metric
from metrics.registry import all_metric_classes


class ConfigValidation:
    """The document under validation and the problems reported on it, in order."""

    def __init__(self, file_name: str, document: ParsedDocument) -> None:
        self.file_name = file_name
        self.document = document
        self.data: Any = document.data
        self.problems: list[ConfigProblem] = []
        # Values already reported as malformed: later passes do not pile on inside them.
        self._blocked: set[DocumentPath] = set()
        # (path of the metric list item) -> arguments with defaults filled in.
        self.validated_metrics: dict[DocumentPath, dict[str, Any]] = {}
        self._metric_classes: dict[str, type[Metric]] | None = None

    def report(
        self,
        path: DocumentPath,
        message: str,
        expected: str,
        suggestion: str | None = None,
        *,
        at_key: bool = False,
        block: bool = True,
        position: Position | None = None,
    ) -> None:
        """Record a problem at `path` (its key if `at_key`, else its value, unless `position`
        says otherwise). `block` keeps later passes from reporting more inside that value."""
        if position is None:
            position = self.document.locate(path, at_key=at_key)
        self.problems.append(
            ConfigProblem(
                self.file_name,
                position.line,
                position.column,
                format_json_path(path),
                message,
                expected,
                suggestion,
            )
        )
        if block:
            self._blocked.add(path)

    def is_blocked(self, path: DocumentPath) -> bool:
        return any(path[:length] in self._blocked for length in range(len(path) + 1))

    def has_problem_within(self, path: DocumentPath) -> bool:
        return self.is_blocked(path) or any(
            blocked[: len(path)] == path for blocked in self._blocked
        )

    def line_of(self, path: DocumentPath, *, at_key: bool = False) -> int:
        return self.document.locate(path, at_key=at_key).line

    def value_at(self, path: DocumentPath) -> Any:
        """The value at `path` in the document, or None where the path leads nowhere."""
        current = self.data
        for element in path:
            if isinstance(element, int) and isinstance(current, list) and element < len(current):
                current = current[element]
            elif isinstance(current, dict):
                current = current.get(element)
            else:
                return None
        return current

    def metric_classes(self) -> dict[str, type[Metric]]:
        if self._metric_classes is None:
            self._metric_classes = all_metric_classes()
        return self._metric_classes
