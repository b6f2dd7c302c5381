"""Seldon's metrics recorded off the request path: same figures, one merge per interval."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from seldon_core.metrics import SeldonMetrics

from seldon_tfserving.metrics_batching import BatchedSeldonMetrics, batched

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
    front = BatchedSeldonMetrics(shared, flush_interval_s=3600)
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
    front = BatchedSeldonMetrics(shared, flush_interval_s=0.05)
    front.update([dict(TIMER)], "predict")
    deadline = time.monotonic() + 5
    while not shared.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shared.calls == [([{**TIMER, "tags": {}}], "predict")]


def test_batched_figures_are_the_figures_seldon_records_itself(
    seldon_metrics: SeldonMetrics,
) -> None:
    other = SeldonMetrics()
    try:
        front = BatchedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
        for value in (0.5, 3.0, 80.0):
            front.update([{**TIMER, "value": value}], "predict")
            other.update([{**TIMER, "value": value}], "predict")
        front.update([{"key": "calls", "value": 3, "tags": {"model": "m"}}], "predict")
        other.update([{"key": "calls", "value": 3, "tags": {"model": "m"}}], "predict")
        front.flush()
        assert _exposition(seldon_metrics) == _exposition(other)
    finally:
        other._manager.shutdown()


def test_the_callers_metric_dicts_are_left_as_they_were(seldon_metrics: SeldonMetrics) -> None:
    """Seldon's update writes a method tag into each metric; a REST answer may still hold it."""
    metric = {"type": "COUNTER", "key": "calls", "value": 1, "tags": {"model": "m"}}
    front = BatchedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
    front.update([metric], "predict")
    front.flush()
    assert metric == {"type": "COUNTER", "key": "calls", "value": 1, "tags": {"model": "m"}}


def test_an_empty_update_costs_nothing() -> None:
    shared = RecordingMetrics()
    front = BatchedSeldonMetrics(shared, flush_interval_s=3600)
    front.update([], "predict")
    front.flush()
    assert shared.calls == []


def test_a_failing_store_loses_the_batch_but_not_the_process() -> None:
    class Broken(RecordingMetrics):
        def update(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
            raise ConnectionResetError("the manager process is gone")

    front = BatchedSeldonMetrics(Broken(), flush_interval_s=3600)
    front.update([dict(TIMER)], "predict")
    front.flush()  # logged, not raised


def test_everything_else_is_seldons_own() -> None:
    assert BatchedSeldonMetrics(RecordingMetrics()).generate_metrics() == "from the shared store"


def test_one_front_per_seldon_metrics_object() -> None:
    shared = RecordingMetrics()
    assert batched(shared) is batched(shared)
    assert batched(batched(shared)) is batched(shared)


def _update_in_child(front: BatchedSeldonMetrics) -> None:
    front.update([{"key": "child_calls", "value": 1}], "predict")
    front.flush()


def test_a_forked_child_records_its_own_metrics_under_its_own_pid(
    seldon_metrics: SeldonMetrics,
) -> None:
    """As gunicorn's workers and Seldon's gRPC process do: each writes as itself, and what the
    parent had queued before the fork is recorded once, by the parent."""
    front = BatchedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
    front.update([{"key": "parent_calls", "value": 1}], "predict")
    child = multiprocessing.get_context("fork").Process(target=_update_in_child, args=(front,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    front.flush()
    data = dict(seldon_metrics.data)
    keys_by_pid = {pid: sorted(key[1] for key in metrics) for pid, metrics in data.items()}
    assert keys_by_pid == {os.getpid(): ["parent_calls"], child.pid: ["child_calls"]}
