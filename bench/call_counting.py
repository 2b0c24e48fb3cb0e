"""Count every AWS call any code makes in a block, whatever session it built its client from.

The enrollment path builds many sessions: the enrollment function's, one per assumed role, and
one per connection function the sandbox's Lambda runtime runs. `bench.support.AwsCallCounter`
hooks one session; this hooks every botocore session created inside the block (the hook is
botocore's `before-call` event, seen once per call before botocore's own retries), plus the
sessions handed in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
import botocore.session

from runtime_common.aws import start_cold


@dataclass
class CallTally:
    calls: Counter[str] = field(default_factory=Counter)
    # When set, only calls for which it returns True count (e.g. inside our Lambda handlers).
    counts: Callable[[], bool] | None = None

    def before_call(self, model: Any, **_: Any) -> None:
        if self.counts is None or self.counts():
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def after_call(self, **_: Any) -> None:
        """Seen once per call with its parsed response; a subclass may read it."""

    def total(self) -> int:
        return sum(self.calls.values())

    def top(self, count: int = 6) -> str:
        return ", ".join(f"{name} {number}" for name, number in self.calls.most_common(count))


_ORIGINAL_INIT = botocore.session.Session.__init__


@contextmanager
def count_all_calls(
    *existing: boto3.Session,
    counts: Callable[[], bool] | None = None,
    tally: CallTally | None = None,
) -> Iterator[CallTally]:
    """`tally`: a CallTally subclass that also keeps requests or responses (bench/cost.py)."""
    tally = tally if tally is not None else CallTally(counts=counts)

    def init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        _ORIGINAL_INIT(self, *args, **kwargs)
        self.register("before-call", cast(Any, tally.before_call))
        self.register("after-call", cast(Any, tally.after_call))

    for session in existing:
        session.events.register("before-call", tally.before_call)
        session.events.register("after-call", tally.after_call)
    botocore.session.Session.__init__ = init  # type: ignore[method-assign]
    # Handlers keep their clients between invocations (runtime_common.aws.warm_client): clients
    # made before this block would call unseen, so the block starts as a cold environment.
    start_cold()
    try:
        yield tally
    finally:
        botocore.session.Session.__init__ = _ORIGINAL_INIT  # type: ignore[method-assign]
        for session in existing:
            session.events.unregister("before-call", tally.before_call)
            session.events.unregister("after-call", tally.after_call)
