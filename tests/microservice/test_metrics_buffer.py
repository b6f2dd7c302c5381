"""Seldon's metrics recorded off the request path: same figures, one merge per interval."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from seldon_core.metrics import SeldonMetrics

from seldon_tfserving.microservice.metrics_buffer import (
    BufferedSeldonMetrics,
    TimerBatch,
    buffered,
    timer_histogram,
)
from tests.waiting import eventually

TIMER = {"type": "TIMER", "key": "tfserving_request_duration", "value": 3.0}

# Seldon's store is a multiprocessing Manager (a fork), and these tests fork as Seldon does,
# in a test process that runs other tests' flusher threads: Python warns about exactly that.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


class RecordingMetrics:
    """Stands in for Seldon's store: remembers each `update` call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[dict[str, Any]], str]] = []

    def update(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
        self.calls.append((custom_metrics, method))

    def generate_metrics(self) -> str:
        return "from the shared store"


@pytest.fixture
def seldon_metrics() -> Iterator[SeldonMetrics]:
    metrics = SeldonMetrics()
    yield metrics
    metrics._manager.shutdown()


def _exposition(metrics: Any) -> str:
    text: str = metrics.generate_metrics()[0]
    return text


def test_updates_wait_for_a_flush_then_arrive_in_one_call_per_method() -> None:
    shared = RecordingMetrics()
    front = BufferedSeldonMetrics(shared, flush_interval_s=3600)
    front.update([dict(TIMER)], "predict")
    front.update([dict(TIMER)], "predict")
    front.update([{"key": "routed", "value": 1}], "route")
    assert shared.calls == []
    front.flush()
    assert sorted((method, len(metrics)) for metrics, method in shared.calls) == [
        ("predict", 2),
        ("route", 1),
    ]


def test_the_background_flusher_delivers_within_its_interval() -> None:
    shared = RecordingMetrics()
    front = BufferedSeldonMetrics(shared, flush_interval_s=0.05)
    front.update([dict(TIMER)], "predict")
    eventually(
        lambda: shared.calls, 5, interval_s=0.01, awaited="the flusher delivering the update"
    )
    assert shared.calls == [([{**TIMER, "tags": {}}], "predict")]


def test_updates_from_many_threads_across_many_flushes_all_arrive() -> None:
    """The flusher is woken by the first update after each flush only: none may be stranded."""
    shared = RecordingMetrics()
    front = BufferedSeldonMetrics(shared, flush_interval_s=0.005)
    writers, per_writer = 4, 300

    def write() -> None:
        for _ in range(per_writer):
            front.update([dict(TIMER)], "predict")
            time.sleep(random.random() / 5000)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def delivered() -> int:
        return sum(len(m) for m, _ in shared.calls)

    eventually(
        lambda: delivered() >= writers * per_writer,
        5,
        interval_s=0.01,
        awaited=f"all {writers * per_writer} updates flushed",
        detail=lambda: f"updates were left in the queue, unflushed: {delivered()} delivered",
    )
    assert delivered() == writers * per_writer
    assert len(shared.calls) > 1, "merged over many intervals, each woken again"


def test_buffered_figures_are_the_figures_seldon_records_itself(
    seldon_metrics: SeldonMetrics,
) -> None:
    other = SeldonMetrics()
    try:
        front = BufferedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
        for value in (0.5, 3.0, 80.0, 0.0004, 31_000.0):
            for tags in ({}, {"model": "m", "version": "2"}):
                front.update([{**TIMER, "value": value, "tags": tags}], "predict")
                other.update([{**TIMER, "value": value, "tags": dict(tags)}], "predict")
            front.update([{"key": "calls", "value": 3, "tags": {"model": "m"}}], "predict")
            other.update([{"key": "calls", "value": 3, "tags": {"model": "m"}}], "predict")
        front.update([{**TIMER, "value": 7.0}], "route")
        other.update([{**TIMER, "value": 7.0}], "route")
        front.flush()
        assert _exposition(seldon_metrics) == _exposition(other)
    finally:
        other._manager.shutdown()


def test_the_callers_metric_dicts_are_left_as_they_were(seldon_metrics: SeldonMetrics) -> None:
    """Seldon's update writes a method tag into each metric; a REST answer may still hold it."""
    metric = {"type": "COUNTER", "key": "calls", "value": 1, "tags": {"model": "m"}}
    front = BufferedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
    front.update([metric], "predict")
    front.flush()
    assert metric == {"type": "COUNTER", "key": "calls", "value": 1, "tags": {"model": "m"}}


def test_an_empty_update_costs_nothing() -> None:
    shared = RecordingMetrics()
    front = BufferedSeldonMetrics(shared, flush_interval_s=3600)
    front.update([], "predict")
    front.flush()
    assert shared.calls == []


def test_a_failing_store_loses_the_batch_but_not_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(RecordingMetrics):
        def update(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
            raise ConnectionResetError("the manager process is gone")

    front = BufferedSeldonMetrics(Broken(), flush_interval_s=3600)
    front.update([dict(TIMER)], "predict")
    front.update([dict(TIMER)], "predict")
    with caplog.at_level(logging.ERROR):
        front.flush()  # logged, not raised
    assert [record.getMessage() for record in caplog.records] == [
        "could not record 2 Seldon metrics"
    ]
    assert caplog.records[0].exc_info is not None
    front.flush()  # the lost batch is not retried
    assert len(caplog.records) == 1


def test_everything_else_is_seldons_own() -> None:
    assert BufferedSeldonMetrics(RecordingMetrics()).generate_metrics() == "from the shared store"


def test_one_front_per_seldon_metrics_object() -> None:
    shared = RecordingMetrics()
    assert buffered(shared) is buffered(shared)
    assert buffered(buffered(shared)) is buffered(shared)


def _update_in_child(front: BufferedSeldonMetrics) -> None:
    front.update([{"key": "child_calls", "value": 1}], "predict")
    front.flush()


def test_a_forked_child_records_its_own_metrics_under_its_own_pid(
    seldon_metrics: SeldonMetrics,
) -> None:
    """As gunicorn's workers and Seldon's gRPC process do: each writes as itself, and what the
    parent had queued before the fork is recorded once, by the parent."""
    front = BufferedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
    front.update([{"key": "parent_calls", "value": 1}], "predict")
    child = multiprocessing.get_context("fork").Process(target=_update_in_child, args=(front,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    front.flush()
    data = dict(seldon_metrics.data)
    keys_by_pid = {pid: sorted(key[1] for key in metrics) for pid, metrics in data.items()}
    assert keys_by_pid == {os.getpid(): ["parent_calls"], child.pid: ["child_calls"]}


_FORK_HOOK_PROBE = """
import os
registered = []
register = os.register_at_fork
def recording(**hooks):
    registered.extend(f"{hook.__module__}.{hook.__name__}" for hook in hooks.values())
    register(**hooks)
os.register_at_fork = recording
from seldon_tfserving.microservice import metrics_buffer
ours = [hook for hook in registered if hook.startswith("seldon_tfserving")]
assert ours == [], f"importing registered {ours}"
metrics_buffer.BufferedSeldonMetrics(object())
metrics_buffer.BufferedSeldonMetrics(object())
print([hook for hook in registered if hook.startswith("seldon_tfserving")])
"""


def test_the_fork_hook_is_registered_by_the_first_buffer_not_by_the_import() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _FORK_HOOK_PROBE], capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 0, probe.stderr
    hook = "seldon_tfserving.microservice.metrics_buffer._reset_after_fork"
    assert probe.stdout.strip() == repr([hook]), "registered once, by the first buffer"


def test_a_timer_is_filed_in_the_bin_and_total_seldons_numpy_histogram_gives() -> None:
    from seldon_core.metrics import BINS

    edges = [float(edge) for edge in BINS[1:-1]]
    seconds = [0.0, -1.0, 1e-9, 29.999, 30.0, 1e9, float("inf"), float("nan")]
    seconds += edges + [math.nextafter(edge, 0.0) for edge in edges]
    seconds += [random.Random(15).uniform(0, 40) for _ in range(200)]
    empty = list(np.zeros(len(BINS) - 1))
    for value in seconds:
        ours, our_total = timer_histogram(value, empty, 2.5)
        seldons, seldons_total = SeldonMetrics._update_hist(value, empty, 2.5)
        assert ours == seldons, value
        assert [type(count) for count in ours] == [type(count) for count in seldons]
        assert our_total == seldons_total or (math.isnan(our_total) and math.isnan(seldons_total))
    once, _ = timer_histogram(0.003, empty, 0.0)
    twice, _ = timer_histogram(0.003, once, 0.0)
    assert sum(twice) == 2 and sum(empty) == 0


def test_a_batch_of_timers_is_filed_as_its_values_one_by_one() -> None:
    from seldon_core.metrics import BINS

    milliseconds = [random.Random(3).uniform(-100, 40_000) for _ in range(100)]
    counts, total = list(np.zeros(len(BINS) - 1)), 0.25
    for value in milliseconds:
        counts, total = SeldonMetrics._update_hist(value / 1000, counts, total)
    batch = TimerBatch(milliseconds) / 1000
    assert isinstance(batch, TimerBatch)
    assert timer_histogram(batch, list(np.zeros(len(BINS) - 1)), 0.25) == (counts, total)
    _, with_nan = timer_histogram(TimerBatch([1.0, float("nan")]), counts, 0.0)
    assert math.isnan(with_nan), "a NaN is summed into the total, as Seldon sums it"


def test_seldons_store_gets_one_metric_per_timer_series_each_flush(
    seldon_metrics: SeldonMetrics,
) -> None:
    """Seldon's update costs about 13 us a metric: an interval's requests must not each pay."""
    handed: list[int] = []
    seldons_update = seldon_metrics.update

    def counting_update(custom_metrics: list[dict[str, Any]], method: str) -> None:
        handed.append(len(custom_metrics))
        seldons_update(custom_metrics, method)

    seldon_metrics.update = counting_update  # type: ignore[method-assign]
    front = BufferedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
    for value in range(50):
        for model in ("a", "b"):
            front.update([{**TIMER, "value": float(value), "tags": {"model": model}}], "predict")
    front.update([{"key": "calls", "value": 1}, {"key": "calls", "value": 2}], "predict")
    front.flush()
    assert handed == [4], "two timer series and the two counters as they came"
    text = _exposition(seldon_metrics)
    counts = [line for line in text.splitlines() if line.startswith(f"{TIMER['key']}_count{{")]
    for model in ("a", "b"):
        assert [line.rsplit(" ", 1)[1] for line in counts if f'model="{model}"' in line] == ["50.0"]


def test_a_front_files_its_seldon_stores_timers_without_numpy(
    seldon_metrics: SeldonMetrics,
) -> None:
    BufferedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
    assert seldon_metrics._update_hist is timer_histogram
