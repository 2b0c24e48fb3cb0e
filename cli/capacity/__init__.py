"""`dsdash plan`: the quotas N spokes hit and a line-item monthly cost, dsdash against the
sample's design, from list prices (`prices.json`) and measured counts (`measured_counts.json`).
docs/architecture.md §7, "Hub data plane: reads, `dsdash plan`"."""
