"""A StackSet write refused as busy while ListStackSetOperations lists nothing running (the
operation that refused it not listed yet): the reconciler pauses from its wait budget between
attempts instead of retrying at once, and reports the StackSet under retry_later when the budget
is spent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from reconciler_support import Org

from enrollment.placement.stackset_names import stackset_name
from org_stack.reconciler.runtime.full_reconcile import reconcile


def test_a_write_refused_as_busy_with_nothing_listed_waits_from_the_budget(org: Org) -> None:
    org.account(org.ou("Workloads", project="fraud", environment="dev"))

    refused: list[int] = []

    def busy(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        # AWS's answer to a write while another operation runs, short of sending the request;
        # after 10 refusals the write goes through, so a reconciler that retried without
        # pausing fails this test instead of spinning.
        if len(refused) == 10:
            return None
        refused.append(1)
        error = {"Code": "OperationInProgressException", "Message": "Another operation runs"}
        return SimpleNamespace(status_code=409, headers={}), {"Error": error}

    org.cloudformation.meta.events.register("before-call.cloudformation.CreateStackInstances", busy)
    slept: list[float] = []

    report = reconcile(
        org.settings(max_wait_seconds=25.0, poll_interval_seconds=10.0),
        organizations_client=org.organizations,
        cloudformation_client=org.cloudformation,
        sleep=slept.append,
    )

    assert slept == [10.0, 10.0, 5.0]
    creates = [name for name, _ in org.recorder.writes() if name == "CreateStackInstances"]
    assert len(creates) == 4  # one write, then one after each pause
    assert [entry["project"] for entry in report.retry_later] == ["fraud"]
    assert report.retry_later[0]["stack_set_name"] == stackset_name("fraud")
