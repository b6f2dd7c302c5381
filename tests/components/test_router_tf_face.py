"""Every router answering TF Serving's protocol under the real `seldon-core-microservice`.

Seldon's executor, under `protocol: tensorflow`, posts the client's TF body to
`/v1/models/<client's name>:route` and reads the reply as a SeldonMessage, strictly (unknown
fields refused), taking the first number of `data.ndarray`: here seldon-core's own strict
JSON->proto parse is the referee. Our gateway calls `tfgraph.Router/Route` over gRPC.
Feedback still comes by Seldon's `send-feedback`, which the executor's graph walk sends.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message
from tensorflow_serving.apis import classification_pb2, predict_pb2

from seldon_tfserving.protos import tensorflow_graph_pb2, tensorflow_graph_pb2_grpc
from seldon_tfserving.routers import ROUTE_METRIC
from tests.servers import Microservice, scrape_until, start_microservice, wait_until_ready

NODE = "tf-router"
TF_BODY = {"instances": [[1.0], [2.0]]}

ROUTERS: dict[str, list[dict[str, str]]] = {
    "ABTestRouter": [
        {"name": "ratio_a", "type": "FLOAT", "value": "0.5"},
        {"name": "seed", "type": "INT", "value": "3"},
    ],
    "EpsilonGreedyRouter": [
        {"name": "n_branches", "type": "INT", "value": "2"},
        {"name": "epsilon", "type": "FLOAT", "value": "0.0"},
    ],
    "ThompsonSamplingRouter": [
        {"name": "n_branches", "type": "INT", "value": "2"},
        {"name": "seed", "type": "INT", "value": "3"},
    ],
    "UCB1Router": [{"name": "n_branches", "type": "INT", "value": "3"}],
}
BRANCHES = {
    "ABTestRouter": 2,
    "EpsilonGreedyRouter": 2,
    "ThompsonSamplingRouter": 2,
    "UCB1Router": 3,
}
STICKY = "StickyABTestRouter"


@pytest.fixture(scope="module")
def routers(
    log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Microservice]]:
    """Each router as the operator runs it, sharing its state file across REST and gRPC."""
    state_dir = tmp_path_factory.mktemp("tf-routers")
    configs = {
        **{name: (name, params) for name, params in ROUTERS.items()},
        STICKY: ("ABTestRouter", [{"name": "sticky_key", "type": "STRING", "value": "user"}]),
    }
    services: dict[str, Microservice] = {}
    for name, (class_name, params) in configs.items():
        state = {"name": "state_path", "type": "STRING", "value": str(state_dir / f"{name}.json")}
        services[name] = start_microservice(
            log_dir,
            f"seldon_tfserving.{class_name}",
            service_type="ROUTER",
            parameters=[*params, state],
            env={"PREDICTIVE_UNIT_ID": NODE, "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus"},
            wait_ready=False,
        )
    try:
        wait_until_ready(*services.values(), timeout_s=240)
        yield services
    finally:
        for service in services.values():
            service.server.stop(timeout_s=2)


def executor_route(reply: requests.Response) -> tuple[int, prediction_pb2.SeldonMessage]:
    """The route Seldon's executor reads from a `:route` reply (ExtractRouteFromSeldonJson)."""
    assert reply.status_code == 200, reply.text
    strict = json_format.Parse(reply.text, prediction_pb2.SeldonMessage())
    message = json_to_seldon_message(reply.json())
    assert message == strict
    first = message.data.ndarray.values[0]
    number = first.list_value.values[0] if first.HasField("list_value") else first
    assert number.number_value == int(number.number_value)
    return int(number.number_value), message


def route_rest(service: Microservice, body: Any = TF_BODY, puid: str | None = None) -> int:
    headers = {"Seldon-Puid": puid} if puid else {}
    reply = requests.post(
        f"{service.http_url}/v1/models/client-name:route", json=body, headers=headers, timeout=20
    )
    branch, message = executor_route(reply)
    assert json_format.MessageToDict(message.meta)["tags"] == {"branch": branch}
    return branch


def route_grpc(service: Microservice, request: Any, puid: str | None = None) -> Any:
    metadata = (("seldon-puid", puid),) if puid else None
    with grpc.insecure_channel(service.grpc_endpoint) as channel:
        stub = tensorflow_graph_pb2_grpc.RouterStub(channel)
        return stub.Route(request, timeout=20, metadata=metadata)


def predict_route_request() -> tensorflow_graph_pb2.RouteRequest:
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "client-name"
    return tensorflow_graph_pb2.RouteRequest(predict=predict)


@pytest.mark.parametrize("name", list(ROUTERS))
def test_route_answers_a_child_the_executors_strict_parse_reads(
    routers: dict[str, Microservice], name: str
) -> None:
    branches = {route_rest(routers[name]) for _ in range(30)}
    assert branches <= set(range(BRANCHES[name])) and branches


