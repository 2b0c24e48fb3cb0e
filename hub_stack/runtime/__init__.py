"""The hub's shared runtime, below the hub's function units (ingest, platform health, dashboard
publisher) and read by the CLI: the hub table's items and their readers and writers (`store`,
`latest_values` with `latest_item_format`, `quarantine`, `alert_state`, `datapoints`,
`utf8_text`) and the health metric names the ingest log, the health function and the alarms
share (`health_metrics`). A module one function alone runs lives in that function's unit."""
