"""Feedback's counters go through the buffer too: written straight into Seldon's store they
raced the flusher's read-modify-write of the same process's figures, and increments were lost
(a router's route and feedback counts, as a real Prometheus scraped them, fell behind)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from seldon_core.metrics import FEEDBACK_KEY, FEEDBACK_REWARD_KEY, SeldonMetrics

from seldon_tfserving.microservice.metrics_buffer import BufferedSeldonMetrics

ROUTED = "seldon_tfserving_router_route_total"

pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


@pytest.fixture
def seldon_metrics() -> Iterator[SeldonMetrics]:
    metrics = SeldonMetrics()
    yield metrics
    metrics._manager.shutdown()


def counters(metrics: SeldonMetrics) -> dict[str, float]:
    totals: dict[str, float] = {}
    for family in metrics.collect():
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_a_reward_is_queued_and_arrives_with_the_next_flush(seldon_metrics: Any) -> None:
    front = BufferedSeldonMetrics(seldon_metrics, flush_interval_s=3600)
    front.update_reward(0.5)
    front.update_reward(0.0)  # Seldon counts no feedback without a reward
    assert counters(seldon_metrics) == {}
    front.flush()
    assert counters(seldon_metrics) == {
        f"{FEEDBACK_KEY}_total": 1.0,
        f"{FEEDBACK_REWARD_KEY}_total": 0.5,
    }


def test_rewards_and_routes_from_many_threads_all_count(seldon_metrics: Any) -> None:
    front = BufferedSeldonMetrics(seldon_metrics, flush_interval_s=0.001)
    calls = 60

    def route_and_reward() -> None:
        for _ in range(calls):
            front.update([{"type": "COUNTER", "key": ROUTED, "value": 1}], "route")
            front.update_reward(1.0)

    threads = [threading.Thread(target=route_and_reward) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    front.flush()
    totals = counters(seldon_metrics)
    assert totals[ROUTED] == 3 * calls
    assert totals[f"{FEEDBACK_KEY}_total"] == 3 * calls
    assert totals[f"{FEEDBACK_REWARD_KEY}_total"] == 3 * calls


class ReadModifyWriteStore:
    """Seldon's store as its update behaves: read the figures, add, write back, slowly."""

    def __init__(self) -> None:
        self.total = 0.0

    def update(self, metrics: list[dict[str, Any]], method: str) -> None:
        seen = self.total
        threading.Event().wait(0.01)
        self.total = seen + sum(metric["value"] for metric in metrics)


def test_two_flushes_at_once_merge_one_after_the_other() -> None:
    store = ReadModifyWriteStore()
    front = BufferedSeldonMetrics(store, flush_interval_s=3600)
    front.update([{"type": "COUNTER", "key": ROUTED, "value": 1}], "route")
    first = threading.Thread(target=front.flush)
    first.start()
    threading.Event().wait(0.002)  # the first merge is between its read and its write
    front.update([{"type": "COUNTER", "key": ROUTED, "value": 1}], "route")
    front.flush()
    first.join()
    assert store.total == 2
