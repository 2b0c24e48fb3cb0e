"""The data the HTML dashboard shows, as plain immutable values.

The renderer (`dashboard.html.render_dashboard`) reads only this model, never the hub table, so it
can be tested (and benchmarked) without DynamoDB. The `dsdash dashboard` command fills it from the
store. History series are per project, environment, metric and dimensions, already combined across
the accounts of that environment: build them with `dashboard.downsample.AccountCombiner`, which
streams any number of datapoints into a bounded number of points.

`to_json`/`from_json` give a stable, human-readable form for test fixtures; datetimes are ISO 8601
UTC strings and must be timezone-aware.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import contracts

SPOKE_STATES: Final = ("pending", "enrolled", "failed", "offboarded")

# Units whose values add up across accounts (two accounts' completed jobs are the jobs of the
# environment). A percentage or a best objective does not add up: it is averaged instead.
ADDITIVE_UNITS: Final = frozenset({"Count", "Seconds", "Hours"})

# A spoke is stale when it sent no data for more than this many refresh periods; the hub's
# health function judges by the same rule (contracts).
STALE_AFTER_REFRESH_PERIODS: Final = contracts.STALE_AFTER_REFRESH_PERIODS


class DashboardDataError(ValueError):
    """The dashboard data (or its JSON form) is malformed; the message names the field."""


def is_additive(unit: str) -> bool:
    return unit in ADDITIVE_UNITS


def is_stale(last_seen_at: datetime | None, now: datetime, refresh_period_seconds: int) -> bool:
    """No data for more than two refresh periods; a spoke never seen is stale too."""
    if last_seen_at is None:
        return True
    limit = timedelta(seconds=STALE_AFTER_REFRESH_PERIODS * refresh_period_seconds)
    return now - last_seen_at > limit


@dataclass(frozen=True)
class MetricError:
    """A metric that failed in a spoke's last extraction."""

    metric_name: str
    error_code: str
    message: str


@dataclass(frozen=True)
class SpokeStatus:
    account_id: str
    project: str
    environment: str
    state: str
    reason: str
    last_seen_at: datetime | None
    stale: bool
    last_errors: tuple[MetricError, ...] = ()

    def __post_init__(self) -> None:
        if self.state not in SPOKE_STATES:
            raise DashboardDataError(
                f"spoke {self.account_id}: state {self.state!r} is not one of {SPOKE_STATES}"
            )
        _require_aware(self.last_seen_at, f"spoke {self.account_id} last_seen_at")


@dataclass(frozen=True)
class LatestValue:
    """The latest value of one series in one account."""

    project: str
    environment: str
    metric: str
    unit: str
    dimensions: tuple[tuple[str, str], ...]
    account_id: str
    value: float
    extraction_date: datetime

    def __post_init__(self) -> None:
        _require_aware(self.extraction_date, f"latest value {self.metric} extraction_date")


@dataclass(frozen=True)
class HistorySeries:
    """One line of a history chart: a project and environment, combined across its accounts.

    `points` are (epoch seconds, value), in time order. They may be long: the renderer
    resamples every chart onto a bounded grid.
    """

    project: str
    environment: str
    metric: str
    unit: str
    points: tuple[tuple[float, float], ...]
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DashboardData:
    generated_at: datetime
    refresh_period_seconds: int
    spokes: tuple[SpokeStatus, ...] = ()
    latest_values: tuple[LatestValue, ...] = ()
    history: tuple[HistorySeries, ...] = ()
    quarantine_count: int = 0
    # The history window the charts cover, for the caption (None: whatever the points span).
    history_days: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.generated_at, "generated_at")
        if self.refresh_period_seconds <= 0:
            raise DashboardDataError(
                f"refresh_period_seconds must be positive, got {self.refresh_period_seconds}"
            )
        if self.quarantine_count < 0:
            raise DashboardDataError(
                f"quarantine_count must not be negative, got {self.quarantine_count}"
            )

    def to_json(self) -> str:
        return json.dumps(_data_to_dict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DashboardData:
        try:
            document = json.loads(text)
            return _data_from_dict(document)
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, DashboardDataError):
                raise
            raise DashboardDataError(f"invalid dashboard data JSON: {error!r}") from error


