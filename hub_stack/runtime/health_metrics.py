"""Names of the platform-health metrics, shared by the functions that produce them and the
stack that alarms on them (docs/architecture.md §7, "Alerts").

- `SpokesStale` and `SpokesFailed`: published by the platform-health function
  (`hub_stack.platform_health.runtime.platform_health`) from the spoke registry, every few minutes;
- `QuarantinedEvents`: counted by a CloudWatch Logs metric filter on the ingest function's log
  line `QUARANTINE_LOG_MESSAGE`, one per quarantined event (no extra call on the ingest path).
"""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "dsdash"
SPOKES_STALE: Final = "SpokesStale"
SPOKES_FAILED: Final = "SpokesFailed"
SPOKES_ENROLLED: Final = "SpokesEnrolled"
QUARANTINED_EVENTS: Final = "QuarantinedEvents"
# The ingest function logs exactly this message (JSON field `message`) per quarantined event.
QUARANTINE_LOG_MESSAGE: Final = "quarantined metric event"
