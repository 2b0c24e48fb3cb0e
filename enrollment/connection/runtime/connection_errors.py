"""Errors of the connection actions (EBPut, EBRule, Disconnect).

Every error is raised before the write it protects, so a refused action leaves the account as it
found it. Callers (the enrollment function, the CLI) catch `ConnectionActionError` and record the
message as the reason a spoke is not connected.
"""

from __future__ import annotations

from runtime_common.settings import SettingsError


class ConnectionActionError(Exception):
    """Base class: a connection action could not run, and why."""


class UnknownConnectionAction(ConnectionActionError):
    """The payload's action is missing or not one of EBPut, EBRule, Disconnect."""


class InvalidConnectionSettings(ConnectionActionError, SettingsError):
    """The function's environment (unit, bus, role, mode, regions) is incomplete or malformed;
    the message names every bad variable."""


class InvalidAccountId(ConnectionActionError):
    """An account id is not 12 digits."""


class MalformedPeerParameters(ConnectionActionError):
    """One or more SSM parameters under /monitors/ or /monitored_projects/ cannot be read as
    account ids. The action refuses rather than guess which peers exist, because pruning on an
    incomplete list would disconnect a live spoke."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            f"{len(problems)} malformed peer parameter(s); fix or delete them and rerun: "
            + "; ".join(problems)
        )


class EventBridgeQuotaExceeded(ConnectionActionError):
    """The change would pass an EventBridge quota (bus policy size, rules per bus)."""


class EventBusNotFound(ConnectionActionError):
    """Our dedicated bus does not exist here: the hub or spoke stack is not deployed."""


class EventBridgeWriteFailed(ConnectionActionError):
    """PutTargets or RemoveTargets reported failed entries."""
