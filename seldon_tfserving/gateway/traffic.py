"""Which predictor answers a request (traffic weights), and fire-and-forget shadow copies.

In a cluster Istio or Ambassador split traffic between a deployment's predictors by their
`traffic` weights and mirror requests to `shadow: true` predictors, whose answers are dropped.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence

from seldon_tfserving.deploy.model import Predictor
from seldon_tfserving.gateway.bounded_workers import BoundedWorkers
from seldon_tfserving.gateway.metrics import GatewayMetrics

logger = logging.getLogger(__name__)


class TrafficSplit:
    """Picks a main predictor by weight; lists the shadows that get a copy of every request.

    Weights are the predictors' `traffic`; when none is given the main predictors share
    equally (one main predictor takes everything, as the operator defaults it to 100).
    """

    def __init__(self, predictors: Sequence[Predictor], rng: random.Random | None = None) -> None:
        self.main = [p for p in predictors if not p.shadow]
        self.shadows = [p for p in predictors if p.shadow]
        weights = [max(p.traffic or 0, 0) for p in self.main]
        if not any(weights):
            weights = [1] * len(self.main)
        self._weights = weights
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def choose(self) -> Predictor | None:
        if not self.main:
            return None
        with self._lock:
            return self._rng.choices(self.main, weights=self._weights)[0]


class ShadowDispatcher:
    """A bounded queue of shadow calls and the workers running them; full means dropped."""

    def __init__(self, metrics: GatewayMetrics, queue_size: int, workers: int) -> None:
        self._workers: BoundedWorkers[Callable[[], object]] = BoundedWorkers(
            "shadow",
            _run_shadow,
            queue_size=queue_size,
            workers=workers,
            on_drop=metrics.shadow_dropped.inc,
        )

    @property
    def dropped(self) -> int:
        return self._workers.dropped

    def start(self) -> None:
        self._workers.start()

    def submit(self, call: Callable[[], object]) -> None:
        self._workers.offer(call)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._workers.stop(timeout_s)


def _run_shadow(call: Callable[[], object]) -> None:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - a shadow's failure is only logged
        logger.info("shadow request failed: %s", error)
