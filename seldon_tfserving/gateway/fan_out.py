"""A node's children called at once, on a bounded pool of threads the gateway owns.

A child that no pool thread has started by the time its parent waits for it runs on the
parent's own thread. A waiting thread therefore only ever waits for calls already running, so
nested fan-outs (a combiner under a combiner, a router fanning out to combiners) cannot starve
the pool: when it is busy, children run one after another instead of in more threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from seldon_tfserving.errors import ConfigurationError

T = TypeVar("T")

#: Pool threads shared by every fan-out of a gateway (the callers' own threads come on top).
DEFAULT_FAN_OUT_THREADS = 32


class FanOut:
    """Runs a node's child calls concurrently; at most `max_threads` extra threads at once."""

    def __init__(self, max_threads: int = DEFAULT_FAN_OUT_THREADS) -> None:
        if max_threads <= 0:
            raise ConfigurationError("fan_out_threads", f"must be positive, got {max_threads!r}")
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="graph-child")

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Every call's result, in order. The first runs on this thread; once all have
        finished, the first error by index is raised."""
        started = [self._start(call) for call in calls[1:]]
        results: list[T] = []
        first_error: BaseException | None = None
        for index, call in enumerate(calls):
            future = started[index - 1] if index else None
            # cancel() succeeds only for a call no pool thread has picked up: run it here
            outcome = call if future is None or future.cancel() else future.result
            try:
                results.append(outcome())
            except BaseException as error:  # noqa: BLE001 - re-raised below, after the others
                if first_error is None:
                    first_error = error
        if first_error is not None:
            raise first_error
        return results

    def close(self) -> None:
        """Stop taking calls; a fan-out still under way runs its remaining calls itself."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, call: Callable[[], T]) -> Future[T] | None:
        try:
            return self._pool.submit(call)
        except RuntimeError:  # closed: the gateway is stopping, the caller runs the call
            return None
