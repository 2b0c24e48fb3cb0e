"""Where an account belongs: the placement policy (OU tags and config -> project, environment),
the Organizations reads it needs, the StackSet names and the Organizations event shapes.

Shared by the enrollment function (`enrollment.enrollment_function`) and the org reconciler
(`org_stack.reconciler`), below both: it imports neither, so imports run one way (the org stack
composes the enrollment units; docs/architecture.md §3).
"""
