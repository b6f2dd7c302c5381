"""Tiny Seldon classes for the gateway's tests, run under the real `seldon-core-microservice`.

Each writes what it received (feedback, predictions) as JSON lines to its `state_file`, so a
test can see from outside the process what reached it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.microservice.component import SeldonComponent

_lock = threading.Lock()


def _record(state_file: str, event: dict[str, Any]) -> None:
    if state_file:
        with _lock, Path(state_file).open("a") as stream:
            stream.write(json.dumps(event) + "\n")


def read_events(state_file: Path) -> list[dict[str, Any]]:
    """Every event a component recorded so far."""
    if not state_file.exists():
        return []
    return [json.loads(line) for line in state_file.read_text().splitlines() if line]


class NodeNamingComponent(SeldonComponent):
    """Seldon metadata naming the graph node served, so a test can tell whose it sees."""

    def init_metadata(self) -> dict[str, Any]:
        node = os.environ.get("PREDICTIVE_UNIT_ID", "")
        return {
            "platform": "tests",
            "inputs": [{"messagetype": "ndarray", "schema": {"names": [f"{node}-in"]}}],
            "outputs": [{"messagetype": "ndarray", "schema": {"names": [f"{node}-out"]}}],
            "custom": {"node": node},
        }


class ScaleModel(NodeNamingComponent):
    """Multiplies its input by `factor`; refuses negative input (400); sleeps `meta.tags.sleep`."""

    def __init__(self, factor: float = 1.0, state_file: str = "") -> None:
        super().__init__()
        self.factor = float(factor)
        self.state_file = state_file

    def predict(self, X: Any, features_names: Any = None, meta: Any = None) -> Any:
        array = np.asarray(X, dtype=np.float64)
        if (array < 0).any():
            raise InvalidInput("ScaleModel takes non-negative input only")
        time.sleep(float((meta or {}).get("tags", {}).get("sleep", 0)))
        _record(self.state_file, {"event": "predict", "input": array.tolist()})
        return array * self.factor

    def send_feedback(
        self, features: Any, feature_names: Any, reward: float, truth: Any, routing: Any = None
    ) -> Any:
        _record(self.state_file, {"event": "feedback", "reward": reward, "routing": routing})
        return []


class AddTransformer(NodeNamingComponent):
    """An input transformer that adds `offset`."""

    def __init__(self, offset: float = 0.0) -> None:
        super().__init__()
        self.offset = float(offset)

    def transform_input(self, X: Any, features_names: Any = None, meta: Any = None) -> Any:
        return np.asarray(X, dtype=np.float64) + self.offset


class NegateOutputTransformer(NodeNamingComponent):
    """An output transformer that negates."""

    def transform_output(self, X: Any, features_names: Any = None, meta: Any = None) -> Any:
        return -np.asarray(X, dtype=np.float64)


class MeanCombiner(NodeNamingComponent):
    """A combiner that averages its children element-wise."""

    def aggregate(self, features_list: Any, feature_names_list: Any = None) -> Any:
        return np.mean([np.asarray(x, dtype=np.float64) for x in features_list], axis=0)


class GreedyRouter(NodeNamingComponent):
    """A bandit: routes to the branch with the highest total reward (ties: lowest index).

    Its state changes only through feedback, and every feedback is recorded.
    """

    def __init__(self, n_branches: int = 2, state_file: str = "") -> None:
        super().__init__()
        self.totals = [0.0] * int(n_branches)
        self.state_file = state_file

    def route(self, features: Any, feature_names: Any) -> int:
        return int(np.argmax(self.totals))

    def send_feedback(
        self, features: Any, feature_names: Any, reward: float, truth: Any, routing: Any = None
    ) -> Any:
        _record(self.state_file, {"event": "feedback", "reward": reward, "routing": routing})
        if routing is not None and 0 <= int(routing) < len(self.totals):
            self.totals[int(routing)] += float(reward)
        return []


class TagRouter(NodeNamingComponent):
    """Routes where the request's `meta.tags.route` says (-1 all, -2 none, any index)."""

    def route(self, features: Any, feature_names: Any, meta: Any = None) -> int:
        return int((meta or {}).get("tags", {}).get("route", 0))
