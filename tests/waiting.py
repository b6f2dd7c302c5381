"""One way for a test to wait for something another process or thread will do: poll a check
until it holds, failing with what was awaited once its time is up (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None],
    timeout_s: float = 10.0,
    *,
    interval_s: float = 0.05,
    awaited: str = "the condition",
    detail: Callable[[], object] | None = None,
) -> T:
    """`check()`'s first truthy value, polled every `interval_s`; AssertionError naming
    `awaited` if none came within `timeout_s`, followed by what `detail()` says then (the
    state that was seen last, a process's output) when it is given."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"{awaited}: not within {timeout_s:g} s" + (
            f"\n{detail()}" if detail is not None else ""
        )
        time.sleep(interval_s)
    return value
