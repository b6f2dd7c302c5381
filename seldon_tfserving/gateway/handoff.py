"""Jobs handed to worker threads so that each job wakes exactly one idle worker.

`queue.SimpleQueue` (under `ThreadPoolExecutor` too) passes its lock on at every `get`: with
several workers waiting, each job also wakes a second worker that finds nothing and sleeps
again, after fighting the first for the GIL (about 30 us a job against 7 here, with 2 to 64
workers waiting). Here each idle worker sleeps on a lock of its own, and the one that went
idle last takes the next job (its stack and caches are the warmest).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar, cast

Job = TypeVar("Job")


class _Slot(Generic[Job]):
    """One worker's bed: a lock held while it sleeps, and the job it is woken with."""

    __slots__ = ("wake", "job")

    def __init__(self) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()
        self.job: Job | None = None


class Handoff(Generic[Job]):
    """`put` from any thread; `take` on worker threads, each blocking until it gets a job."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._idle: list[_Slot[Job]] = []
        self._pending: deque[Job] = deque()
        self._slots = threading.local()

    def put(self, job: Job) -> None:
        """Give `job` to the worker that went idle last, or queue it if none is idle."""
        with self._mutex:
            if not self._idle:
                self._pending.append(job)
                return
            slot = self._idle.pop()
        slot.job = job
        slot.wake.release()

    def take(self) -> Job:
        """The oldest queued job, or the next one put, waiting as long as it takes."""
        slot: _Slot[Job] | None = getattr(self._slots, "slot", None)
        if slot is None:
            slot = self._slots.slot = _Slot()
        with self._mutex:
            if self._pending:
                return self._pending.popleft()
            self._idle.append(slot)
        slot.wake.acquire()
        job, slot.job = slot.job, None
        return cast(Job, job)  # put stored it before the release
