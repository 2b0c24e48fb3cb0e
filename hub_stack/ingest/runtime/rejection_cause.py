"""The reason a quarantined event states is its real cause: who sent it comes first.

Validation stops at the first problem it finds, and the sender is checked only after the event
validated. So an event from an account the hub has never enrolled, in a format it does not read,
would be quarantined as "SchemaViolation", and an operator would look for a broken spoke rather
than a stranger. The envelope's `account` is set by EventBridge from the sender's credentials and
is read before anything else, so whenever it could be read, the sender check runs on it even
though the event failed: a sender that is not enrolled is the reason, and the validation problem
is kept in the text (docs/architecture.md §7, "Spokes of the original sample").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from hub_stack.ingest.runtime.event_rejection import EventRejected, RejectionCode
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState
from runtime_common.identifiers import is_account_id

_SENDER_CODES: Final = frozenset(
    {RejectionCode.SENDER_NOT_ENROLLED, RejectionCode.SENDER_ENROLLED_ELSEWHERE}
)


def sender_checked_first(
    rejection: EventRejected, registry: Mapping[str, SpokeRecord]
) -> EventRejected:
    """`rejection`, or SenderNotEnrolled when its readable sender is not an enrolled spoke."""
    if rejection.code in _SENDER_CODES:
        return rejection
    account_id = rejection.claims.account_id
    if not is_account_id(account_id):
        return rejection
    spoke = registry.get(account_id)
    if spoke is not None and spoke.state is SpokeState.ENROLLED:
        return rejection
    standing = (
        "is not in the spoke registry"
        if spoke is None
        else f"is {spoke.state.value}, not enrolled"
        + (f" ({spoke.reason})" if spoke.reason else "")
    )
    return EventRejected(
        RejectionCode.SENDER_NOT_ENROLLED,
        f"account {account_id} {standing}; the event is also invalid "
        f"({rejection.code.value}: {rejection.reason})",
        rejection.claims,
    )
