"""The deadline of the call being served, carried to every TF Serving call made for it.

A gRPC caller says how long it will wait. A wrapper that kept waiting on TF Serving past that
would hold one of its few worker threads for an answer nobody reads, so the host of a call
(`microservice/`) opens `caller_deadline` around it, and each TF Serving client bounds every
attempt by the smaller of its own `timeout_ms` and the time left (`remaining_s`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: `time.monotonic()` by which the caller of the call in progress stops waiting; None: no limit.
_DEADLINE: ContextVar[float | None] = ContextVar("seldon_tfserving_caller_deadline", default=None)


@contextmanager
def caller_deadline(remaining: float | None) -> Iterator[None]:
    """Within the block, TF Serving calls end by `remaining` seconds from now (None: no
    caller limit, as for REST; a nested block can only shorten an outer one)."""
    if remaining is None:
        yield
        return
    deadline = time.monotonic() + max(remaining, 0.0)
    outer = _DEADLINE.get()
    token = _DEADLINE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining_s() -> float | None:
    """Seconds the caller still waits (0 or less: it gave up), or None when it set no deadline."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()
