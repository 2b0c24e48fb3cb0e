"""`dsdash registry remove`: forget a spoke whose enrollment failed or never finished.

A registry record drives two things: `dsdash status` lists it, and the enrollment function's
30-minute sweep re-runs enrollments left `failed` (or `pending` too long). A failed enrollment of
an account that will never be a spoke (a mistyped account id, a closed account) would otherwise
be retried and shown forever.

The command deletes the record only when its state is failed, pending or offboarded, with a
condition on the state, so it can never race an enrollment that just succeeded: an enrolled
spoke is disconnected with `dsdash offboard` first. It changes nothing else: parameters, bus
permissions and rule targets a partial enrollment made are removed by `dsdash offboard`, which
accepts failed and pending spokes too (the hub side always, the spoke side when reachable).
Metric history stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import boto3
import typer
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

# The operator console's shared plumbing: the hub connection and its one-line errors.
from cli.operator_console import EXIT_USAGE, fail, open_hub
from hub_stack import table_design
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState

REMOVABLE_STATES: Final = frozenset({SpokeState.FAILED, SpokeState.PENDING, SpokeState.OFFBOARDED})


class SpokeNotRemovableError(ValueError):
    """The account has no record, or its spoke is enrolled; the message says what to do."""


def register(app: typer.Typer) -> None:
    registry_app = typer.Typer(
        help="The hub's spoke registry: forget spokes that will never report.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,  # plain help, see cli/cli_conventions.py
    )
    registry_app.command("remove")(remove)
    app.add_typer(registry_app, name="registry")


def remove_spoke_record(session: boto3.Session, table_name: str, account_id: str) -> SpokeRecord:
    """Delete the registry record of `account_id` if it is failed, pending or offboarded; return
    it as it was. Raise SpokeNotRemovableError otherwise."""
    dynamodb = session.client("dynamodb")
    key = {
        table_design.PARTITION_KEY: {"S": table_design.SPOKE_REGISTRY_PARTITION},
        table_design.SORT_KEY: {"S": table_design.spoke_sort_key(account_id)},
    }
    states = sorted(state.value for state in REMOVABLE_STATES)
    try:
        response = dynamodb.delete_item(
            TableName=table_name,
            Key=key,
            ConditionExpression="#state IN ("
            + ", ".join(f":s{i}" for i in range(len(states)))
            + ")",
            ExpressionAttributeNames={"#state": "State"},
            ExpressionAttributeValues={f":s{i}": {"S": state} for i, state in enumerate(states)},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        current = dynamodb.get_item(TableName=table_name, Key=key, ConsistentRead=True).get("Item")
        if current is None:
            raise SpokeNotRemovableError(
                f"account {account_id} is not in the spoke registry"
            ) from None
        state = current.get("State", {}).get("S", "?")
        raise SpokeNotRemovableError(
            f"account {account_id} is {state}: disconnect it with `dsdash offboard --account"
            f" {account_id}` first (registry remove forgets failed, pending or offboarded spokes)"
        ) from None
    deserializer = TypeDeserializer()
    old = {name: deserializer.deserialize(value) for name, value in response["Attributes"].items()}
    return SpokeRecord.from_item(old)


def remove(
    *,
    account: Annotated[str, typer.Option("--account", help="Account id to forget.")],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file naming the hub.", dir_okay=False),
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile.")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Hub region.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="Send every AWS call here (a sandbox).")
    ] = None,
) -> None:
    """Forget a failed, pending or offboarded spoke: `dsdash status` stops listing it and the
    enrollment sweep stops retrying it. Its metric history stays."""
    with open_hub(config, profile, region, endpoint_url) as connection:
        try:
            record = remove_spoke_record(connection.session, connection.table_name, account)
        except SpokeNotRemovableError as error:
            fail(str(error), EXIT_USAGE)
    scope = (
        f" ({record.project_name}/{record.environment})"
        if record.project_name and record.environment
        else ""
    )
    typer.echo(
        f"Removed account {account}{scope} from the spoke registry; it was {record.state.value}"
        + (f": {record.reason}" if record.reason else "")
        + ". If its enrollment had connected anything, `dsdash offboard` removes that."
    )
