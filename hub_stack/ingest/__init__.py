"""The hub's ingest unit: the function that validates the spokes' metric events from the ingest
queue, stores their latest values, quarantines what it refuses, streams history to Firehose and
judges the alert rules; its CDK construct (`infrastructure`) beside its `runtime/`."""