def dimensions_of(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The canonical (sorted) form of a dimensions mapping."""
    return tuple(sorted((str(name), str(value)) for name, value in mapping.items()))


def _require_aware(value: datetime | None, what: str) -> None:
    if value is not None and value.tzinfo is None:
        raise DashboardDataError(f"{what} must be timezone-aware, got naive {value.isoformat()}")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _parse_iso(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _required_iso(value: str) -> datetime:
    parsed = _parse_iso(value)
    if parsed is None:
        raise DashboardDataError("a required datetime is null")
    return parsed


def _data_to_dict(data: DashboardData) -> dict[str, Any]:
    return {
        "generated_at": _iso(data.generated_at),
        "refresh_period_seconds": data.refresh_period_seconds,
        "quarantine_count": data.quarantine_count,
        "history_days": data.history_days,
        "spokes": [
            {
                "account_id": spoke.account_id,
                "project": spoke.project,
                "environment": spoke.environment,
                "state": spoke.state,
                "reason": spoke.reason,
                "last_seen_at": _iso(spoke.last_seen_at),
                "stale": spoke.stale,
                "last_errors": [
                    {"metric_name": e.metric_name, "error_code": e.error_code, "message": e.message}
                    for e in spoke.last_errors
                ],
            }
            for spoke in data.spokes
        ],
        "latest_values": [
            {
                "project": value.project,
                "environment": value.environment,
                "metric": value.metric,
                "unit": value.unit,
                "dimensions": dict(value.dimensions),
                "account_id": value.account_id,
                "value": value.value,
                "extraction_date": _iso(value.extraction_date),
            }
            for value in data.latest_values
        ],
        "history": [
            {
                "project": series.project,
                "environment": series.environment,
                "metric": series.metric,
                "unit": series.unit,
                "dimensions": dict(series.dimensions),
                "points": [list(point) for point in series.points],
            }
            for series in data.history
        ],
    }


def _data_from_dict(document: Mapping[str, Any]) -> DashboardData:
    return DashboardData(
        generated_at=_required_iso(document["generated_at"]),
        refresh_period_seconds=int(document["refresh_period_seconds"]),
        quarantine_count=int(document.get("quarantine_count", 0)),
        history_days=document.get("history_days"),
        spokes=tuple(
            SpokeStatus(
                account_id=str(spoke["account_id"]),
                project=str(spoke["project"]),
                environment=str(spoke["environment"]),
                state=str(spoke["state"]),
                reason=str(spoke.get("reason", "")),
                last_seen_at=_parse_iso(spoke.get("last_seen_at")),
                stale=bool(spoke["stale"]),
                last_errors=tuple(
                    MetricError(str(e["metric_name"]), str(e["error_code"]), str(e["message"]))
                    for e in spoke.get("last_errors", ())
                ),
            )
            for spoke in document.get("spokes", ())
        ),
        latest_values=tuple(
            LatestValue(
                project=str(value["project"]),
                environment=str(value["environment"]),
                metric=str(value["metric"]),
                unit=str(value["unit"]),
                dimensions=dimensions_of(value.get("dimensions", {})),
                account_id=str(value["account_id"]),
                value=float(value["value"]),
                extraction_date=_required_iso(value["extraction_date"]),
            )
            for value in document.get("latest_values", ())
        ),
        history=tuple(
            HistorySeries(
                project=str(series["project"]),
                environment=str(series["environment"]),
                metric=str(series["metric"]),
                unit=str(series["unit"]),
                dimensions=dimensions_of(series.get("dimensions", {})),
                points=tuple((float(t), float(v)) for t, v in series["points"]),
            )
            for series in document.get("history", ())
        ),
    )


def series_label(project: str, environment: str, dimensions: Iterable[tuple[str, str]]) -> str:
    """How a line is named in legends: `project/environment`, then its dimensions."""
    label = f"{project}/{environment}"
    dimension_text = ", ".join(f"{name}={value}" for name, value in dimensions)
    return f"{label} {dimension_text}" if dimension_text else label
