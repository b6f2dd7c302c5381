"""Seldon's custom metrics, kept off the request path.

`SeldonMetrics` keeps every process's metrics in a `multiprocessing.Manager` dict so its
metrics server can read them, and each `update` costs four round trips to that manager
process (lock, read, lock, write). Seldon calls it on every request, and our TIMER makes it
carry data: a py-spy profile of the wrapper's gRPC process put 72% of its Predict handler's
time there, more than the call to TF Serving. `BatchedSeldonMetrics` takes the same calls, queues
them in memory and lets one background thread per process merge them into the shared store
every `FLUSH_INTERVAL_S`, through Seldon's own `update` (so buckets, labels and the exposition
stay exactly Seldon's). A scrape sees a request's metrics at most one interval late.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds between merges into Seldon's shared store; a Prometheus scrape lags by at most this.
FLUSH_INTERVAL_S = 0.2

Metric = dict[str, Any]


class BatchedSeldonMetrics:
    """A `SeldonMetrics` whose `update` returns at once; everything else goes to Seldon's.

    Safe across the forks Seldon makes after building it (gunicorn workers, the gRPC server
    process): a child starts with an empty queue, a fresh lock and no thread, and starts its
    own flusher on its first update, so each process writes under its own pid as before.
    """

    def __init__(self, shared: Any, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._shared = shared
        self._flush_interval_s = flush_interval_s
        self._reset()
        _fronts.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[Metric]] = {}
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()

    @property
    def shared(self) -> Any:
        """Seldon's own metrics object, which the metrics server reads."""
        return self._shared

    def __getattr__(self, name: str) -> Any:
        # collect, generate_metrics, clear, update_reward ...: not on the hot path.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._shared, name)

    def update(self, custom_metrics: list[Metric], method: str) -> None:
        """Queue `custom_metrics` as Seldon's `update` would record them; never blocks on I/O."""
        if not custom_metrics:
            return  # Seldon's update would make four round trips to change nothing
        # Copies: Seldon's update writes a "method" tag into each metric's tags, and a REST
        # response may still be serialising the dicts it was handed.
        copies = [{**metric, "tags": dict(metric.get("tags") or {})} for metric in custom_metrics]
        with self._lock:
            self._pending.setdefault(method, []).extend(copies)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="seldon-metrics-flusher", daemon=True
                )
                self._flusher.start()
        self._wake.set()

    def flush(self) -> None:
        """Merge everything queued so far into Seldon's shared store (one batch per method)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._wake.clear()
        for method, metrics in pending.items():
            try:
                self._shared.update(metrics, method)
            except Exception:  # the manager process may be gone at shutdown: lose, don't die
                logger.exception("could not record %d Seldon metrics", len(metrics))

    def _flush_forever(self) -> None:
        while True:
            self._wake.wait()
            # Let a batch gather: one merge per interval, however many requests came.
            time.sleep(self._flush_interval_s)
            self.flush()


_fronts: weakref.WeakSet[BatchedSeldonMetrics] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for front in list(_fronts):
        front._reset()


os.register_at_fork(after_in_child=_reset_after_fork)

_batched: dict[int, BatchedSeldonMetrics] = {}
_batched_lock = threading.Lock()


def batched(shared: Any) -> BatchedSeldonMetrics:
    """The one batching front of Seldon's `shared` metrics object (REST and gRPC share it)."""
    if isinstance(shared, BatchedSeldonMetrics):
        return shared
    with _batched_lock:
        front = _batched.get(id(shared))
        if front is None or front.shared is not shared:
            front = _batched[id(shared)] = BatchedSeldonMetrics(shared)
        return front