@pytest.mark.parametrize("name", list(ROUTERS))
def test_the_grpc_route_answers_a_child_with_its_tags(
    routers: dict[str, Microservice], name: str
) -> None:
    for request in (
        predict_route_request(),
        tensorflow_graph_pb2.RouteRequest(classify=classification_pb2.ClassificationRequest()),
    ):
        answer = route_grpc(routers[name], request)
        assert 0 <= answer.route < BRANCHES[name]
        assert json_format.MessageToDict(answer.tags) == {"branch": answer.route}


def test_an_empty_route_request_is_invalid_argument(routers: dict[str, Microservice]) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        route_grpc(routers["ABTestRouter"], tensorflow_graph_pb2.RouteRequest())
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "holds none" in (raised.value.details() or "")


def test_ab_split_follows_its_ratio(routers: dict[str, Microservice]) -> None:
    counts = Counter(route_rest(routers["ABTestRouter"]) for _ in range(200))
    assert 60 <= counts[0] <= 140, counts


def test_a_sticky_split_keeps_a_caller_on_its_branch_by_its_puid(
    routers: dict[str, Microservice],
) -> None:
    """TF bodies carry no meta.tags: the sticky identity is the executor's Seldon-Puid."""
    service = routers[STICKY]
    for puid in ("alice", "bob", "carol", "dave"):
        rest = {route_rest(service, puid=puid) for _ in range(5)}
        grpc_ = {route_grpc(service, predict_route_request(), puid=puid).route for _ in range(3)}
        assert len(rest) == 1 and rest == grpc_, (puid, rest, grpc_)


def feedback(service: Microservice, branch: int, reward: float) -> None:
    """Seldon feedback, as the executor's graph walk sends it to a router."""
    body = {
        "request": {"data": {"ndarray": [[1.0]]}},
        "response": {"data": {"ndarray": [[2.5]]}, "meta": {"routing": {NODE: branch}}},
        "reward": reward,
    }
    reply = requests.post(f"{service.http_url}/send-feedback", json=body, timeout=20)
    assert reply.status_code == 200, reply.text


def test_feedback_on_tf_routed_requests_changes_what_a_bandit_learned(
    routers: dict[str, Microservice],
) -> None:
    service = routers["EpsilonGreedyRouter"]  # epsilon 0: always the best mean so far
    assert {route_rest(service) for _ in range(5)} == {0}
    feedback(service, 0, 0.0)
    feedback(service, 1, 1.0)
    assert {route_rest(service) for _ in range(5)} == {1}
    assert route_grpc(service, predict_route_request()).route == 1  # the gRPC process too
    health = requests.get(f"{service.http_url}/health/status", timeout=20).json()["jsonData"]
    assert [b["feedback"] for b in health["branches"]] == [1, 1]


def test_tf_routes_are_counted_in_seldons_metrics(routers: dict[str, Microservice]) -> None:
    service = routers["UCB1Router"]
    url = f"http://127.0.0.1:{service.metrics_port}/prometheus"

    def routed(text: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(ROUTE_METRIC) and 'method="router"' in line
        )

    before = routed(requests.get(url, timeout=20).text)
    for _ in range(3):
        route_rest(service)
    assert routed(scrape_until(url, lambda text: routed(text) >= before + 3)) >= before + 3


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "JSON Parse error"),
        (b"[1, 2]", "Is not object"),
        (b'{"data": {"ndarray": [[1]]}}', "Missing 'inputs' or 'instances' key"),
    ],
)
def test_a_body_that_is_no_tf_request_is_a_400(
    routers: dict[str, Microservice], body: bytes, says: str
) -> None:
    reply = requests.post(
        f"{routers['ABTestRouter'].http_url}/v1/models/m:route", data=body, timeout=20
    )
    assert reply.status_code == 400 and says in reply.json()["error"], reply.text


def test_a_router_answers_no_other_tf_call(routers: dict[str, Microservice]) -> None:
    base = routers["ABTestRouter"].http_url
    for method, path in [("POST", "/v1/models/m:predict"), ("GET", "/v1/models/m")]:
        reply = requests.request(method, base + path, json=TF_BODY, timeout=20)
        assert reply.status_code == 400, reply.text
        assert reply.json() == {"error": f"Malformed request: {method} {path}"}
    seldon = requests.post(f"{base}/route", json={"data": {"ndarray": [[1.0]]}}, timeout=20)
    assert seldon.status_code == 200, seldon.text  # Seldon's own protocol still answers


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["instances", "inputs", "x"]), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(st.binary(max_size=48), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_gets_a_route_or_a_400(routers: dict[str, Microservice], body: bytes) -> None:
    reply = requests.post(
        f"{routers['ThompsonSamplingRouter'].http_url}/v1/models/m:route", data=body, timeout=20
    )
    if reply.status_code == 200:
        executor_route(reply)
    else:
        assert reply.status_code == 400 and list(reply.json()) == ["error"], reply.text
