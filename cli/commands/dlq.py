"""`dsdash dlq list|redrive`: the hub's dead-letter queue, seen and emptied from the terminal.

The queue logic is `cli.dead_letters`; this module is the command line around it. Hub
options (`--config/--profile/--region/--endpoint-url`) and error reporting are the operator
commands' own, so every command finds the hub the same way and fails with the same one-liners.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.dead_letters import DeadLetterError, DeadLetterQueue, DeadLetters, PeekedMessage
from cli.operator_console import (
    EXIT_FAILURE,
    ConfigOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    fail,
    make_console,
    open_hub,
    print_json,
)

BODY_PREVIEW_CHARS = 160


def register(app: typer.Typer) -> None:
    dlq_app = typer.Typer(
        help="The hub's dead-letter queue: messages ingest could not process.",
        no_args_is_help=True,
        add_completion=False,
    )
    dlq_app.command("list")(dlq_list)
    dlq_app.command("redrive")(dlq_redrive)
    app.add_typer(dlq_app, name="dlq")


def dlq_list(
    *,
    messages: Annotated[
        int,
        typer.Option(
            "--messages",
            min=0,
            help="Also show up to N messages (hidden while read, then released).",
        ),
    ] = 0,
    queue_url: Annotated[
        list[str] | None,
        typer.Option(
            "--queue-url",
            help="Another dead-letter queue to show (repeatable), e.g. the management "
            "account's failed-invocations queue when the profile reaches it.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """How many messages each dead-letter queue holds, and optionally what they are."""
    with open_hub(config, profile, region, endpoint_url) as connection:
        dead_letters = DeadLetters(connection.session)
        queues = _queues(dead_letters.all_queues)
        queues += [
            dead_letters.describe(url, purpose="given with --queue-url") for url in queue_url or ()
        ]
        peeked = {
            queue.url: dead_letters.peek(queue, messages) if messages else [] for queue in queues
        }
    if as_json:
        print_json([_queue_document(queue, peeked[queue.url]) for queue in queues])
        return
    console = make_console()
    table = Table(title="Dead-letter queues", title_justify="left")
    for column in ("Queue", "Purpose", "Messages", "In flight", "Redrives to"):
        table.add_column(column, no_wrap=True)
    for queue in queues:
        table.add_row(
            Text(queue.name),
            Text(queue.purpose),
            Text(str(queue.depth.visible)),
            Text(str(queue.depth.in_flight)),
            Text(queue.source_url.rsplit("/", 1)[-1] if queue.source_url else "-"),
        )
    console.print(table)
    for queue in queues:
        for message in peeked[queue.url]:
            console.print(Text(f"{queue.name}: {_message_line(message)}"))
    total = sum(queue.depth.visible for queue in queues)
    if total:
        console.print(Text(f"{total} message(s) waiting; `dsdash dlq redrive` moves them back."))


def dlq_redrive(
    *,
    max_messages: Annotated[
        int | None,
        typer.Option("--max-messages", min=1, help="Move at most N messages (default: all)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Move the ingest dead-letter queue's messages back to the ingest queue.

    Ingest is idempotent: a message moved again stores nothing twice. Fix the cause first (see
    the function's logs): a message that fails again returns here after maxReceiveCount tries.
    """
    with open_hub(config, profile, region, endpoint_url) as connection:
        dead_letters = DeadLetters(connection.session)
        reports = [
            (queue, dead_letters.redrive(queue, max_messages=max_messages))
            for queue in _queues(dead_letters.redrivable_queues)
        ]
    if as_json:
        print_json(
            [
                {
                    "queue": queue.name,
                    "redriven_to": queue.source_url,
                    "received": report.received,
                    "moved": report.moved,
                    "send_failures": report.send_failures,
                    "delete_failures": report.delete_failures,
                }
                for queue, report in reports
            ]
        )
    else:
        console = make_console()
        for queue, report in reports:
            target = (queue.source_url or "").rsplit("/", 1)[-1]
            console.print(Text(f"{queue.name}: moved {report.moved} message(s) to {target}."))
            for failure in (*report.send_failures, *report.delete_failures):
                console.print(Text(f"  not moved: {failure}"))
    if any(report.send_failures for _, report in reports):
        raise typer.Exit(EXIT_FAILURE)


def _queues(find: Callable[[], list[DeadLetterQueue]]) -> list[DeadLetterQueue]:
    try:
        return find()
    except DeadLetterError as error:
        fail(str(error))


def _message_line(message: PeekedMessage) -> str:
    sent = (
        datetime.fromtimestamp(message.sent_at_ms / 1000, UTC).isoformat(timespec="seconds")
        if message.sent_at_ms is not None
        else "?"
    )
    body = message.body.replace("\n", " ")
    if len(body) > BODY_PREVIEW_CHARS:
        body = body[:BODY_PREVIEW_CHARS] + "..."
    error = f" [{message.error}]" if message.error else ""
    return (
        f"{message.message_id} sent {sent}, received {message.receive_count or 0}x{error}: {body}"
    )


def _queue_document(queue: DeadLetterQueue, messages: list[PeekedMessage]) -> dict[str, Any]:
    return {
        "queue": queue.name,
        "url": queue.url,
        "arn": queue.arn,
        "purpose": queue.purpose,
        "messages": queue.depth.visible,
        "in_flight": queue.depth.in_flight,
        "delayed": queue.depth.delayed,
        "redrives_to": queue.source_url,
        "max_receive_count": queue.max_receive_count,
        "peeked": [
            {
                "message_id": message.message_id,
                "sent_at_ms": message.sent_at_ms,
                "receive_count": message.receive_count,
                "error": message.error,
                "body": message.body,
            }
            for message in messages
        ],
    }
