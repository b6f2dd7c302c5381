"""Server-side batching (`--enable_batching`): concurrent runs of one version merged into one.

As TF Serving's BatchingSession does, runs with the same feeds and fetches join a queue; a
batch closes when it is full (`max_batch_size` rows) or its first run has waited
`batch_timeout_micros`, and up to `num_batch_threads` batches run at once, each as one session
run on the inputs concatenated along the 0th dimension, its outputs split back by each run's
rows. With `allowed_batch_sizes` a batch is padded up to the next allowed size with copies of a
row; with `pad_variable_length_inputs` shorter inputs are padded in their other dimensions with
their own first value.

Where TF Serving would fail every run in a batch for one run's fault, this one keeps them
apart: runs whose inputs differ in shape beyond the 0th dimension go to different batches, and a
failed batch of several runs is run again one by one, so each run gets its own answer or error.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.monitoring import record_batch_dequeued, record_wrapped_run
from seldon_tfserving.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidInput,
    ServingError,
    Unavailable,
)

LOG = logging.getLogger(__name__)

Array = np.ndarray[Any, Any]
RunFn = Callable[[Mapping[str, Array], Sequence[str], int | None], list[Array]]
_QueueKey = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(eq=False)
class _Task:
    """One caller's run, waiting for its batch."""

    feeds: Mapping[str, Array]
    rows: int
    #: the inputs' shapes beyond the 0th dimension (a batch holds runs of one shape only)
    shape_key: tuple[Any, ...]
    deadline: float | None
    #: when it joined its queue (time.monotonic)
    enqueued: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    batch: _Batch | None = None
    outputs: list[Array] | None = None
    error: ServingError | None = None

    def finish(self, outputs: list[Array] | None, error: ServingError | None = None) -> None:
        self.outputs, self.error = outputs, error
        self.done.set()


@dataclass(eq=False)
class _Batch:
    key: _QueueKey
    shape_key: tuple[Any, ...]
    opened: float
    tasks: list[_Task] = field(default_factory=list)
    rows: int = 0
    closed: bool = False
    #: out of its queue and running (or run)
    taken: bool = False


