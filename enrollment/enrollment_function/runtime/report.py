"""What one enrollment, offboarding or ignored event did: the report the function returns and
logs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Logger

logger = Logger(service="dsdash-org-enrollment")


ReportAction = Literal["enroll", "offboard", "pending", "ignored"]


@dataclass
class EnrollmentReport:
    """What one enrollment, offboarding or lifecycle event did, for logs and the CLI."""

    account_id: str | None
    action: ReportAction
    project: str | None = None
    environment: str | None = None
    regions: tuple[str, ...] = ()
    # The registry state written last (None when the registry was not touched).
    state: str | None = None
    reason: str = ""
    # Each completed step and how many attempts it took.
    steps: list[dict[str, Any]] = field(default_factory=list)
    # The connection functions' reports, by step.
    connection_reports: dict[str, Any] = field(default_factory=dict)
    parameters_written: list[str] = field(default_factory=list)
    parameters_deleted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trigger: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        return result
