"""Work done off the request path: a bounded queue and a few worker threads.

The request logger and shadow traffic both hand work over without ever blocking or failing the
request that made it: a full queue drops the item and counts it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

_STOP = object()
Item = TypeVar("Item")


class BoundedWorkers(Generic[Item]):
    """`offer` queues an item for `handle` on a worker thread; a full queue drops it.

    `handle` must not raise; `on_exit` runs on each worker as it stops (to close what it holds).
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[Item], None],
        *,
        queue_size: int,
        workers: int,
        on_drop: Callable[[], None] = lambda: None,
        on_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self._handle = handle
        self._on_drop = on_drop
        self._on_exit = on_exit
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        self._started = False
        self.dropped = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()

    def offer(self, item: Item) -> None:
        """Queue `item`; never blocks, never raises."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            self._on_drop()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Let the workers finish what is queued, then end them (bounded by `timeout_s`)."""
        if not self._started:
            return
        for _ in self._threads:
            try:
                self._queue.put(_STOP, timeout=timeout_s)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(timeout=timeout_s)

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                self._handle(item)  # type: ignore[arg-type]
        finally:
            self._on_exit()
