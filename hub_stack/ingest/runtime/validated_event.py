"""A metric event the hub accepted: what ingest stores, judges and delivers to history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ValidatedMetric:
    metric_name: str
    value: Decimal
    unit: str
    dimensions: Mapping[str, str]
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class ValidatedError:
    metric_name: str
    error_code: str
    message: str


@dataclass(frozen=True)
class ValidatedEvent:
    event_id: str
    account_id: str
    region: str
    project_name: str
    environment: str
    extraction_time: datetime
    extraction_date: str  # canonical, see runtime_common.timestamps.format_timestamp
    schema_version: int
    metrics: tuple[ValidatedMetric, ...]
    errors: tuple[ValidatedError, ...] = field(default_factory=tuple)
