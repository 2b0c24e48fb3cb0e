"""The hub's dashboard publisher (a Lambda): keeps the page in the dashboard bucket current.

Run every `PUBLISH_CHECK_MINUTES` by an EventBridge schedule (`hub_stack/dashboard_publisher.py`).
The hub has no "refresh completed" event: spokes run their own staggered schedules and the
on-demand refresh only emits (`hub_stack/runtime/refresh.py`); what the hub does know is the
registry's freshness, which ingest updates with every event (as `dsdash status` and the platform
health function read it). So each run reads the registry (one paginated Query) and the page
object's metadata (one HeadObject), and renders again only when
- there is no page yet, or the page is `MAX_PAGE_AGE` old (at least hourly), or
- the registry holds a newer extraction than the page shows, and no spoke has reported for
  `SETTLE_AFTER` (the refresh's burst is over, so the page shows the whole refresh, not its
  first spokes; a hub that never goes quiet still gets the hourly page).
An invocation with `{"force": true}` renders unconditionally.

It lives with the page (docs/architecture.md §3, "Layers": it renders `dashboard/`, so it sits in
the page's layer, and `hub_stack` never imports it). In a deployed hub it reads history through
Athena (`hub_stack.history_query.athena_engine`); DuckDB and pyarrow never run here.
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

PUBLISH_CHECK_MINUTES: Final = 15
MAX_PAGE_AGE: Final = timedelta(hours=1)
SETTLE_AFTER: Final = timedelta(minutes=5)


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


def publish_reason(
    registry: Sequence[FreshSpoke],
    page: dict[str, Any] | None,
    *,
    now: datetime,
    force: bool = False,
) -> str | None:
    """Why the page must be rendered now, or None to leave it as it is."""
    if force:
        return "forced"
    if page is None:
        return "no page yet"
    if now - page["LastModified"] >= MAX_PAGE_AGE:
        return "page older than an hour"
    newest = _newest([spoke.last_extraction_date for spoke in registry])
    shown = page.get("Metadata", {}).get(NEWEST_EXTRACTION_METADATA) or None
    if newest is None or (shown is not None and parse_timestamp(newest) <= parse_timestamp(shown)):
        return None
    last_seen = _newest([spoke.last_seen_at for spoke in registry])
    if last_seen is not None and now - parse_timestamp(last_seen) < SETTLE_AFTER:
        return None  # a refresh is still arriving: the next run renders it whole
    return "a refresh brought newer data"


def publish_dashboard(
    store: HubStore,
    s3: Any,
    settings: PublisherSettings,
    engine: HistoryEngine,
    *,
    force: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PublishResult:
    now = clock()
    registry = store.spokes_with_freshness()
    try:
        page: dict[str, Any] | None = s3.head_object(
            Bucket=settings.dashboard_bucket, Key=DASHBOARD_OBJECT_KEY
        )
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in {"404", "NoSuchKey", "NotFound"}:
            raise
        page = None
    newest = _newest([spoke.last_extraction_date for spoke in registry])
    reason = publish_reason(registry, page, now=now, force=force)
    if reason is None:
        return PublishResult(False, "the page is current", newest)
    data = assemble_dashboard_data(
        store,
        refresh_schedule=settings.refresh_schedule,
        projects=settings.projects,
        history_engine=engine,
        history_days=settings.history_days,
        clock=lambda: now,
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
        force=isinstance(event, dict) and event.get("force") is True,
    )
    return result.to_dict()


__all__ = ["DEFAULT_HISTORY_DAYS", "handler", "publish_dashboard"]
