"""The hub's dashboard publisher (a Lambda): keeps the page in the dashboard bucket current.

Two triggers (`hub_stack/dashboard_publisher/infrastructure.py`, docs/architecture.md §7,
"Dashboard"):
- **after each refresh**: the refresh (`hub_stack/refresh/runtime/refresh.py`, the function and
  `dsdash refresh` alike) makes a one-time EventBridge Scheduler schedule that invokes this
  function with `{"RefreshId": ...}` when the refresh's burst window is over. It renders when
  the registry holds a newer extraction than the page shows (or there is no page), so a repeated
  delivery (Scheduler delivers at least once) or a refresh that brought nothing new renders
  nothing;
- **hourly**, an EventBridge rule: the backstop for the spokes' own staggered schedules, which
  the hub cannot see complete. It renders when there is no page, when the registry holds a newer
  extraction than the page shows, or when the page is about an hour old (`MAX_PAGE_AGE`, less
  the few seconds a schedule drifts), so the page is regenerated at least hourly.
An invocation with `{"force": true}` renders unconditionally.

Each run reads the hub table once (`HubStore.snapshot`: the registry Query and LATEST_SHARDS
Queries per project, which give both the spokes' freshness and the values the page shows) and
the page object's metadata (one HeadObject: the newest extraction it shows) before deciding; a
run with nothing to do costs those reads and nothing more.

It is the runtime of the publisher unit, above the page it renders (`dashboard/`, a shared
runtime below this unit: docs/architecture.md §3, "Layers"). In a deployed hub it reads history
through Athena (`hub_stack.history_query.athena_engine`); DuckDB and pyarrow never run here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger

from contracts.dashboard_page import (
    DASHBOARD_CONTENT_TYPE,
    DASHBOARD_OBJECT_KEY,
    NEWEST_EXTRACTION_METADATA,
)
from dashboard.dashboard_data import DEFAULT_HISTORY_DAYS, assemble_dashboard_data
from dashboard.html import render_dashboard
from dashboard.kpi_spoke_history import with_spoke_history
from hub_stack.history_query.athena_engine import AthenaEngine
from hub_stack.history_query.reads import HistoryEngine
from hub_stack.runtime.store import FreshSpoke, HubStore
from runtime_common.aws import client as aws_client
from runtime_common.aws import session_or_default
from runtime_common.settings import SettingsError, from_variable, read_settings, whole_number
from runtime_common.timestamps import format_timestamp, parse_timestamp

if TYPE_CHECKING:
    import boto3
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="dsdash-dashboard-publisher")

# The backstop rule's period; the unit's construct schedules the rule with it.
PUBLISH_BACKSTOP_MINUTES: Final = 60
MAX_PAGE_AGE: Final = timedelta(hours=1)
# An hourly rule fires a few seconds either side of the hour: a page the previous run rendered
# must count as an hour old, or it would wait for the run after.
SCHEDULE_DRIFT: Final = timedelta(minutes=5)
# The three triggers, as `publish_reason` receives them.
FORCED: Final = "forced"
AFTER_REFRESH: Final = "after refresh"
HOURLY: Final = "hourly"


class PublisherConfigurationError(SettingsError):
    """The function's environment is wrong (a deployment error, named by variable)."""


def _project_names(text: str) -> tuple[str, ...]:
    return tuple(name for name in (part.strip() for part in text.split(",")) if name)


@dataclass(frozen=True)
class PublisherSettings:
    table_name: str = from_variable("TABLE_NAME")
    dashboard_bucket: str = from_variable("DASHBOARD_BUCKET")
    refresh_schedule: str = from_variable("REFRESH_SCHEDULE")
    projects: tuple[str, ...] = from_variable("PROJECT_NAMES", parse=_project_names)
    history_days: int = from_variable("HISTORY_DAYS", parse=whole_number)


@dataclass(frozen=True)
class PublishResult:
    published: bool
    reason: str
    newest_extraction: str | None
    page_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "reason": self.reason,
            "newest_extraction": self.newest_extraction,
            "page_bytes": self.page_bytes,
        }


def _newest(values: Sequence[str | None]) -> str | None:
    moments = [parse_timestamp(value) for value in values if value]
    return format_timestamp(max(moments)) if moments else None


