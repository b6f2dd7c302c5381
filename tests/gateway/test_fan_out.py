"""A node's children called at once on a bounded pool, without deadlock when they fan out too."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from seldon_tfserving.errors import ConfigurationError, InvalidInput, Unavailable
from seldon_tfserving.gateway.fan_out import FanOut

T = TypeVar("T")

#: Longest a test waits for a fan-out that should finish at once (a deadlock would not).
_PATIENCE_S = 30.0


@pytest.fixture
def fan_out() -> Iterator[FanOut]:
    pool = FanOut(max_threads=4)
    yield pool
    pool.close()


def _finishes(work: Callable[[], T]) -> T:
    """`work()` run on another thread; fails, instead of hanging, if it does not finish."""
    outcome: list[T] = []
    worker = threading.Thread(target=lambda: outcome.append(work()), daemon=True)
    worker.start()
    worker.join(_PATIENCE_S)
    assert not worker.is_alive(), f"the fan-out did not finish within {_PATIENCE_S}s"
    assert len(outcome) == 1, "the fan-out raised (see the thread's exception above)"
    return outcome[0]


class _Concurrency:
    """Counts the calls running at once, and the threads they ran on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self.most = 0
        self.threads: set[str] = set()

    def call(self, value: int, seconds: float = 0.05) -> Callable[[], int]:
        def run() -> int:
            with self._lock:
                self._running += 1
                self.most = max(self.most, self._running)
                self.threads.add(threading.current_thread().name)
            time.sleep(seconds)
            with self._lock:
                self._running -= 1
            return value

        return run


def test_results_come_back_in_order_and_the_first_call_runs_on_the_callers_thread(
    fan_out: FanOut,
) -> None:
    names: list[str] = []

    def first() -> str:
        names.append(threading.current_thread().name)
        return "a"

    assert fan_out.run([first, lambda: "b", lambda: "c"]) == ["a", "b", "c"]
    assert names == [threading.current_thread().name]
    assert fan_out.run([]) == []


def test_children_run_at_the_same_time_while_the_pool_has_room(fan_out: FanOut) -> None:
    together = threading.Barrier(4, timeout=_PATIENCE_S)  # broken unless all four meet

    def child(value: int) -> Callable[[], int]:
        def run() -> int:
            together.wait()
            return value

        return run

    assert _finishes(lambda: fan_out.run([child(i) for i in range(4)])) == [0, 1, 2, 3]


def test_a_busy_pool_runs_the_rest_on_the_callers_thread_instead_of_more_threads() -> None:
    pool = FanOut(max_threads=2)
    counted = _Concurrency()
    try:
        assert _finishes(lambda: pool.run([counted.call(i) for i in range(8)])) == list(range(8))
    finally:
        pool.close()
    assert counted.most <= 3  # the caller and the two pool threads
    assert len([name for name in counted.threads if name.startswith("graph-child")]) <= 2


def test_nested_fan_outs_do_not_deadlock_a_pool_of_one_thread() -> None:
    """A combiner of combiners: every pool thread may be a parent waiting for its children,
    and the children still run (on their parents' threads)."""
    pool = FanOut(max_threads=1)
    counted = _Concurrency()

    def subtree(depth: int, base: int) -> Callable[[], int]:
        if depth == 0:
            return counted.call(base, seconds=0.01)
        return lambda: sum(pool.run([subtree(depth - 1, base * 3 + i) for i in range(3)]))

    try:
        total = _finishes(subtree(3, 0))
    finally:
        pool.close()
    assert total == sum(range(27))  # every leaf, once
    assert counted.most <= 2


def test_the_first_error_by_index_is_raised_once_every_call_has_finished(
    fan_out: FanOut,
) -> None:
    finished: list[str] = []

    def slow_failure() -> str:
        time.sleep(0.1)
        finished.append("slow")
        raise InvalidInput("the first child's answer is malformed")

    def quick_failure() -> str:
        finished.append("quick")
        raise Unavailable("the second child is down")

    def success() -> str:
        time.sleep(0.2)
        finished.append("success")
        return "ok"

    with pytest.raises(InvalidInput, match="first child"):
        fan_out.run([lambda: "fine", slow_failure, quick_failure, success])
    assert sorted(finished) == ["quick", "slow", "success"]


def test_after_close_the_caller_runs_every_call_itself() -> None:
    pool = FanOut(max_threads=2)
    pool.close()
    names: set[str] = set()

    def call() -> int:
        names.add(threading.current_thread().name)
        return 1

    assert pool.run([call, call, call]) == [1, 1, 1]
    assert names == {threading.current_thread().name}


def test_a_pool_needs_at_least_one_thread() -> None:
    with pytest.raises(ConfigurationError, match="fan_out_threads"):
        FanOut(max_threads=0)
