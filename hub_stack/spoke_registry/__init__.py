"""The spoke registry: one item per spoke account in the hub table (PK `SPOKE`), holding its
enrollment state (pending, enrolled, failed, offboarded, with a reason); its freshness is in
its latest items (`hub_stack.runtime.latest_values`).

Shared by the hub's runtimes (ingest authenticates senders against it; status, dashboard and
platform health read it) and the enrollment function (which records each spoke's state), below
both: it imports only the table's layout and access (`hub_stack.table_design`,
`hub_stack.table_access`) and the runtime plumbing, never a unit's runtime, so the enrollment
bundle carries the registry and not the hub store (docs/architecture.md §3).
"""
