"""What real clients, fuzzing and fault probes found at the gateway, each with its fix: the
executor's 405s, bounded `meta`, and every bad body shape a 4xx, never a 5xx."""

from __future__ import annotations

import json
import time

import grpc
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE

BASE = f"/seldon/{NAMESPACE}"
GOOD = {"data": {"ndarray": [[1.0, 2.0]]}}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/bandit/api/v1.0/predictions"),
        ("PUT", "/bandit/api/v1.0/predictions"),
        ("DELETE", "/bandit/api/v1.0/feedback"),
        ("PATCH", "/bandit/api/v0.1/feedback"),
        ("HEAD", "/bandit/api/v1.0/predictions"),
        ("POST", "/ensemble/api/v1.0/metadata"),
        ("POST", "/ensemble/api/v1.0/metadata/model-a"),
        ("PUT", "/ensemble/api/v1.0/health/status"),
        ("POST", "/ensemble/api/v1.0/status"),
    ],
)
def test_a_wrong_method_is_405_with_an_empty_body_as_the_executors_mux_answers(
    gateway: Gateway, method: str, path: str
) -> None:
    reply = requests.request(method, gateway.http_url + BASE + path, timeout=10)
    assert reply.status_code == 405
    assert reply.content == b""


def test_an_unknown_operation_stays_404_whatever_the_method(gateway: Gateway) -> None:
    for method in ("GET", "POST"):
        reply = requests.request(method, gateway.http_url + BASE + "/bandit/api/v1.0/x", timeout=10)
        assert reply.status_code == 404
        assert reply.json()["status"]["status"] == "FAILURE"


def test_the_executors_status_route_answers_readiness(gateway: Gateway) -> None:
    assert requests.get(gateway.http_url + BASE + "/chain/api/v1.0/status", timeout=10).ok


def test_meta_over_the_limit_is_413_naming_it_before_the_graph_runs(gateway: Gateway) -> None:
    """A million `meta.tags` once cost 7 s and 234 MB and came back echoed."""
    tags = {f"tag-{i}": i for i in range(1_000_000)}
    body = json.dumps({"data": GOOD["data"], "meta": {"tags": tags}}).encode()
    started = time.monotonic()
    reply = requests.post(
        gateway.http_url + BASE + "/chained/api/v1.0/predictions",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 413
    status = reply.json()["status"]
    assert status["code"] == 413 and "max_meta_bytes" in status["info"]
    # 22 MB sent over loopback and scanned once (0.3 s alone); echoed back it took 7 s quiet
    assert time.monotonic() - started < 5.0
    assert len(reply.content) < 1000  # nothing echoed


def test_meta_under_the_limit_still_travels(gateway: Gateway) -> None:
    tagged = {**GOOD, "meta": {"tags": {f"t{i}": i for i in range(100)}}}
    reply = requests.post(
        gateway.http_url + BASE + "/chained/api/v1.0/predictions", json=tagged, timeout=20
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["meta"]["tags"]["t99"] == 99


def test_grpc_meta_over_the_limit_is_resource_exhausted(gateway: Gateway) -> None:
    message = prediction_pb2.SeldonMessage()
    message.data.ndarray.extend([[1.0]])
    for i in range(10_000):
        message.meta.tags[f"tag-{i}"].number_value = i
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            prediction_pb2_grpc.SeldonStub(channel).Predict(
                message, metadata=[("seldon", "chained"), ("namespace", NAMESPACE)], timeout=20
            )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_meta_bytes" in (caught.value.details() or "")


BAD_BODIES = {
    "false": b"false",
    "zero": b"0",
    "null": b"null",
    "array": b"[1, 2]",
    "string": b'"feedback"',
    "nested 100,000 deep": b'{"response": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "a 5,000-digit reward": b'{"reward": ' + b"9" * 5000 + b"}",
    "not UTF-8": b'{"reward": "\xff\xfe"}',
    "not JSON": b"{reward: 1",
}


@pytest.mark.parametrize("deployment", ["bandit", "ab-test", "chained"])
@pytest.mark.parametrize("case", BAD_BODIES)
def test_a_bad_feedback_body_is_a_client_error(
    gateway: Gateway, deployment: str, case: str
) -> None:
    reply = requests.post(
        gateway.http_url + BASE + f"/{deployment}/api/v1.0/feedback",
        data=BAD_BODIES[case],
        headers={"Content-Type": "application/json"},
        timeout=20,
    )
    assert 400 <= reply.status_code < 500, reply.text[:300]


@pytest.mark.parametrize("case", ["false", "zero", "null", "array", "string"])
def test_a_prediction_that_is_not_an_object_is_400_before_the_graph(
    gateway: Gateway, case: str
) -> None:
    reply = requests.post(
        gateway.http_url + BASE + "/chained/api/v1.0/predictions",
        data=BAD_BODIES[case],
        headers={"Content-Type": "application/json"},
        timeout=20,
    )
    assert reply.status_code == 400
    assert "JSON object" in reply.json()["status"]["info"]


def test_feedback_without_routing_reaches_every_child_and_is_answered(gateway: Gateway) -> None:
    """As the executor does (route -1): the components decide; here they take it."""
    feedback = {"request": GOOD, "response": GOOD, "reward": 1.0}
    reply = requests.post(
        gateway.http_url + BASE + "/ab-test/api/v1.0/feedback", json=feedback, timeout=20
    )
    assert reply.status_code == 200, reply.text
