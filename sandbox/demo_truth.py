"""The demo's truth check: what the hub stored for each spoke against what its seeded plan says
every metric must report (`sandbox.seed.expected_datapoints`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from config.model import DsdashConfig
from hub_stack.runtime.store import HubStore
from sandbox.organization import OrganizationLayout
from sandbox.seed import SpokeActivityPlan, describe_key, expected_datapoints

# Comparing floats that went through JSON and DynamoDB's decimal numbers.
VALUE_TOLERANCE = 1e-6


class DemoWorld(Protocol):
    """What the check reads of `sandbox.demo_world.Demo` (named here: that module imports this
    one, for `Demo.compare_with_truth`)."""

    config: DsdashConfig
    layout: OrganizationLayout
    plans: dict[str, SpokeActivityPlan]

    def store(self) -> HubStore: ...


@dataclass
class SpokeResult:
    account_id: str
    name: str
    project: str
    environment: str
    state: str
    reason: str
    expected: int
    matching: int
    mismatches: list[str] = field(default_factory=list)
    joined_late: bool = False

    @property
    def ok(self) -> bool:
        return self.state == "enrolled" and self.matching == self.expected and not self.mismatches


def compare_with_truth(demo: DemoWorld) -> list[SpokeResult]:
    """Each spoke's latest values in the hub against the truth its plan implies."""
    store = demo.store()
    registry = {spoke.account_id: spoke for spoke in store.registry.list_spokes()}
    latest = [record for records in store.latest_values_all().values() for record in records]
    results = []
    for spoke in demo.layout.spokes:
        record = registry.get(spoke.account_id)
        plan = demo.plans.get(spoke.account_id)
        expected = (
            expected_datapoints(plan, demo.config.projects[spoke.project].metrics) if plan else {}
        )
        measured = {
            (value.metric_name, tuple(sorted(value.dimensions.items()))): float(value.value)
            for value in latest
            if value.account_id == spoke.account_id
        }
        mismatches = [
            f"{describe_key(key)}: expected {value:g}, hub has "
            + (f"{measured[key]:g}" if key in measured else "nothing")
            for key, value in sorted(expected.items())
            if key not in measured or abs(measured[key] - value) > VALUE_TOLERANCE
        ]
        mismatches += [
            f"{describe_key(key)}: unexpected value {measured[key]:g}"
            for key in sorted(set(measured) - set(expected))
        ]
        results.append(
            SpokeResult(
                account_id=spoke.account_id,
                name=spoke.name,
                project=spoke.project,
                environment=spoke.environment,
                state=record.state if record else "unknown",
                reason=record.reason if record else "not in the hub registry",
                expected=len(expected),
                matching=len(expected)
                - sum(
                    1
                    for key in expected
                    if key not in measured or abs(measured[key] - expected[key]) > VALUE_TOLERANCE
                ),
                mismatches=mismatches,
                joined_late=spoke.name.endswith("-new"),
            )
        )
    return results
