"""Enrolling one more spoke costs the same AWS calls whatever the number already enrolled.

The whole path of a new account (its MoveAccount seen by enrollment and by the reconciler, then
its stack instance's CREATE SUCCEEDED through enrollment and the connection functions) runs on
moto with the real handlers (bench.enrollment_scale, which `python -m bench` runs up to 10,000).
Sizes stay small here; what matters is that the count does not grow with them, and that it is
within the budget of 30 calls per account (docs/architecture.md §7).
"""

from __future__ import annotations

from bench.enrollment_scale import CALLS_PER_ACCOUNT_GOAL, enroll_one_more


def test_enrollment_calls_per_account_are_flat_and_within_budget() -> None:
    few = enroll_one_more(5)
    many = enroll_one_more(150)

    assert few["state"] == many["state"] == "enrolled"
    assert few["failed_invocations"] == many["failed_invocations"] == []
    # Same calls, operation by operation: nothing reads every spoke's parameter or rule.
    assert many["move_breakdown"] == few["move_breakdown"]
    assert many["enroll_breakdown"] == few["enroll_breakdown"]
    assert many["calls"] <= CALLS_PER_ACCOUNT_GOAL
    # The only listing left is the spoke's own /monitors (its EBPut and EBRule), never the hub's.
    assert many["enroll_breakdown"]["ssm:GetParametersByPath"] == 2
