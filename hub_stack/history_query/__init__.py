"""History reads: one query layer over the columnar history, two engines (DuckDB, Athena).

See `reads` for the entry points and docs/architecture.md §7 ("Data plane: reads").
"""
