"""`dsdash enroll` and `dsdash offboard`: manual enrollment through the org stack's enrollment
function."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Final

import boto3
import typer
from botocore.config import Config
from rich.table import Table
from rich.text import Text

import contracts
from cli.hub_connection import HubConnection
from cli.operator_console import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    EndpointOption,
    ProfileOption,
    check_names,
    fail,
    make_console,
    open_hub,
    print_json,
    runtime_of,
)
from runtime_common.backoff import backoff_seconds

SpokeRegionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--spoke-region",
        help="Spoke region to (dis)connect (repeatable; default: every organization.regions).",
    ),
]


# `dsdash enroll|offboard` ask the org stack's enrollment function (in the management account, or
# the StackSets delegated administrator: organization.stackset_admin) to act, rather than
# running its steps with the operator's credentials: the hub and spoke enrollment roles trust only
# that function's role (never an operator or an admin role), and manual enrollment then takes the
# same code path, retries and records as automatic enrollment.
ENROLLMENT_INVOKE_CONFIG: Final = Config(
    # Enrollment retries a new account's steps with backoff for minutes (Lambda's limit is 15).
    read_timeout=900,
    connect_timeout=10,
    retries={"max_attempts": 1},
)
# Errors that mean the request itself was wrong (exit 2) rather than a step failing (exit 1).
ENROLLMENT_USAGE_ERRORS: Final = frozenset(
    {"InvalidEnrollmentRequest", "MalformedLifecycleEvent", "AssignmentUnresolved"}
)


# The enrollment function runs one enrollment at a time (reserved concurrency 1), so a request
# made while an event-driven enrollment runs is throttled: wait for it, then say so. An
# enrollment takes minutes, longer than botocore's retry modes ever wait (their backoff stops at
# 20 s), so the waits are ours: 5, 10, 20, 40, 60 s (runtime_common.backoff), then one last try.
ENROLLMENT_BUSY_RETRIES: Final = 5
ENROLLMENT_BUSY_FIRST_WAIT_SECONDS: Final = 5.0
ENROLLMENT_BUSY_LONGEST_WAIT_SECONDS: Final = 60.0


def _busy_wait_seconds(retry: int) -> float:
    return backoff_seconds(
        retry,
        base_seconds=ENROLLMENT_BUSY_FIRST_WAIT_SECONDS,
        cap_seconds=ENROLLMENT_BUSY_LONGEST_WAIT_SECONDS,
    )


def _invoke_when_free(client: Any, payload: dict[str, Any], sleep: Callable[[float], None]) -> Any:
    for retry in range(1, ENROLLMENT_BUSY_RETRIES + 2):
        try:
            return client.invoke(
                FunctionName=contracts.ORG_ENROLLMENT_FUNCTION_NAME,
                Payload=json.dumps(payload).encode("utf-8"),
            )
        except client.exceptions.TooManyRequestsException:
            if retry > ENROLLMENT_BUSY_RETRIES:
                break
            sleep(_busy_wait_seconds(retry))
    waited = sum(_busy_wait_seconds(retry) for retry in range(1, ENROLLMENT_BUSY_RETRIES + 1))
    fail(
        f"{contracts.ORG_ENROLLMENT_FUNCTION_NAME} stayed busy with other enrollments for "
        f"{waited:.0f}s (it runs one at a time); try again later"
    )


def _invoke_enrollment(
    connection: HubConnection,
    *,
    profile: str | None,
    org_region: str | None,
    payload: dict[str, Any],
    action: str,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    region = org_region or connection.config.organization.regions[0]
    session = boto3.Session(profile_name=profile, region_name=region)
    client = session.client(
        "lambda", endpoint_url=connection.endpoint_url, config=ENROLLMENT_INVOKE_CONFIG
    )
    try:
        response = _invoke_when_free(client, payload, sleep)
    except client.exceptions.ResourceNotFoundException:
        fail(
            f"no function {contracts.ORG_ENROLLMENT_FUNCTION_NAME} in {region}: use the "
            "credentials of the org stack's account (--profile: the management account, or the "
            "StackSets delegated administrator) and the org stack's region "
            "(--org-region; default organization.regions[0])"
        )
    document: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    if "FunctionError" in response:
        code = EXIT_USAGE if document.get("errorType") in ENROLLMENT_USAGE_ERRORS else EXIT_FAILURE
        fail(
            f"{action} of account {payload['account_id']} failed: "
            f"{document.get('errorType')}: {document.get('errorMessage')}",
            code,
        )
    return document


OrgRegionOption = Annotated[
    str | None,
    typer.Option(
        "--org-region",
        help="Region of the org stack's enrollment function (default: organization.regions[0]).",
    ),
]


def enroll(
    context: typer.Context,
    *,
    account: Annotated[str, typer.Option("--account", help="Account id to enroll.")],
    project: Annotated[str, typer.Option("--project", help="Project it belongs to.")],
    environment: Annotated[str, typer.Option("--environment", help="Its environment.")],
    spoke_region: SpokeRegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    org_region: OrgRegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Enroll one account by hand (outside tagged OUs, or outside the organization with the spoke
    template deployed): asks the enrollment function in the org stack's account (--profile: the
    management account or the StackSets delegated administrator) to run the steps it runs for
    tagged OUs."""
    with open_hub(config, profile, None, endpoint_url) as connection:
        check_names(connection, project=project, environment=environment)
        _refuse_non_spoke_account(connection, account)
        report = _invoke_enrollment(
            connection,
            profile=profile,
            org_region=org_region,
            payload={
                "dsdash": "enroll",
                "account_id": account,
                "project": project,
                "environment": environment,
                "regions": list(spoke_region or []),
            },
            action="enrollment",
            sleep=runtime_of(context).sleep,
        )
    _print_report(report, as_json=as_json)