def trigger_of(event: Any) -> str:
    """FORCED, AFTER_REFRESH (a refresh's one-time schedule) or HOURLY (the rule, or anything
    else: an unknown invocation gets the backstop's caution, never a forced render)."""
    if not isinstance(event, dict):
        return HOURLY
    if event.get("force") is True:
        return FORCED
    if isinstance(event.get("RefreshId"), str):
        return AFTER_REFRESH
    return HOURLY


def publish_reason(
    registry: Sequence[FreshSpoke],
    page: dict[str, Any] | None,
    *,
    now: datetime,
    trigger: str = HOURLY,
) -> str | None:
    """Why the page must be rendered now, or None to leave it as it is."""
    if trigger == FORCED:
        return "forced"
    if page is None:
        return "no page yet"
    newest = _newest([spoke.last_extraction_date for spoke in registry])
    shown = page.get("Metadata", {}).get(NEWEST_EXTRACTION_METADATA) or None
    if newest is not None and (shown is None or parse_timestamp(newest) > parse_timestamp(shown)):
        return "a refresh completed" if trigger == AFTER_REFRESH else "newer data than the page"
    if trigger == HOURLY and now - page["LastModified"] >= MAX_PAGE_AGE - SCHEDULE_DRIFT:
        return "page older than an hour"
    return None


def publish_dashboard(
    store: HubStore,
    s3: Any,
    settings: PublisherSettings,
    engine: HistoryEngine,
    *,
    trigger: str = HOURLY,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PublishResult:
    now = clock()
    # One read of the table serves the decision and the page (HubStore.snapshot).
    snapshot = store.snapshot(extra_projects=settings.projects)
    registry = snapshot.spokes
    try:
        page: dict[str, Any] | None = s3.head_object(
            Bucket=settings.dashboard_bucket, Key=DASHBOARD_OBJECT_KEY
        )
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in {"404", "NoSuchKey", "NotFound"}:
            raise
        page = None
    newest = _newest([spoke.last_extraction_date for spoke in registry])
    reason = publish_reason(registry, page, now=now, trigger=trigger)
    if reason is None:
        return PublishResult(False, "the page is current", newest)
    data = assemble_dashboard_data(
        store,
        refresh_schedule=settings.refresh_schedule,
        projects=settings.projects,
        history_engine=engine,
        history_days=settings.history_days,
        clock=lambda: now,
        snapshot=snapshot,
    )
    body = render_dashboard(with_spoke_history(data, engine)).encode("utf-8")
    s3.put_object(
        Bucket=settings.dashboard_bucket,
        Key=DASHBOARD_OBJECT_KEY,
        Body=body,
        ContentType=DASHBOARD_CONTENT_TYPE,
        # The bucket's default is SSE-S3 too; asking for it makes the object's encryption not
        # depend on the bucket's configuration.
        ServerSideEncryption="AES256",
        # A shared link always fetches the current page, never a cached one.
        CacheControl="no-store",
        Metadata={NEWEST_EXTRACTION_METADATA: newest or ""},
    )
    logger.info("dashboard published", extra={"reason": reason, "bytes": len(body)})
    return PublishResult(True, reason, newest, len(body))


def handler(
    event: Any,
    context: LambdaContext | None,
    *,
    session: boto3.Session | None = None,
    engine: HistoryEngine | None = None,
) -> dict[str, Any]:
    """`engine` defaults to Athena in the hub's workgroup; the sandbox passes DuckDB over the
    same bucket because moto's Athena runs no SQL (docs/architecture.md §6)."""
    settings = read_settings(PublisherSettings, os.environ, error=PublisherConfigurationError)
    if settings.history_days < 1:
        raise PublisherConfigurationError("HISTORY_DAYS", "must be at least 1")
    active = session_or_default(session)
    result = publish_dashboard(
        HubStore(settings.table_name, active),
        aws_client(active, "s3"),
        settings,
        engine or AthenaEngine(active),
        trigger=trigger_of(event),
    )
    if isinstance(event, dict) and isinstance(event.get("RefreshId"), str):
        logger.info(
            "run after a refresh", extra={"refresh_id": event["RefreshId"], **result.to_dict()}
        )
    return result.to_dict()


__all__ = ["DEFAULT_HISTORY_DAYS", "handler", "publish_dashboard"]
