"""Seldon's custom metrics, kept off the request path.

`SeldonMetrics.update` costs four round trips to Seldon's multiprocessing manager, on every
request: 72% of a gRPC Predict handler's time in a py-spy profile, more than the call to TF
Serving. `BufferedSeldonMetrics` queues the updates in memory and merges them through Seldon's
own `update` every `FLUSH_INTERVAL_S`, so a scrape sees the same figures, one interval late.
That `update` files each TIMER value with `np.histogram` (about 50 us a value, in the GIL, for
every request); the store behind a front files it with `timer_histogram` instead, and gets each
series' TIMER values of an interval as one `TimerBatch` (13 us a metric less, in the flusher).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from bisect import bisect_right
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Seconds between merges into Seldon's shared store; a Prometheus scrape lags by at most this.
#: Each merge costs about 1 ms of round trips to Seldon's manager, whatever it carries: at 0.2 s
#: that was 16 us a request at 340 requests a second (scrapes come every 5 to 30 s).
FLUSH_INTERVAL_S = 1.0

Metric = dict[str, Any]
Histogram = tuple[list[Any], float]


class TimerBatch(tuple[float, ...]):
    """One series' TIMER values of a flush interval, handed to Seldon's `update` as one metric.

    That `update` divides a TIMER's value by 1000 (milliseconds to seconds) and files the
    quotient with its store's `_update_hist`; a batch divides value by value and is filed whole
    by `timer_histogram`, so the series costs one metric however many requests it counted.
    """

    __slots__ = ()

    def __truediv__(self, divisor: float) -> TimerBatch:
        return TimerBatch(value / divisor for value in self)


def timer_histogram(seconds: float | TimerBatch, counts: list[Any], total: float) -> Histogram:
    """Seldon's `_update_hist` without numpy: each value counted into its bin of Seldon's BINS
    (left-closed, the last one closed on both sides, a value below the first edge or NaN
    counted nowhere, as `np.histogram` does) and added to the running total, in order."""
    from seldon_core.metrics import BINS

    edges: list[float] = BINS
    last = len(edges) - 1
    counts = list(counts)
    for value in seconds if isinstance(seconds, TimerBatch) else (seconds,):
        if value >= edges[0]:  # False for NaN too
            index = min(bisect_right(edges, value), last) - 1
            counts[index] = np.float64(counts[index]) + 1
        total = total + value
    return counts, total


def _folded(metrics: list[Metric], batch_timers: bool) -> list[Metric]:
    """Copies of `metrics` for Seldon's `update`, which writes a method tag into each (a REST
    answer may still be serialising the caller's). With `batch_timers`, the TIMERs of one
    series (key and tags) become one metric holding a `TimerBatch`, in their order."""
    folded: list[Metric] = []
    #: each series' one metric, its value the list of the series' values until the end
    batches: dict[tuple[Any, ...], Metric] = {}
    for metric in metrics:
        tags = dict(metric.get("tags") or {})
        if not batch_timers or metric.get("type") != "TIMER":
            folded.append({**metric, "tags": tags})
            continue
        series = (metric["key"], *sorted(tags.items()))
        batch = batches.get(series)
        if batch is None:
            batch = batches[series] = {**metric, "tags": tags, "value": []}
            folded.append(batch)
        batch["value"].append(metric["value"])
    for batch in batches.values():
        batch["value"] = TimerBatch(batch["value"])
    return folded


class BufferedSeldonMetrics:
    """A `SeldonMetrics` whose `update` returns at once; everything else goes to Seldon's.

    Safe across the forks Seldon makes after building it (gunicorn workers, the gRPC server
    process): a child starts with an empty queue, a fresh lock and no thread, and starts its
    own flusher on its first update, so each process writes under its own pid as before.
    """

    def __init__(self, shared: Any, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._shared = shared
        self._flush_interval_s = flush_interval_s
        #: Seldon's own store, whose TIMERs `timer_histogram` files (batches included)
        self._batches_timers = callable(getattr(type(shared), "_update_hist", None))
        if self._batches_timers:
            shared._update_hist = timer_histogram
        self._reset()
        _forget_queues_after_fork(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        # Seldon's update reads this process's figures, adds and writes them back: two merges
        # at once (the flusher's and a caller's flush) would lose one's increments.
        self._merge_lock = threading.Lock()
        self._pending: dict[str, list[Metric]] = {}
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()

    @property
    def shared(self) -> Any:
        """Seldon's own metrics object, which the metrics server reads."""
        return self._shared

    def __getattr__(self, name: str) -> Any:
        # collect, generate_metrics, clear ...: not on the hot path.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._shared, name)

    def update(self, custom_metrics: list[Metric], method: str) -> None:
        """Queue `custom_metrics` as Seldon's `update` would record them; never blocks on I/O."""
        if not custom_metrics:
            return  # Seldon's update would make four round trips to change nothing
        with self._lock:
            # Only the first update after a flush wakes the flusher: setting the event on
            # every request cost a condition's notify each (a tenth of the handler's Python).
            if not self._pending:
                self._wake.set()
            self._pending.setdefault(method, []).extend(custom_metrics)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="seldon-metrics-flusher", daemon=True
                )
                self._flusher.start()

    def update_reward(self, reward: float) -> None:
        """Seldon's feedback counters, queued like every other update. Handed straight to
        Seldon's store they would race the flusher: both read this process's figures, add,
        and write them back, and the later write loses the other's increments."""
        from seldon_core import metrics as seldon

        if not reward or seldon.legacy_mode:  # as Seldon's own update_reward
            return
        self.update(
            [
                {"type": "COUNTER", "key": seldon.FEEDBACK_KEY, "value": 1},
                {"type": "COUNTER", "key": seldon.FEEDBACK_REWARD_KEY, "value": reward},
            ],
            seldon.FEEDBACK_METRIC_METHOD_TAG,
        )

    def flush(self) -> None:
        """Merge everything queued so far into Seldon's shared store (one batch per method)."""
        with self._merge_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
                self._wake.clear()
            for method, metrics in pending.items():
                try:  # a metric Seldon cannot file loses its batch, never the flusher
                    self._shared.update(_folded(metrics, self._batches_timers), method)
                except Exception:  # the manager may be gone at shutdown: lose, don't die
                    logger.exception("could not record %d Seldon metrics", len(metrics))

    def _flush_forever(self) -> None:
        while True:
            self._wake.wait()
            # Let a batch gather: one merge per interval, however many requests came.
            time.sleep(self._flush_interval_s)
            self.flush()


_buffers: weakref.WeakSet[BufferedSeldonMetrics] = weakref.WeakSet()
_fork_hook_lock = threading.Lock()
_fork_hook_registered = False


def _forget_queues_after_fork(buffer: BufferedSeldonMetrics) -> None:
    """Track `buffer` so that a forked child resets it; the fork hook is registered by the
    first buffer built, not at import."""
    global _fork_hook_registered
    with _fork_hook_lock:
        if not _fork_hook_registered:
            os.register_at_fork(after_in_child=_reset_after_fork)
            _fork_hook_registered = True
        _buffers.add(buffer)


def _reset_after_fork() -> None:
    for buffer in list(_buffers):
        buffer._reset()


_buffered: dict[int, BufferedSeldonMetrics] = {}
_buffered_lock = threading.Lock()


def buffered(shared: Any) -> BufferedSeldonMetrics:
    """The one buffering front of Seldon's `shared` metrics object (REST and gRPC share it)."""
    if isinstance(shared, BufferedSeldonMetrics):
        return shared
    with _buffered_lock:
        front = _buffered.get(id(shared))
        if front is None or front.shared is not shared:
            front = _buffered[id(shared)] = BufferedSeldonMetrics(shared)
        return front
