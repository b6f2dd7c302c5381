"""graphs/tf-ab-versions.yaml, unchanged, under `up`: an ABTestRouter (80/20) over two
TfServingModel arms pinned to the labels `stable` (version 1) and `canary` (version 2) of one
TF Serving model, called with TF Serving's own API over REST and gRPC.

Version 1 of `half_plus_two` answers 0.5x + 2 and version 2 0.5x + 3, so every answer tells
which arm gave it; each is compared with TF Serving's own answer for that arm's label.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    regression_pb2,
)

from seldon_tfserving.runner.command import usage_text
from tests.runner.tf_graphs import (
    BAD_BODIES,
    HALF_PLUS_THREE,
    HALF_PLUS_TWO,
    TIMEOUT_S,
    WRAPPER_TIMEOUT_MS,
    TfGraph,
    assert_grpc_is_never_a_server_failure,
    assert_rest_is_never_a_5xx,
    bad_predict_requests,
    fuzzed,
    grpc_outcome,
    grpc_puid,
    grpc_routing,
    outputs_of,
    predict_request,
    routing_of,
    running_graph,
)
from tests.servers import scrape_settled, scrape_until

pytestmark = pytest.mark.timeout(900)

ARMS = ("model-stable", "model-canary")
LABEL = {"model-stable": "stable", "model-canary": "canary"}
VERSION = {"model-stable": 1, "model-canary": 2}
#: ratio_a 0.8: 40 draws all take the stable arm once in ~7,500 runs
DRAWS = 40


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TfGraph]:
    layout = {"half_plus_two": {1: HALF_PLUS_TWO, 2: HALF_PLUS_THREE}}
    with running_graph("tf-ab-versions.yaml", layout, tmp_path_factory.mktemp("ab")) as running:
        yield running


def _arm(routing: dict[str, int]) -> str:
    return ARMS[routing["ab-router"]]


# -- predict ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/models/half_plus_two:predict", "/v1/models/any/:predict", "/v1/models:predict"]
)
def test_rest_answers_are_tf_servings_own_for_the_label_of_the_arm_taken(
    graph: TfGraph, path: str
) -> None:
    body = {"instances": [1.0, 2.0, 5.0]}
    expected = {
        arm: graph.direct_post(f"/v1/models/half_plus_two/labels/{LABEL[arm]}:predict", body)
        for arm in ARMS
    }
    assert expected["model-stable"].json() == {"predictions": [2.5, 3.0, 4.5]}
    seen = set()
    for _ in range(DRAWS):
        answer = graph.post(path, body)
        assert answer.status_code == 200, answer.text
        arm = _arm(routing_of(answer))
        assert routing_of(answer) == {"ab-router": ARMS.index(arm), arm: -1}
        assert answer.content == expected[arm].content  # TF Serving's body, as it wrote it
        seen.add(arm)
    assert seen == set(ARMS)


def test_grpc_answers_are_tf_servings_own_for_the_label_of_the_arm_taken(graph: TfGraph) -> None:
    request = predict_request([1.0, 2.0, 3.0])
    with graph.direct_stubs() as direct:
        expected = {
            arm: direct.prediction.Predict(
                predict_request([1.0, 2.0, 3.0], label=LABEL[arm]), timeout=TIMEOUT_S
            )
            for arm in ARMS
        }
    seen = set()
    with graph.stubs() as stubs:
        for _ in range(DRAWS):
            answer, call = stubs.prediction.Predict.with_call(
                request, metadata=graph.metadata, timeout=TIMEOUT_S
            )
            arm = _arm(grpc_routing(call))
            assert answer == expected[arm]
            assert answer.model_spec.version.value == VERSION[arm]
            assert grpc_puid(call)
            seen.add(arm)
    assert seen == set(ARMS)
    assert outputs_of(expected["model-canary"]) == {"y": [3.5, 4.0, 4.5]}


def test_a_label_path_is_served_by_the_arm_that_pins_it_and_refused_by_the_other(
    graph: TfGraph,
) -> None:
    """Each arm is pinned: a label it holds is honoured, another is a 400 naming both."""
    body = {"instances": [2.0]}
    expected = graph.direct_post("/v1/models/half_plus_two/labels/canary:predict", body)
    outcomes = set()
    for _ in range(DRAWS):
        answer = graph.post("/v1/models/half_plus_two/labels/canary:predict", body)
        arm = ARMS[int(answer.status_code == 200)]
        if answer.status_code == 200:
            assert routing_of(answer)["ab-router"] == 1
            assert answer.json() == expected.json() == {"predictions": [4.0]}
        else:
            assert answer.status_code == 400, answer.text
            message = answer.json()["error"]
            assert "label 'canary'" in message and "label 'stable'" in message, message
        outcomes.add(arm)
    assert outcomes == set(ARMS)


def test_a_version_path_contradicts_both_label_pins(graph: TfGraph) -> None:
    for _ in range(10):
        answer = graph.post("/v1/models/half_plus_two/versions/1:predict", {"instances": [1.0]})
        assert answer.status_code == 400, answer.text
        assert "version 1" in answer.json()["error"]
    with graph.stubs() as stubs:
        code, details = grpc_outcome(
            stubs.prediction.Predict, predict_request([1.0], version=2), metadata=graph.metadata
        )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "version 2" in details, details


# -- classify, regress, multi-inference --------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "signature"), [("classify", "classify_x_to_y"), ("regress", "regress_x_to_y")]
)
def test_classify_and_regress_answer_as_the_arms_model_does(
    graph: TfGraph, verb: str, signature: str
) -> None:
    """Version 1 has these signatures and answers; version 2 has not and says so (a 400)."""
    body = {"signature_name": signature, "examples": [{"x": 1.0}, {"x": 3.0}]}
    expected = {
        arm: graph.direct_post(f"/v1/models/half_plus_two/labels/{LABEL[arm]}:{verb}", body)
        for arm in ARMS
    }
    assert expected["model-stable"].status_code == 200
    assert expected["model-canary"].status_code == 400
    seen = set()
    for _ in range(20):
        answer = graph.post(f"/v1/models/half_plus_two:{verb}", body)
        arm = ARMS[0] if answer.status_code == 200 else ARMS[1]
        assert (answer.status_code, answer.json()) == (
            expected[arm].status_code,
            expected[arm].json(),
        )
        seen.add(arm)
    assert "model-stable" in seen


def _examples_input(request: Any) -> Any:
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(2.0)
    return request


def test_grpc_classify_regress_and_multi_inference_answer_as_the_arms_model_does(
    graph: TfGraph,
) -> None:
    classify = _examples_input(classification_pb2.ClassificationRequest())
    classify.model_spec.signature_name = "classify_x_to_y"
    regress = _examples_input(regression_pb2.RegressionRequest())
    regress.model_spec.signature_name = "regress_x_to_y"
    multi = _examples_input(inference_pb2.MultiInferenceRequest())
    task = multi.tasks.add()
    task.model_spec.signature_name = "regress_x_to_y"
    task.method_name = "tensorflow/serving/regress"
    calls = [("Classify", classify), ("Regress", regress), ("MultiInference", multi)]
    with graph.stubs() as stubs, graph.direct_stubs() as direct:
        for method, request in calls:
            for _ in range(8):
                code, answer = grpc_outcome(
                    getattr(stubs.prediction, method).with_call, request, metadata=graph.metadata
                )
                if code == grpc.StatusCode.OK:
                    response, call = answer
                    arm = _arm(grpc_routing(call))
                else:
                    response, arm = answer, "model-canary"  # version 2 lacks the signature
                for spec in _specs(request):
                    spec.name, spec.version_label = "half_plus_two", LABEL[arm]
                assert (code, response) == grpc_outcome(
                    getattr(direct.prediction, method), request
                ), method
                for spec in _specs(request):
                    spec.name = ""
                    spec.ClearField("version_label")


def _specs(request: Any) -> list[Any]:
    if isinstance(request, inference_pb2.MultiInferenceRequest):
        return [task.model_spec for task in request.tasks]
    return [request.model_spec]


# -- status and metadata -----------------------------------------------------------------------


@pytest.mark.parametrize("arm", ARMS)
def test_status_and_metadata_of_an_arm_are_its_labels(graph: TfGraph, arm: str) -> None:
    label = f"/v1/models/half_plus_two/labels/{LABEL[arm]}"
    for suffix in ("", "/metadata"):
        answer = graph.get(f"/v1/models/{arm}{suffix}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == graph.direct_get(label + suffix).json()
    metadata = graph.get(f"/v1/models/{arm}/metadata").json()
    assert metadata["model_spec"]["version"] == str(VERSION[arm])


@pytest.mark.parametrize("arm", ARMS)
def test_grpc_status_and_metadata_of_an_arm_are_its_labels(graph: TfGraph, arm: str) -> None:
    metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    status = get_model_status_pb2.GetModelStatusRequest()
    with graph.stubs() as stubs, graph.direct_stubs() as direct:
        for request, through, theirs in (
            (metadata, stubs.prediction.GetModelMetadata, direct.prediction.GetModelMetadata),
            (status, stubs.models.GetModelStatus, direct.models.GetModelStatus),
        ):
            request.model_spec.name = arm  # the executor finds the node by this name
            answer = through(request, metadata=graph.metadata, timeout=TIMEOUT_S)
            request.model_spec.name, request.model_spec.version_label = "half_plus_two", LABEL[arm]
            assert answer == theirs(request, timeout=TIMEOUT_S)
            request.model_spec.ClearField("version_label")


def test_ready_asks_every_arm_for_its_model(graph: TfGraph) -> None:
    ready = requests.get(graph.runner.http_url + "/ready", timeout=TIMEOUT_S)
    assert ready.status_code == 200, ready.text


# -- feedback --------------------------------------------------------------------------------


def _router_state(graph: TfGraph) -> dict[int, dict[str, Any]]:
    """The router's learned state by branch, from its REST process's /health/status."""
    router = graph.component("ab-router").endpoint
    document = requests.get(router.http_url + "/health/status", timeout=TIMEOUT_S).json()
    return {entry["branch"]: entry for entry in document["jsonData"]["branches"]}


def test_feedback_naming_the_puid_reaches_the_branch_that_answered(graph: TfGraph) -> None:
    before = _router_state(graph)
    answer = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
    branch = routing_of(answer)["ab-router"]
    puid = answer.headers["Seldon-Puid"]
    echoed = graph.post("/api/v1.0/feedback", {"reward": 1.0}, **{"Seldon-Puid": puid})
    assert echoed.status_code == 200, echoed.text
    assert echoed.json() == {"reward": 1.0}
    after = _router_state(graph)
    assert after[branch]["feedback"] == before[branch]["feedback"] + 1
    assert after[branch]["reward_sum"] == before[branch]["reward_sum"] + 1.0
    assert after[1 - branch]["feedback"] == before[1 - branch]["feedback"]


def test_feedback_with_the_routing_in_it_reaches_that_branch(graph: TfGraph) -> None:
    before = _router_state(graph)
    feedback = {"response": {"meta": {"routing": {"ab-router": 1}}}, "reward": 0.5}
    assert graph.post("/api/v1.0/feedback", feedback).status_code == 200
    after = _router_state(graph)
    assert after[1]["feedback"] == before[1]["feedback"] + 1
    assert after[1]["reward_sum"] == before[1]["reward_sum"] + 0.5


def _feedback_counts(text: str) -> dict[tuple[str, str], float]:
    """The router's feedback counter by (branch, worker_id), from a Prometheus scrape."""
    counts = {}
    for line in text.splitlines():
        if line.startswith("seldon_tfserving_router_feedback_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            counts[(labels["branch"], labels["worker_id"])] = float(line.rsplit(" ", 1)[1])
    return counts


def _route_workers(text: str) -> dict[str, float]:
    """The router's route counter by worker_id (one per seldon-core process)."""
    workers: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("seldon_tfserving_router_route_total{"):
            worker = dict(re.findall(r'(\w+)="([^"]*)"', line))["worker_id"]
            workers[worker] = workers.get(worker, 0.0) + float(line.rsplit(" ", 1)[1])
    return workers


def test_feedback_on_a_grpc_prediction_reaches_the_process_that_routed_it(
    graph: TfGraph,
) -> None:
    """seldon-core serves gRPC from another process than REST, each learning on its own."""
    router = graph.component("ab-router")
    metrics_url = f"http://127.0.0.1:{router.metrics_port}/prometheus"
    baseline = scrape_settled(metrics_url)
    with graph.stubs() as stubs:
        _, call = stubs.prediction.Predict.with_call(
            predict_request([1.0]), metadata=graph.metadata, timeout=TIMEOUT_S
        )
    branch = str(grpc_routing(call)["ab-router"])
    before = _route_workers(baseline)
    routed = scrape_until(metrics_url, lambda text: _route_workers(text) != before)
    (grpc_worker,) = [w for w, n in _route_workers(routed).items() if n > before.get(w, 0.0)]
    counted = _feedback_counts(routed).get((branch, grpc_worker), 0.0)
    echoed = graph.post("/api/v1.0/feedback", {"reward": 1.0}, **{"Seldon-Puid": grpc_puid(call)})
    assert echoed.status_code == 200, echoed.text
    learned = scrape_until(
        metrics_url, lambda text: _feedback_counts(text).get((branch, grpc_worker), 0.0) > counted
    )
    assert _feedback_counts(learned)[(branch, grpc_worker)] == counted + 1


# -- errors ----------------------------------------------------------------------------------


def test_each_refusal_has_tf_servings_body_and_status(graph: TfGraph) -> None:
    unknown_node = graph.get("/v1/models/no-such-node/metadata")
    assert (unknown_node.status_code, unknown_node.json()) == (
        404,
        {"error": "Failed to find model no-such-node"},
    )
    other = requests.post(
        graph.runner.http_url + "/seldon/default/no-such-graph/v1/models:predict",
        json={"instances": [1.0]},
        timeout=TIMEOUT_S,
    )
    assert other.status_code == 404 and "no-such-graph" in other.json()["error"]
    for body in (b'{"instances": "x"}', b"{}", b'{"instances": [[1.0], [1.0, 2.0]]}'):
        bad = graph.post("/v1/models/half_plus_two:predict", body)
        assert bad.status_code == 400, bad.text
        assert bad.json() == graph.direct_post("/v1/models/half_plus_two:predict", body).json()
    not_json = graph.post("/v1/models/half_plus_two:predict", b"not json")
    assert not_json.status_code == 400 and set(not_json.json()) == {"error"}
    assert requests.get(graph.base_url + "/v1/models:predict", timeout=TIMEOUT_S).status_code == 405
    with graph.stubs() as stubs:
        unknown = get_model_status_pb2.GetModelStatusRequest()
        unknown.model_spec.name = "no-such-node"
        code, details = grpc_outcome(stubs.models.GetModelStatus, unknown, metadata=graph.metadata)
        assert (code, details) == (grpc.StatusCode.NOT_FOUND, "Failed to find model no-such-node")
        code, _ = grpc_outcome(
            stubs.models.GetModelStatus,
            get_model_status_pb2.GetModelStatusRequest(),
            metadata=graph.metadata,
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT  # TF Serving's "Missing ModelSpec"
        mistyped = predict_request([1.0])
        mistyped.inputs["x"].dtype = 7  # DT_STRING, with float values
        code, _ = grpc_outcome(stubs.prediction.Predict, mistyped, metadata=graph.metadata)
        assert code == grpc.StatusCode.INVALID_ARGUMENT


_ROUTES = (
    "/v1/models/half_plus_two:predict",
    "/v1/models/half_plus_two/:predict",
    "/v1/models:predict",
    "/v1/models/:predict",
    "/v1/models/half_plus_two/labels/stable:predict",
    "/v1/models/half_plus_two:classify",
    "/v1/models/half_plus_two:regress",
    "/api/v1.0/feedback",
)


@fuzzed(60)
@given(route=st.sampled_from(_ROUTES), body=BAD_BODIES)
def test_a_fuzzed_body_into_any_route_is_never_a_5xx(
    graph: TfGraph, route: str, body: bytes
) -> None:
    assert_rest_is_never_a_5xx(graph, route, body)


@fuzzed(40)
@given(request=bad_predict_requests())
def test_a_fuzzed_predict_request_is_never_a_server_failure(graph: TfGraph, request: Any) -> None:
    assert_grpc_is_never_a_server_failure(graph, request)


# -- `up` says how to call it ------------------------------------------------------------------


def test_up_prints_tf_servings_routes_that_answer(graph: TfGraph) -> None:
    text = usage_text(graph.runner)
    assert "/api/v1.0/predictions" not in text and "SeldonClient" not in text
    posts = re.findall(r"POST (\S+:predict)", text)
    assert posts, text
    for url in posts:
        answer = requests.post(url, json={"instances": [1.0]}, timeout=TIMEOUT_S)
        assert answer.status_code == 200, (url, answer.text)
    nodes = re.search(r"\(nodes: ([^)]*)\)", text)
    assert nodes is not None and nodes.group(1).split(", ") == list(ARMS)
    for node in ARMS:
        assert graph.get(f"/v1/models/{node}/metadata").status_code == 200
    assert f"seldon={graph.deployment.name}" in text
    assert re.search(r"curl -d '\{\"instances\": \[\.\.\.\]\}' (\S+)", text)


# -- failures (last: they stop parts of the graph) -------------------------------------------


def test_tf_serving_frozen_is_a_504_over_rest_and_grpc_then_answers_again(graph: TfGraph) -> None:
    graph.signal_tfserving(signal.SIGSTOP)
    try:
        started = time.monotonic()
        late = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
        assert late.status_code == 504, late.text
        assert f"within {WRAPPER_TIMEOUT_MS} ms" in late.json()["error"]
        with graph.stubs() as stubs:
            code, details = grpc_outcome(
                stubs.prediction.Predict, predict_request([1.0]), metadata=graph.metadata
            )
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED, details
        assert time.monotonic() - started < 4 * WRAPPER_TIMEOUT_MS / 1000
    finally:
        graph.signal_tfserving(signal.SIGCONT)
    answer = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
    assert answer.status_code == 200, answer.text


def test_an_arm_that_died_takes_its_pod_down_with_tf_servings_503(graph: TfGraph) -> None:
    """Every container of the graph is in one pod: one that dies leaves the pod unready, so
    the whole graph answers 503 (TF's body, naming it) until it is back, as a cluster would."""
    runner = graph.runner
    victim = runner.child(graph.component("model-canary").key)
    assert victim.pid is not None
    reported = len(runner.failures)
    os.killpg(victim.pid, signal.SIGKILL)
    assert runner.wait_for_failure(timeout_s=20, since=reported) is not None
    for _ in range(5):
        answer = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
        assert answer.status_code == 503, answer.text
        assert list(answer.json()) == ["error"] and "model-canary" in answer.json()["error"]
    with graph.stubs() as stubs:
        code, details = grpc_outcome(
            stubs.prediction.Predict, predict_request([1.0]), metadata=graph.metadata
        )
    assert code == grpc.StatusCode.UNAVAILABLE and "model-canary" in details, details
    ready = requests.get(runner.http_url + "/ready", timeout=TIMEOUT_S)
    assert ready.status_code == 503 and "model-canary" in ready.text
