"""The hub's dashboard publisher unit: its bucket, function, schedule and permissions
(`infrastructure.py`) beside its handler (`runtime/publisher.py`), which renders the page with
`dashboard/`, a shared runtime below this unit (docs/architecture.md §3)."""
