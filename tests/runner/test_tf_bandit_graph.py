"""graphs/tf-bandit.yaml, unchanged, under `up`: a ThompsonSamplingRouter over three
TfServingModel children pinned to versions 1, 2 and 3 of one TF Serving model, called with TF
Serving's own API, learning from the feedback sent to the gateway.

Versions 1 and 3 of `half_plus_two` answer 0.5x + 2, version 2 answers 0.5x + 3; each answer is
compared with TF Serving's own answer for the version of the child the bandit chose.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from tensorflow_serving.apis import get_model_metadata_pb2, regression_pb2

from tests.runner.tf_graphs import (
    BAD_BODIES,
    HALF_PLUS_THREE,
    HALF_PLUS_TWO,
    HALF_PLUS_TWO_MORE_SIGNATURES,
    TIMEOUT_S,
    TfGraph,
    assert_grpc_is_never_a_server_failure,
    assert_rest_is_never_a_5xx,
    bad_predict_requests,
    fuzzed,
    grpc_puid,
    grpc_routing,
    predict_request,
    routing_of,
    running_graph,
)

pytestmark = pytest.mark.timeout(900)

CHILDREN = ("version-1", "version-2", "version-3")
#: 30 rounds rewarding one branch only; then 20 draws, of which at least this many take it
#: (Thompson sampling on Beta(1, 1) priors fails it about never; routing at random, ~1e-5)
TRAINING_ROUNDS = 30
EXPLOITED = 15


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TfGraph]:
    layout = {
        "half_plus_two": {1: HALF_PLUS_TWO, 2: HALF_PLUS_THREE, 3: HALF_PLUS_TWO_MORE_SIGNATURES}
    }
    scratch = tmp_path_factory.mktemp("bandit")
    with running_graph("tf-bandit.yaml", layout, scratch) as running:
        yield running


def _version(routing: dict[str, int]) -> int:
    branch = routing["bandit"]
    assert routing == {"bandit": branch, CHILDREN[branch]: -1}
    return branch + 1


def test_rest_answers_are_tf_servings_own_for_the_version_chosen(graph: TfGraph) -> None:
    body = {"instances": [[1.0], [4.0]]}
    expected = {
        v: graph.direct_post(f"/v1/models/half_plus_two/versions/{v}:predict", body).content
        for v in (1, 2, 3)
    }
    seen = set()
    for _ in range(30):
        answer = graph.post("/v1/models/half_plus_two:predict", body)
        assert answer.status_code == 200, answer.text
        version = _version(routing_of(answer))
        assert answer.content == expected[version]
        seen.add(version)
    assert seen == {1, 2, 3}  # an untrained bandit draws each about a third of the time


def test_grpc_answers_are_tf_servings_own_for_the_version_chosen(graph: TfGraph) -> None:
    with graph.direct_stubs() as direct:
        expected = {
            v: direct.prediction.Predict(predict_request([3.0], version=v), timeout=TIMEOUT_S)
            for v in (1, 2, 3)
        }
    seen = set()
    with graph.stubs() as stubs:
        for _ in range(30):
            answer, call = stubs.prediction.Predict.with_call(
                predict_request([3.0]), metadata=graph.metadata, timeout=TIMEOUT_S
            )
            version = _version(grpc_routing(call))
            assert answer == expected[version]
            assert answer.model_spec.version.value == version
            seen.add(version)
    assert seen == {1, 2, 3}


def test_a_version_path_is_served_by_the_child_pinned_to_it_only(graph: TfGraph) -> None:
    body = {"instances": [2.0]}
    expected = graph.direct_post("/v1/models/half_plus_two/versions/2:predict", body).json()
    outcomes: Counter[int] = Counter()
    for _ in range(30):
        answer = graph.post("/v1/models/half_plus_two/versions/2:predict", body)
        outcomes[answer.status_code] += 1
        if answer.status_code == 200:
            assert answer.json() == expected == {"predictions": [4.0]}
        else:
            assert answer.status_code == 400, answer.text
            assert "version 2" in answer.json()["error"], answer.text
    assert set(outcomes) == {200, 400}


def test_regress_answers_as_the_chosen_versions_model_does(graph: TfGraph) -> None:
    """Versions 1 and 3 have `regress_x_to_y`; version 2 has not, and TF Serving says so."""
    body = {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}
    expected = {
        v: graph.direct_post(f"/v1/models/half_plus_two/versions/{v}:regress", body)
        for v in (1, 2, 3)
    }
    assert [expected[v].status_code for v in (1, 2, 3)] == [200, 400, 200]
    for _ in range(12):
        answer = graph.post("/v1/models/half_plus_two:regress", body)
        candidates = [v for v in (1, 2, 3) if expected[v].status_code == answer.status_code]
        assert answer.json() in [expected[v].json() for v in candidates], answer.text
    request = regression_pb2.RegressionRequest()
    request.model_spec.signature_name = "regress_x_to_y"
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(2.0)
    with graph.stubs() as stubs, graph.direct_stubs() as direct:
        for _ in range(12):
            try:
                answer, call = stubs.prediction.Regress.with_call(
                    request, metadata=graph.metadata, timeout=TIMEOUT_S
                )
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
                continue
            version = _version(grpc_routing(call))
            mine = regression_pb2.RegressionRequest()
            mine.CopyFrom(request)
            mine.model_spec.name = "half_plus_two"
            mine.model_spec.version.value = version
            assert answer == direct.prediction.Regress(mine, timeout=TIMEOUT_S)


@pytest.mark.parametrize("child", CHILDREN)
def test_status_and_metadata_of_a_child_are_its_versions(graph: TfGraph, child: str) -> None:
    version = f"/v1/models/half_plus_two/versions/{child[-1]}"
    for suffix in ("", "/metadata"):
        answer = graph.get(f"/v1/models/{child}{suffix}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == graph.direct_get(version + suffix).json()
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = child
    with graph.stubs() as stubs:
        answer = stubs.prediction.GetModelMetadata(
            request, metadata=graph.metadata, timeout=TIMEOUT_S
        )
    assert answer.model_spec.version.value == int(child[-1])


# -- learning from feedback ------------------------------------------------------------------


def _posterior(graph: TfGraph) -> dict[int, dict[str, Any]]:
    """The bandit's REST process's learned state by branch (its /health/status)."""
    router = graph.component("bandit").endpoint
    document = requests.get(router.http_url + "/health/status", timeout=TIMEOUT_S).json()
    assert document["jsonData"]["policy"] == "ThompsonSamplingRouter"
    return {entry["branch"]: entry for entry in document["jsonData"]["branches"]}


def test_a_reward_moves_the_posterior_of_the_branch_that_answered(graph: TfGraph) -> None:
    before = _posterior(graph)
    answer = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
    branch = routing_of(answer)["bandit"]
    feedback = graph.post(
        "/api/v1.0/feedback", {"reward": 0.25}, **{"Seldon-Puid": answer.headers["Seldon-Puid"]}
    )
    assert feedback.status_code == 200, feedback.text
    after = _posterior(graph)
    assert after[branch]["alpha"] == before[branch]["alpha"] + 0.25
    assert after[branch]["beta"] == before[branch]["beta"] + 0.75
    for other in set(after) - {branch}:
        assert (after[other]["alpha"], after[other]["beta"]) == (
            before[other]["alpha"],
            before[other]["beta"],
        )


def test_the_bandit_learns_from_feedback_on_its_rest_traffic(graph: TfGraph) -> None:
    favourite = 1
    for _ in range(TRAINING_ROUNDS):
        answer = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
        reward = 1.0 if routing_of(answer)["bandit"] == favourite else 0.0
        puid = answer.headers["Seldon-Puid"]
        assert graph.post("/api/v1.0/feedback", {"reward": reward}, **{"Seldon-Puid": puid}).ok
    draws = Counter(
        routing_of(graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]}))["bandit"]
        for _ in range(20)
    )
    assert draws[favourite] >= EXPLOITED, draws


def test_the_bandit_learns_from_feedback_on_its_grpc_traffic(graph: TfGraph) -> None:
    """gRPC predictions, REST feedback naming their puids: the gRPC process learns."""
    favourite = 2
    with graph.stubs() as stubs:

        def draw() -> tuple[int, str]:
            _, call = stubs.prediction.Predict.with_call(
                predict_request([1.0]), metadata=graph.metadata, timeout=TIMEOUT_S
            )
            return grpc_routing(call)["bandit"], grpc_puid(call)

        for _ in range(TRAINING_ROUNDS):
            branch, puid = draw()
            reward = 1.0 if branch == favourite else 0.0
            assert graph.post("/api/v1.0/feedback", {"reward": reward}, **{"Seldon-Puid": puid}).ok
        draws = Counter(draw()[0] for _ in range(20))
    assert draws[favourite] >= EXPLOITED, draws


def test_feedback_for_an_unknown_puid_without_routing_is_a_400_and_teaches_nothing(
    graph: TfGraph,
) -> None:
    before = _posterior(graph)
    answer = graph.post("/api/v1.0/feedback", {"reward": 1.0}, **{"Seldon-Puid": "never-seen"})
    assert answer.status_code == 400, answer.text
    assert "routing" in answer.json()["error"]
    assert _posterior(graph) == before


# -- bad input -------------------------------------------------------------------------------

_ROUTES = (
    "/v1/models/half_plus_two:predict",
    "/v1/models:predict",
    "/v1/models/half_plus_two/versions/3:predict",
    "/v1/models/half_plus_two:regress",
    "/api/v1.0/feedback",
)


@fuzzed(40)
@given(route=st.sampled_from(_ROUTES), body=BAD_BODIES)
def test_a_fuzzed_body_into_any_route_is_never_a_5xx(
    graph: TfGraph, route: str, body: bytes
) -> None:
    assert_rest_is_never_a_5xx(graph, route, body)


@fuzzed(30)
@given(request=bad_predict_requests())
def test_a_fuzzed_predict_request_is_never_a_server_failure(graph: TfGraph, request: Any) -> None:
    assert_grpc_is_never_a_server_failure(graph, request)


# -- readiness (last: it stops TF Serving) ---------------------------------------------------


def test_ready_follows_the_models_of_every_child_through_a_tf_serving_restart(
    graph: TfGraph,
) -> None:
    runner = graph.runner
    assert requests.get(runner.http_url + "/ready", timeout=TIMEOUT_S).status_code == 200
    reported = len(runner.failures)
    graph.signal_tfserving(signal.SIGKILL)
    assert runner.wait_for_failure(timeout_s=20, since=reported) is not None
    down = requests.get(runner.http_url + "/ready", timeout=TIMEOUT_S)
    assert down.status_code == 503
    assert all(child in down.text for child in CHILDREN), down.text
    answer = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
    assert answer.status_code == 503 and list(answer.json()) == ["error"], answer.text
    runner.restart_backend()
    assert requests.get(runner.http_url + "/ready", timeout=TIMEOUT_S).status_code == 200
    answer = graph.post("/v1/models/half_plus_two:predict", {"instances": [1.0]})
    assert answer.status_code == 200, answer.text
