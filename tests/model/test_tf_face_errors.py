"""Every failure of a TF face with TF Serving's own status: `{"error": ...}` over REST, the
status code over gRPC, never Seldon's error JSON, never a 500, over both TF transports.

400 for a bad body (TF's own message, as the backend says it), 404 for an unknown model or
version, 413 / RESOURCE_EXHAUSTED over max_message_bytes, 504 / DEADLINE_EXCEEDED for a model
slower than timeout_ms, 503 / UNAVAILABLE while TF Serving is down, and answers again after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests

from seldon_tfserving.runner.launch import backend_ready
from tests.model.conftest import ServeModels
from tests.model.tf_calls import (
    assert_tf_error,
    grpc_status,
    post,
    predict_request,
    tf_stubs,
)
from tests.servers import TFSERVING_TESTDATA, Backend, Microservice, ServerProcess
from tests.waiting import eventually

TRANSPORTS = ["grpc", "rest"]


@pytest.fixture(scope="module")
def failing(serve_models: ServeModels, generated_backend: Backend) -> dict[str, Microservice]:
    return serve_models(
        generated_backend,
        unknown_grpc={"model_name": "no_such_model", "ready_timeout_s": 0.0},
        unknown_rest={"model_name": "no_such_model", "transport": "rest", "ready_timeout_s": 0.0},
        slow_grpc={"model_name": "slow", "timeout_ms": 100, "max_retries": 0},
        slow_rest={"model_name": "slow", "timeout_ms": 100, "transport": "rest"},
        small_grpc={"model_name": "classifier", "max_message_bytes": 2048},
        small_rest={"model_name": "classifier", "max_message_bytes": 2048, "transport": "rest"},
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"instances": [[1.0]], "inputs": [[1.0]]}',
        b'{"instances": [["a"]]}',
        b'{"instances": [[1.0], [1.0, 2.0]]}',
        b'{"inputs": {"nope": [1.0]}}',
        b'{"signature_name": 7, "instances": [1.0]}',
        b'{"other": 1}',
    ],
)
def test_a_bad_predict_body_is_tf_servings_400(
    tf_wrappers: dict[str, Microservice], backend: Backend, transport: str, body: bytes
) -> None:
    direct = post(backend.rest_endpoint, "/v1/models/two_versions:predict", body)
    assert direct.status_code == 400, direct.text
    via = post(tf_wrappers[transport].http_url, "/v1/models/m:predict", body)
    assert_tf_error(via, 400, "")
    if transport == "rest":
        assert via.content == direct.content
    else:  # the same words, from the wrapper's own reading of the body
        assert via.json() == direct.json()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("verb", ["classify", "regress"])
def test_a_bad_examples_body_is_tf_servings_400(
    tf_wrappers: dict[str, Microservice], backend: Backend, transport: str, verb: str
) -> None:
    for body in (b'{"examples": []}', b'{"examples": [{"x": {"a": 1}}]}', b'{"instances": [1]}'):
        direct = post(backend.rest_endpoint, f"/v1/models/two_versions:{verb}", body)
        via = post(tf_wrappers[transport].http_url, f"/v1/models/m:{verb}", body)
        assert_tf_error(via, 400, "")
        assert via.json() == direct.json()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_mistyped_tensor_is_invalid_argument(
    tf_wrappers: dict[str, Microservice], transport: str
) -> None:
    """A DT_DOUBLE tensor for DT_FLOAT x: TF's gRPC face refuses it; so do we over REST."""
    request = predict_request("m", [[1.0]])
    request.inputs["x"].dtype = 2  # DT_DOUBLE, its float32 content left as it was
    request.inputs["x"].tensor_content = np.array([[1.0]], np.float64).tobytes()
    with tf_stubs(tf_wrappers[transport].grpc_endpoint) as via:
        code, details = grpc_status(via.prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "double" in details.lower(), details


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unknown_model_is_a_404(failing: dict[str, Microservice], transport: str) -> None:
    service = failing[f"unknown_{transport}"]
    assert_tf_error(post(service.http_url, "/v1/models/m:predict", {"instances": [1.0]}), 404, "")
    assert "no_such_model" in requests.get(f"{service.http_url}/v1/models/m", timeout=30).text
    with tf_stubs(service.grpc_endpoint) as via:
        code, details = grpc_status(via.prediction.Predict, predict_request("m", [1.0]))
    assert code == grpc.StatusCode.NOT_FOUND and "no_such_model" in details, details


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_model_slower_than_timeout_ms_is_a_504(
    failing: dict[str, Microservice], transport: str
) -> None:
    service = failing[f"slow_{transport}"]
    started = time.monotonic()
    assert_tf_error(
        post(service.http_url, "/v1/models/m:predict", {"instances": [1.0]}), 504, "within 100 ms"
    )
    with tf_stubs(service.grpc_endpoint) as via:
        code, details = grpc_status(via.prediction.Predict, predict_request("m", [1.0]))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED and "within 100 ms" in details, details
    assert time.monotonic() - started < 5  # each call cut at 100 ms, not the 400 ms model


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_request_over_max_message_bytes_is_refused(
    failing: dict[str, Microservice], transport: str
) -> None:
    service = failing[f"small_{transport}"]
    rows = [[1.0, 2.0, 3.0, 4.0]] * 200  # 800 floats: well over 2 kB on either wire
    reply = post(service.http_url, "/v1/models/m:predict", {"instances": rows})
    assert_tf_error(reply, 413, "exceeds the limit of 2048")
    with tf_stubs(service.grpc_endpoint) as via:
        code, details = grpc_status(via.prediction.Predict, predict_request("m", rows))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
    small = post(service.http_url, "/v1/models/m:predict", {"instances": rows[:2]})
    assert small.status_code == 200, small.text  # small requests still pass


def test_tf_serving_down_is_503_then_answers_again(
    backend_factory: Callable[..., Backend], serve_models: ServeModels, log_dir: Path
) -> None:
    model_dir = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
    backend = backend_factory(
        ["--model_name=half_plus_two", f"--model_base_path={model_dir}"],
        ready_model="half_plus_two",
        name="tf-face-restarted",
    )
    services = serve_models(
        backend,
        down_grpc={"model_name": "half_plus_two"},
        down_rest={"model_name": "half_plus_two", "transport": "rest"},
    )
    body = {"instances": [[1.0]]}
    for service in services.values():
        assert post(service.http_url, "/v1/models/m:predict", body).status_code == 200

    backend.server.kill()
    for service in services.values():
        assert_tf_error(post(service.http_url, "/v1/models/m:predict", body), 503, "unavailable")
        assert_tf_error(requests.get(f"{service.http_url}/v1/models/m", timeout=30), 503, "")
        with tf_stubs(service.grpc_endpoint) as via:
            code, _ = grpc_status(via.prediction.Predict, predict_request("m", [[1.0]]))
        assert code == grpc.StatusCode.UNAVAILABLE

    again = restart_on_same_ports(backend, log_dir)
    try:
        for service in services.values():
            _await(lambda s=service: post(s.http_url, "/v1/models/m:predict", body), 503)
            with tf_stubs(service.grpc_endpoint) as via:
                request = predict_request("m", [[1.0]])
                eventually(
                    partial(_grpc_answered, via.prediction.Predict, request),
                    30,
                    interval_s=0.2,
                    awaited="gRPC recovery (OK, UNAVAILABLE meanwhile)",
                )
    finally:
        again.stop()


def restart_on_same_ports(backend: Backend, log_dir: Path) -> ServerProcess:
    """Start the backend again with the same command line, hence on the same ports."""
    server = ServerProcess("tf-face-backend-again", backend.server.argv, log_dir / "again.log")
    server.start()
    server.wait_until(
        lambda: backend_ready(backend.grpc_port, backend.rest_port, models=["half_plus_two"])
    )
    return server


def _await(call: Callable[[], Any], meanwhile: int) -> None:
    """Call until it answers 200 (within 30 s), every other answer being `meanwhile`."""

    def answered() -> requests.Response | None:
        reply: requests.Response = call()
        if reply.status_code == 200:
            return reply
        assert_tf_error(reply, meanwhile, "")
        return None

    reply = eventually(
        answered, 30, interval_s=0.2, awaited=f"recovery (a 200, {meanwhile}s meanwhile)"
    )
    assert reply.json() == {"predictions": [[2.5]]}


def _grpc_answered(predict: Any, request: Any) -> bool:
    """Whether `predict` answers OK; every other answer must be UNAVAILABLE."""
    code = grpc_status(predict, request)[0]
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE), code
    return bool(code == grpc.StatusCode.OK)
