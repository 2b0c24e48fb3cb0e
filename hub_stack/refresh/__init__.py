"""The hub's on-demand refresh unit: the function that asks spokes to extract now (through the
refresh topic or the hub bus) and schedules the page's render after the burst; its CDK construct
(`infrastructure`) beside its `runtime/`."""