def _refuse_non_spoke_account(connection: HubConnection, account: str) -> None:
    """The hub and the management account can never be spokes: refused before any call."""
    config = connection.config
    if account == config.hub.account_id:
        fail(
            f"account {account} is the hub (hub.account_id): the hub cannot be its own spoke",
            EXIT_USAGE,
        )
    if account == config.organization.management_account_id:
        fail(
            f"account {account} is the organization's management account: service-managed "
            "StackSets never deploy there, so it cannot be a spoke",
            EXIT_USAGE,
        )


def offboard(
    context: typer.Context,
    *,
    account: Annotated[str, typer.Option("--account", help="Account id to offboard.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, as the registry will show it.")
    ] = "offboarded by an operator (dsdash offboard)",
    spoke_region: SpokeRegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    org_region: OrgRegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Disconnect one account (its metric history stays), through the enrollment function."""
    with open_hub(config, profile, None, endpoint_url) as connection:
        report = _invoke_enrollment(
            connection,
            profile=profile,
            org_region=org_region,
            payload={
                "dsdash": "offboard",
                "account_id": account,
                "reason": reason,
                "regions": list(spoke_region or []),
            },
            action="offboarding",
            sleep=runtime_of(context).sleep,
        )
    _print_report(report, as_json=as_json)


def _print_report(document: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print_json(document)
        return
    console = make_console()
    scope = (
        f" as {document['project']}/{document['environment']}" if document.get("project") else ""
    )
    console.print(
        Text(
            f"{document['action']} account {document['account_id']}{scope} in "
            f"{', '.join(document.get('regions') or [])}: {document['state']} "
            f"({document['reason']})"
        )
    )
    details = Table.grid(padding=(0, 2))
    details.add_column(style="dim", no_wrap=True)
    details.add_column()
    details.add_row(
        "Steps",
        Text(
            "\n".join(
                f"{step['step']}"
                + (f" ({step['attempts']} attempts)" if step["attempts"] != 1 else "")
                for step in document.get("steps") or []
            )
        ),
    )
    for label, key in (
        ("Parameters written", "parameters_written"),
        ("Parameters deleted", "parameters_deleted"),
        ("Notes", "notes"),
    ):
        if document.get(key):
            details.add_row(label, Text("\n".join(document[key])))
    console.print(details)


def register(app: typer.Typer) -> None:
    app.command("enroll")(enroll)
    app.command("offboard")(offboard)
