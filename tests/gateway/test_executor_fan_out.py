"""The graph walk in process: combiners of combiners on a one-thread fan-out pool.

The executor's client seam (`ClientFactory`) stands in for the components, so what is tested is
the walk itself: every leaf called once, every combiner handed its children's answers, and no
deadlock when the pool's only thread is a parent waiting for its own children.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.component_client import ComponentClient, ComponentMethod
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.executor import PredictorExecutor
from seldon_tfserving.gateway.fan_out import FanOut
from seldon_tfserving.gateway.graph_plan import NodePlan
from seldon_tfserving.gateway.liveness import DownComponents
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.request_logger import RequestLogger
from seldon_tfserving.transport import Transport

_PATIENCE_S = 30.0


def _message(value: float) -> Payload:
    return Payload.from_json("message", json.dumps({"data": {"ndarray": [value]}}).encode())


def _value(payload: Payload) -> float:
    value: float = payload.as_json()["data"]["ndarray"][0]
    return value


class _SummingComponent(ComponentClient):
    """A model answers its own number (a little slowly); a combiner sums its children's."""

    def __init__(self, name: str, calls: list[tuple[str, str]], lock: threading.Lock) -> None:
        self._name = name
        self._calls = calls
        self._lock = lock

    def call(
        self,
        method: ComponentMethod,
        payload: Payload | Sequence[Payload],
        headers: Mapping[str, str],
    ) -> Payload:
        with self._lock:
            self._calls.append((self._name, method))
        if method == "aggregate":
            assert not isinstance(payload, Payload)
            return _message(sum(_value(child) for child in payload))
        time.sleep(0.02)  # keeps the pool's thread busy while siblings queue up
        return _message(float(self._name.removeprefix("model-")))

    def service_name(self, method: ComponentMethod) -> str:
        return "/" + method

    def model_metadata(self, headers: Mapping[str, str]) -> Any:
        return {"name": self._name}

    def close(self) -> None:
        return None


def _combiner(name: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "type": "COMBINER", "children": children}


def _model(number: int) -> dict[str, Any]:
    return {"name": f"model-{number}", "type": "MODEL", "children": []}


@pytest.fixture
def fan_out() -> Iterator[FanOut]:
    pool = FanOut(max_threads=1)
    yield pool
    pool.close()


def test_combiners_of_combiners_answer_on_a_pool_of_one_thread(fan_out: FanOut) -> None:
    graph = _combiner(
        "top",
        [
            _combiner("left", [_model(1), _model(2), _model(3)]),
            _combiner("middle", [_model(4), _model(5), _model(6)]),
            _combiner("right", [_model(7), _combiner("inner", [_model(8), _model(9)])]),
        ],
    )
    deployment = parse_deployment(
        {
            "apiVersion": "machinelearning.seldon.io/v1",
            "kind": "SeldonDeployment",
            "metadata": {"name": "nested", "namespace": "test"},
            "spec": {"predictors": [{"name": "default", "graph": graph}]},
        }
    )
    predictor = deployment.predictors[0]
    nodes = ["top", "left", "middle", "right", "inner", *(f"model-{i}" for i in range(1, 10))]
    endpoints = {
        endpoint_key("nested", "default", name): ComponentEndpoint("127.0.0.1", 1, 2)
        for name in nodes
    }
    calls: list[tuple[str, str]] = []
    lock = threading.Lock()

    def client_for(
        plan: NodePlan, endpoint: ComponentEndpoint, transport: Transport
    ) -> ComponentClient:
        return _SummingComponent(plan.node.name, calls, lock)

    metrics = GatewayMetrics()
    executor = PredictorExecutor(
        deployment,
        predictor,
        endpoints,
        client_for,
        RequestLogger("http://localhost/", metrics, queue_size=1, workers=1, timeout_s=1.0),
        metrics,
        DownComponents(),
        fan_out,
        default_logger_url=None,
    )
    ctx = RequestContext(puid="p-1", transport="rest")
    answers: list[Payload] = []
    walk = threading.Thread(
        target=lambda: answers.append(executor.predict(_message(0.0), ctx)), daemon=True
    )
    walk.start()
    walk.join(_PATIENCE_S)
    assert not walk.is_alive(), "the graph walk deadlocked"
    assert [_value(answer) for answer in answers] == [45.0]  # 1 + 2 + ... + 9
    assert sorted(calls) == sorted(
        [(f"model-{i}", "predict") for i in range(1, 10)]
        + [(name, "aggregate") for name in ("top", "left", "middle", "right", "inner")]
    )
    assert ctx.routing == {name: -1 for name in nodes}
