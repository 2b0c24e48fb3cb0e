"""The hub's dashboard publisher: its bucket, function, schedule and permissions
(`infrastructure.py`). Its handler renders the page, so it lives with the page
(`dashboard/publisher.py`, docs/architecture.md §3)."""
