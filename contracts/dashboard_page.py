"""Where the hub keeps the dashboard page (docs/architecture.md §4, §7 "Dashboard"): the
publisher function writes it, `dsdash dashboard --open/--share` reads it. Named like the history
bucket (`contracts.history_table`): global bucket names, unique by the hub's account and region."""

from __future__ import annotations

from typing import Final

# The one object the publisher writes; the page is self-contained (no other object to fetch).
DASHBOARD_OBJECT_KEY: Final = "dashboard/index.html"
DASHBOARD_CONTENT_TYPE: Final = "text/html; charset=utf-8"
# The publisher's fixed function name, so `dsdash` and the sandbox find it without a lookup.
DASHBOARD_PUBLISHER_FUNCTION_NAME: Final = "dsdash-dashboard-publisher"
# The role EventBridge Scheduler invokes the publisher with after a refresh (fixed, so a refresh
# made outside the hub's refresh function, `dsdash refresh`, can name it too).
DASHBOARD_PUBLISH_SCHEDULE_ROLE_NAME: Final = "dsdash-dashboard-publish-schedule"
# Object metadata: the newest extraction the page shows, so the scheduled publisher can tell
# whether a refresh brought newer data than the page without rendering it again.
NEWEST_EXTRACTION_METADATA: Final = "newest-extraction"
# Presigned links for sharing: short by default; SigV4 presigned URLs are valid for at most 7
# days, and a link made with temporary credentials dies with them, so dsdash caps it at 12 h.
DEFAULT_SHARE_SECONDS: Final = 15 * 60
MAX_SHARE_SECONDS: Final = 12 * 60 * 60


def dashboard_bucket_name(account_id: str, region: str) -> str:
    return f"dsdash-dashboard-{account_id}-{region}"
