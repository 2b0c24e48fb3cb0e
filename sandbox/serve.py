"""`dsdash demo --serve`: the sandbox organization on a loopback endpoint.

moto's server runs in this process on 127.0.0.1 and serves the same backends as the in-process
sandbox, with every gap fill in place (they patch moto's backends, not its clients), so
`dsdash status/refresh/query/dashboard --endpoint-url ...` and the AWS CLI see the demo's
organization. Credentials decide the account: moto maps keys issued by STS to their account, so
the command writes an AWS config file with one profile per account.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

from moto.server import ThreadedMotoServer
from rich.console import Console
from rich.text import Text

from sandbox.demo import Demo, DemoOptions, DemoResult, Progress, run_demo_in
from sandbox.world import SandboxWorld

LOOPBACK = "127.0.0.1"
SETTLE_INTERVAL_SECONDS = 1.0


def write_profiles(demo: Demo, path: Path, endpoint: str) -> None:
    """One profile per account of the sandbox, usable with AWS_CONFIG_FILE=path."""
    accounts = {
        "dsdash-hub": demo.hub_account,
        "dsdash-management": demo.layout.management_account_id,
        # Delegated mode: `dsdash enroll|offboard --profile dsdash-stackset-admin`.
        **(
            {"dsdash-stackset-admin": demo.layout.delegated_admin_account_id}
            if demo.layout.delegated_admin_account_id
            else {}
        ),
        **{f"dsdash-spoke-{spoke.name}": spoke.account_id for spoke in demo.layout.spokes},
    }
    lines = []
    for profile, account_id in accounts.items():
        credentials = demo.world.credentials(account_id)
        lines += [
            f"[profile {profile}]",
            f"# account {account_id}",
            f"aws_access_key_id = {credentials.access_key_id}",
            f"aws_secret_access_key = {credentials.secret_access_key}",
            f"aws_session_token = {credentials.session_token}",
            f"region = {demo.config.hub.region}",
            f"endpoint_url = {endpoint}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_interrupted(
    options: DemoOptions,
    progress: Progress,
    console: Console,
    show_result: Callable[[DemoResult], None],
) -> None:
    """Run the demo, hand its result to `show_result` (the command prints it: the sandbox never
    imports the command line), then serve the sandbox until Ctrl-C or SIGTERM."""
    with SandboxWorld(seed=options.seed) as world:
        demo, result = run_demo_in(world, options, progress)
        show_result(result)
        # The server's per-request access log would drown the console.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        # `kill` (SIGTERM) stops the sandbox as cleanly as Ctrl-C: the server thread is stopped
        # and no process is left behind.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            profiles = (options.out_dir / "aws-config").resolve()
            write_profiles(demo, profiles, endpoint)
            console.print(
                Text(
                    f"Sandbox serving on {endpoint}. Try:\n"
                    f"  AWS_CONFIG_FILE={profiles} dsdash status --profile dsdash-hub "
                    f"--endpoint-url {endpoint}\n"
                    f"  AWS_CONFIG_FILE={profiles} aws --profile dsdash-hub dynamodb "
                    f"list-tables\n"
                    "Press Ctrl-C to stop."
                )
            )
            # Requests to the endpoint start work (a refresh queues extractions); the sandbox
            # has no background workers, so this loop is the Lambda service and the SQS pollers.
            while True:
                world.settle()
                time.sleep(SETTLE_INTERVAL_SECONDS)
        except KeyboardInterrupt:
            console.print("Stopping the sandbox.")
        finally:
            server.stop()