class BatchScheduler:
    """The batching queues of one model version.

    There are no batch threads: a caller whose run is queued runs the oldest ready batch itself
    (its own or an older one) when fewer than `num_batch_threads` batches are running, so a run
    is never handed to another thread and back, and nothing is left running when the version
    is idle.
    """

    def __init__(self, run: RunFn, parameters: BatchingParameters, name: str) -> None:
        self._run = run
        self._parameters = parameters
        self._name = name
        self._timeout_s = parameters.batch_timeout_micros / 1e6
        self._queues: dict[_QueueKey, deque[_Batch]] = {}
        self._changed = threading.Condition()
        self._running = 0
        self._closed = False

    def run(
        self, feeds: Mapping[str, Array], fetches: Sequence[str], timeout_ms: int | None = None
    ) -> list[Array]:
        """Run as part of a batch; returns this run's rows of each fetched output."""
        now = time.monotonic()
        deadline = None if timeout_ms is None else now + timeout_ms / 1000
        task = _Task(feeds, *_rows_and_shape(feeds, self._parameters), deadline, now)
        if task.rows > self._parameters.max_batch_size:
            raise InvalidInput(
                f"Task size {task.rows} is larger than maximum input batch size "
                f"{self._parameters.max_batch_size}"
            )
        self._enqueue((tuple(sorted(feeds)), tuple(fetches)), task, now)
        while not task.done.is_set():
            batch = self._claim_or_wait(task)
            if batch is not None:
                try:
                    self._process(batch)
                finally:
                    with self._changed:
                        self._running -= 1
                        self._changed.notify_all()
            elif deadline is not None and time.monotonic() >= deadline and self._abandon(task):
                raise DeadlineExceeded(
                    f"the batch of this run did not start within {timeout_ms} ms"
                )
        if task.error is not None:
            raise task.error
        assert task.outputs is not None
        return task.outputs

    def queued_runs(self) -> int:
        """Runs waiting for their batch to start."""
        with self._changed:
            return sum(len(b.tasks) for q in self._queues.values() for b in q)

    def close(self) -> None:
        """Refuse new runs and fail the queued ones (the version is going away)."""
        with self._changed:
            self._closed = True
            batches = [b for q in self._queues.values() for b in q]
            for batch in batches:
                batch.taken = True  # out of the queues: nobody may claim or leave it now
            pending = [t for b in batches for t in b.tasks]
            self._queues.clear()
            self._changed.notify_all()
        for task in pending:
            task.finish(None, Unavailable(f"{self._name} was unloaded"))

    # -- queueing ---------------------------------------------------------------------------

    def _enqueue(self, key: _QueueKey, task: _Task, now: float) -> None:
        limit = self._parameters.max_batch_size
        with self._changed:
            if self._closed:
                raise Unavailable(f"{self._name} was unloaded")
            queue = self._queues.setdefault(key, deque())
            batch = queue[-1] if queue and not queue[-1].closed else None
            if batch is not None and (
                batch.rows + task.rows > limit or batch.shape_key != task.shape_key
            ):
                batch.closed = True
                batch = None
            if batch is None:
                if len(queue) >= self._parameters.max_enqueued_batches:
                    raise Unavailable(
                        "The batch scheduling queue to which this task was submitted is full"
                    )
                batch = _Batch(key, task.shape_key, now)
                queue.append(batch)
            batch.tasks.append(task)
            task.batch = batch
            batch.rows += task.rows
            batch.closed = batch.closed or batch.rows == limit
            self._changed.notify_all()

    def _claim_or_wait(self, task: _Task) -> _Batch | None:
        """A ready batch for this caller to run, or None after waiting for something to change
        (a batch ready, a slot free, this run done, or its deadline)."""
        with self._changed:
            if task.done.is_set():
                return None
            assert task.batch is not None
            # only while its own run is queued: a caller whose batch already runs elsewhere
            # waits for its answer rather than start on somebody else's batch
            ready = None if task.batch.taken else self._take_ready(time.monotonic())
            if isinstance(ready, _Batch):
                self._running += 1
                return ready
            waits = [] if ready is None else [ready]
            now = time.monotonic()
            if task.deadline is not None and task.deadline > now:
                waits.append(task.deadline - now)
            self._changed.wait(min(waits) if waits else None)
            return None

    def _take_ready(self, now: float) -> _Batch | float | None:
        """The oldest batch ready to run if a slot is free, else seconds until one is ready
        (None: nothing to wait for but a change)."""
        if self._running >= self._parameters.num_batch_threads:
            return None
        oldest: _Batch | None = None
        for queue in self._queues.values():
            if queue and (oldest is None or queue[0].opened < oldest.opened):
                oldest = queue[0]
        if oldest is None:
            return None
        wait_s = 0.0 if oldest.closed else oldest.opened + self._timeout_s - now
        if wait_s > 0:
            return wait_s
        queue = self._queues[oldest.key]
        queue.popleft()
        if not queue:
            del self._queues[oldest.key]
        oldest.closed = oldest.taken = True
        return oldest

    def _abandon(self, task: _Task) -> bool:
        """Take a run whose deadline passed out of its queued batch; False if its batch is
        already running (then it waits for its answer like any other)."""
        with self._changed:
            batch = task.batch
            assert batch is not None
            if batch.taken:
                return False
            queue = self._queues[batch.key]
            batch.tasks.remove(task)
            batch.rows -= task.rows
            if not batch.tasks:
                queue.remove(batch)
                if not queue:
                    del self._queues[batch.key]
            return True

    # -- running ----------------------------------------------------------------------------

    def _process(self, batch: _Batch) -> None:
        now = time.monotonic()
        record_batch_dequeued([now - task.enqueued for task in batch.tasks])
        live = []
        for task in batch.tasks:
            if task.deadline is not None and task.deadline <= now:
                task.finish(None, DeadlineExceeded("the run's deadline passed in the queue"))
            else:
                live.append(task)
        if not live:
            return
        fetches = batch.key[1]
        try:
            results = self._run_together(live, fetches)
        except ServingError as error:
            if len(live) == 1:
                live[0].finish(None, error)
                return
            LOG.info(
                "%s: a batch of %d runs failed (%s); running them one by one",
                self._name,
                len(live),
                error.message,
            )
            for task in live:
                try:
                    (outputs,) = self._run_together([task], fetches)
                except ServingError as alone:
                    task.finish(None, alone)
                else:
                    task.finish(outputs)
            return
        except Exception as error:  # never leave a caller waiting on a broken batch
            LOG.exception("%s: batch failed", self._name)
            for task in live:
                task.finish(None, Unavailable(f"batch failed: {error}"))
            return
        for task, outputs in zip(live, results, strict=True):
            task.finish(outputs)

    def _run_together(self, tasks: list[_Task], fetches: Sequence[str]) -> list[list[Array]]:
        rows = sum(task.rows for task in tasks)
        padded = _allowed_size(rows, self._parameters.allowed_batch_sizes)
        merged = {
            name: _merge(
                [task.feeds[name] for task in tasks],
                padded - rows,
                self._parameters.pad_variable_length_inputs,
            )
            for name in tasks[0].feeds
        }
        try:
            outputs = self._run(merged, fetches, _latest_timeout_ms(tasks))
        finally:
            record_wrapped_run()
        for output in outputs:
            if output.ndim == 0:
                raise FailedPrecondition("Batched output tensor has 0 dimensions")
            if output.shape[0] != padded:
                raise FailedPrecondition(
                    "Batched output tensor's 0th dimension does not equal the sum of the 0th "
                    "dimension sizes of the input tensors"
                )
        starts = list(itertools.accumulate((task.rows for task in tasks), initial=0))
        return [
            [output[start : start + task.rows] for output in outputs]
            for task, start in zip(tasks, starts, strict=False)
        ]


