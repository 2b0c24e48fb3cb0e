"""The hub's platform-health unit: the function that publishes how many spokes are stale or
failed, for the health alarms, and its schedule; its CDK construct (`infrastructure`) beside its
`runtime/`."""
