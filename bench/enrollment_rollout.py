"""The enrollment rollout: many accounts moved into a tagged OU at once, in the sandbox.

dsdash is deployed in the sandbox with one spoke (`sandbox.demo.set_up_demo`: the real templates
and handlers), the accounts are created in the root, then all moved into a tagged OU at once; the
real reconciler, StackSet auto-deployment and enrollment run. Calls are counted inside our Lambda
handlers only. `bench.enrollment_scale` reports the calls per account; `bench.refresh_reach`
reads the same run (cached) for the hub's scheduled-path resources.
"""

from __future__ import annotations

import tempfile
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any, Final

import boto3

from bench.call_counting import count_all_calls
from bench.support import stopwatch
from hub_stack.spoke_registry.records import SpokeState
from sandbox import lambda_runtime

ROLLOUT_ACCOUNTS: Final = 200
QUICK_ROLLOUT_ACCOUNTS: Final = 10
_INSIDE_HANDLER: ContextVar[bool] = ContextVar("inside_handler", default=False)


def _hub_scheduled_path_resources(session: boto3.Session, hub_account: str) -> int:
    """Rules with a schedule or a spoke-bus target, those targets, and Scheduler schedules."""
    events = session.client("events")
    count = 0
    buses = [bus["Name"] for bus in events.list_event_buses().get("EventBuses", [])]
    for bus in buses:
        for page in events.get_paginator("list_rules").paginate(EventBusName=bus):
            for rule in page.get("Rules", []):
                targets = [
                    target
                    for target_page in events.get_paginator("list_targets_by_rule").paginate(
                        Rule=rule["Name"], EventBusName=bus
                    )
                    for target in target_page.get("Targets", [])
                    if ":event-bus/" in target["Arn"] and target["Arn"].split(":")[4] != hub_account
                ]
                if rule.get("ScheduleExpression") or targets:
                    count += 1 + len(targets)
    for page in session.client("scheduler").get_paginator("list_schedules").paginate():
        count += len(page.get("Schedules", []))
    return count


@cache
def rollout(*, quick: bool) -> dict[str, Any]:
    """Deploy dsdash in the sandbox with one spoke, create the accounts in the root, then move
    them all into a tagged OU at once and let the real reconciler, StackSet auto-deployment
    and enrollment run. Calls are counted inside our Lambda handlers only (not the sandbox's own
    deployment of stacks, which is CloudFormation's work)."""
    from config.loader import load_config
    from sandbox.demo import set_up_demo
    from sandbox.world import SandboxWorld

    accounts = QUICK_ROLLOUT_ACCOUNTS if quick else ROLLOUT_ACCOUNTS
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "projects.yaml")
    with (
        tempfile.TemporaryDirectory() as work_dir,
        SandboxWorld(seed=7, handler_log_level="ERROR") as world,
    ):
        demo = set_up_demo(
            world, config, spokes=1, work_dir=Path(work_dir), progress=lambda _: None
        )
        first = demo.layout.spokes[0]
        target_ou = demo.layout.environment_ous[(first.project, first.environment)]
        management = demo.management_session()
        organizations = management.client("organizations")
        new_accounts = [
            organizations.create_account(
                AccountName=f"rollout-{index}", Email=f"rollout-{index}@example.com"
            )["CreateAccountStatus"]["AccountId"]
            for index in range(accounts)
        ]
        world.settle()
        hub = demo.hub_session()
        before = _hub_scheduled_path_resources(hub, demo.hub_account)

        run_handler = world.runtime._run

        def counted_run(function: Any, payload: Any) -> Any:
            token = _INSIDE_HANDLER.set(True)
            try:
                return run_handler(function, payload)
            finally:
                _INSIDE_HANDLER.reset(token)

        # Lambda's own AssumeRole of each function's execution role is not our code's call.
        function_credentials = vars(lambda_runtime)["assume_role_credentials"]

        def uncounted_credentials(*arguments: Any, **keywords: Any) -> Any:
            token = _INSIDE_HANDLER.set(False)
            try:
                return function_credentials(*arguments, **keywords)
            finally:
                _INSIDE_HANDLER.reset(token)

        vars(lambda_runtime)["assume_role_credentials"] = uncounted_credentials
        world.runtime._run = counted_run  # type: ignore[method-assign]
        with stopwatch() as watch, count_all_calls(counts=_INSIDE_HANDLER.get) as calls:
            for account in new_accounts:
                organizations.move_account(
                    AccountId=account,
                    SourceParentId=demo.layout.root_id,
                    DestinationParentId=target_ou,
                )
            world.settle()
        world.runtime._run = run_handler  # type: ignore[method-assign]
        vars(lambda_runtime)["assume_role_credentials"] = function_credentials
        registry = {spoke.account_id: spoke for spoke in demo.store().registry.list_spokes()}
        enrolled = sum(
            1
            for account in new_accounts
            if account in registry and registry[account].state is SpokeState.ENROLLED
        )
        after = _hub_scheduled_path_resources(hub, demo.hub_account)
        spoke_schedules = sum(
            len(
                world.session(account, demo.home_region)
                .client("scheduler")
                .list_schedules()
                .get("Schedules", [])
            )
            for account in new_accounts
        )
    return {
        "accounts": accounts,
        "enrolled": enrolled,
        "calls": calls.total(),
        "top": calls.calls.most_common(8),
        "hub_scheduled_before": before,
        "hub_scheduled_after": after,
        "spoke_schedules": spoke_schedules,
        "seconds": watch.seconds,
    }