def _latest_timeout_ms(tasks: Sequence[_Task]) -> int | None:
    """The batch's run timeout: until the latest deadline among its runs (None if one has
    none), so no run is cut short for another's sake."""
    deadlines = [task.deadline for task in tasks if task.deadline is not None]
    if len(deadlines) < len(tasks):
        return None
    return max(1, int((max(deadlines) - time.monotonic()) * 1000))


def _rows_and_shape(
    feeds: Mapping[str, Array], parameters: BatchingParameters
) -> tuple[int, tuple[Any, ...]]:
    """A run's rows (its inputs' common 0th dimension) and the shape that batches it."""
    if not feeds:
        raise InvalidInput("Batching Run() must have at least one input tensor")
    rows: int | None = None
    shapes = []
    for name in sorted(feeds):
        array = feeds[name]
        if array.ndim == 0:
            raise InvalidInput("Batching Run() input tensors must have at least one dimension")
        if rows is not None and array.shape[0] != rows:
            raise InvalidInput("Batching Run() input tensors must have equal 0th-dimension size")
        rows = int(array.shape[0])
        rest = array.ndim if parameters.pad_variable_length_inputs else array.shape[1:]
        shapes.append((name, rest))
    assert rows is not None
    return rows, tuple(shapes)


def _allowed_size(rows: int, allowed: tuple[int, ...]) -> int:
    """The smallest allowed batch size that holds `rows` (rows itself when any size goes)."""
    return next((size for size in allowed if size >= rows), rows)


def _merge(arrays: list[Array], padding_rows: int, pad_dims: bool) -> Array:
    if pad_dims and len(arrays) > 1:
        widest = np.max([a.shape for a in arrays], axis=0)
        arrays = [_pad_to(a, widest) for a in arrays]
    if padding_rows:
        arrays = [*arrays, np.repeat(arrays[-1][:1], padding_rows, axis=0)]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)


def _pad_to(array: Array, widest: Array) -> Array:
    """`array` grown to `widest` in every dimension but the 0th, with its own first value."""
    widths = [(0, 0)] + [(0, int(w) - n) for n, w in zip(array.shape[1:], widest[1:], strict=True)]
    if not any(after for _, after in widths) or array.size == 0:
        return array
    return np.pad(array, widths, mode="constant", constant_values=array.flat[0])
