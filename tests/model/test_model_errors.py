"""Each failure class with its real status, over Seldon REST and gRPC; nothing failed is a 200.

400 INVALID_ARGUMENT: input TF Serving refuses (with TF's message) or we refuse; 404 NOT_FOUND:
an unknown model or version; 504 DEADLINE_EXCEEDED: a model slower than timeout_ms; 503
UNAVAILABLE: TF Serving gone, and answers again once it is back, with no restart of ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from seldon_tfserving.runner.launch import SERVE_MODELS, backend_argv, backend_ready
from tests.model.calls import grpc_predict_status, ndarray_message
from tests.model.conftest import MODEL_CLASS, ServeModels, seldon_parameters
from tests.servers import (
    TFSERVING_TESTDATA,
    Backend,
    Microservice,
    ServerProcess,
    free_port,
    start_microservice,
    wait_until_ready,
)
from tests.waiting import eventually

REASONS = {
    400: "MICROSERVICE_BAD_DATA",
    404: "MICROSERVICE_NOT_FOUND",
    413: "MICROSERVICE_PAYLOAD_TOO_LARGE",
    503: "MICROSERVICE_UNAVAILABLE",
    504: "MICROSERVICE_TIMEOUT",
}


def rest_predict(service: Microservice, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{service.http_url}/api/v1.0/predictions", json=body, timeout=60)


def assert_seldon_error(reply: requests.Response, status: int, says: str) -> None:
    """The HTTP status is the error's, and the body is Seldon's error JSON saying why."""
    assert reply.status_code == status, reply.text
    body = reply.json()["status"]
    assert body["code"] == status and body["status"] == "FAILURE"
    assert body["reason"] == REASONS[status]
    assert says in body["info"], body["info"]


def assert_both_transports_fail(
    service: Microservice, values: Any, status: int, code: grpc.StatusCode, says: str
) -> None:
    assert_seldon_error(rest_predict(service, {"data": {"ndarray": values}}), status, says)
    got, details = grpc_predict_status(service, ndarray_message(values))
    assert got == code and says in details, (got, details)


@pytest.fixture(scope="module")
def failing(serve_models: ServeModels, generated_backend: Backend) -> dict[str, Microservice]:
    return serve_models(
        generated_backend,
        classifier_grpc={"model_name": "classifier"},
        classifier_rest={"model_name": "classifier", "transport": "rest"},
        unknown_model={"model_name": "no_such_model", "ready_timeout_s": 0.0},
        unknown_version={
            "model_name": "classifier",
            "model_version": 999,
            "transport": "rest",
            "ready_timeout_s": 0.0,
        },
        small_grpc={"model_name": "classifier", "max_message_bytes": 2048},
        small_rest={"model_name": "classifier", "max_message_bytes": 2048, "transport": "rest"},
        slow_grpc={"model_name": "slow", "timeout_ms": 100, "max_retries": 0},
        slow_rest={"model_name": "slow", "timeout_ms": 100, "transport": "rest"},
    )


@pytest.mark.parametrize("name", ["classifier_grpc", "classifier_rest"])
def test_input_tf_serving_refuses_is_a_400_with_tfs_message(
    failing: dict[str, Microservice], name: str
) -> None:
    """classifier's x is [-1, 4]: three columns fail TF's matmul, which says so."""
    assert_both_transports_fail(
        failing[name], [[1.0, 2.0, 3.0]], 400, grpc.StatusCode.INVALID_ARGUMENT, "Matrix size"
    )


@pytest.mark.parametrize("name", ["classifier_grpc", "classifier_rest"])
def test_input_that_does_not_fit_the_signature_is_a_400(
    failing: dict[str, Microservice], name: str
) -> None:
    assert_both_transports_fail(
        failing[name], [["a", "b", "c", "d"]], 400, grpc.StatusCode.INVALID_ARGUMENT, "DT_FLOAT"
    )
    reply = rest_predict(failing[name], {"jsonData": {"instances": [[1, 2, 3, 4]], "inputs": {}}})
    assert_seldon_error(reply, 400, "only one of 'inputs' or 'instances'")


def test_an_unknown_model_is_a_404(failing: dict[str, Microservice]) -> None:
    assert_both_transports_fail(
        failing["unknown_model"], [[1.0]], 404, grpc.StatusCode.NOT_FOUND, "no_such_model"
    )


def test_an_unknown_version_is_a_404(failing: dict[str, Microservice]) -> None:
    assert_both_transports_fail(
        failing["unknown_version"], [[1.0, 2.0, 3.0, 4.0]], 404, grpc.StatusCode.NOT_FOUND, "999"
    )
    reply = requests.get(f"{failing['unknown_version'].http_url}/health/status", timeout=30)
    assert reply.status_code == 503 and "999" in reply.json()["status"]["info"]


@pytest.mark.parametrize("name", ["slow_grpc", "slow_rest"])
def test_a_model_slower_than_timeout_ms_is_a_504(
    failing: dict[str, Microservice], name: str
) -> None:
    started = time.monotonic()
    assert_both_transports_fail(
        failing[name], [1.0], 504, grpc.StatusCode.DEADLINE_EXCEEDED, "within 100 ms"
    )
    assert time.monotonic() - started < 5  # two calls, each cut at 100 ms (not the 400 ms model)


@pytest.mark.parametrize("name", ["small_grpc", "small_rest"])
def test_a_request_over_max_message_bytes_is_a_413(
    failing: dict[str, Microservice], name: str
) -> None:
    rows = [[1.0, 2.0, 3.0, 4.0]] * 200  # 800 floats: well over 2 kB on either wire
    # Over REST the component's door refuses the body before it is read, naming the limit;
    # over gRPC the wrapper's call to TF Serving meets it (gRPC's words, or ours over REST).
    reply = rest_predict(failing[name], {"data": {"ndarray": rows}})
    assert_seldon_error(reply, 413, "max_message_bytes")
    got, details = grpc_predict_status(failing[name], ndarray_message(rows))
    says = "larger than max" if name == "small_grpc" else "max_message_bytes"
    assert got == grpc.StatusCode.RESOURCE_EXHAUSTED and says in details, (got, details)
    reply = rest_predict(failing[name], {"data": {"ndarray": rows[:2]}})
    assert reply.status_code == 200, reply.text  # small requests still pass


def test_json_data_errors_keep_their_status(failing: dict[str, Microservice]) -> None:
    reply = rest_predict(failing["slow_rest"], {"jsonData": {"instances": [1.0]}})
    assert_seldon_error(reply, 504, "within 100 ms")
    reply = rest_predict(failing["unknown_model"], {"jsonData": {"instances": [1.0]}})
    assert_seldon_error(reply, 404, "no_such_model")


def test_a_wrong_parameter_stops_the_microservice_naming_it(log_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="parameter 'transport'"):
        start_microservice(
            log_dir,
            MODEL_CLASS,
            parameters=seldon_parameters(model_name="m", transport="carrier-pigeon"),
        )


# --- TF Serving stopped and restarted -------------------------------------------------------


def restart_on_same_ports(backend: Backend, log_dir: Path) -> ServerProcess:
    """Start the backend again with the same command line, hence the same ports."""
    server = ServerProcess("backend-again", backend.server.argv, log_dir / "backend-again.log")
    server.start()
    server.wait_until(
        lambda: backend_ready(backend.grpc_port, backend.rest_port, models=["half_plus_two"])
    )
    return server


def test_backend_down_is_503_then_recovers_without_a_restart(
    backend_factory: Callable[..., Backend],
    serve_models: ServeModels,
    log_dir: Path,
) -> None:
    model_dir = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
    backend = backend_factory(
        ["--model_name=half_plus_two", f"--model_base_path={model_dir}"],
        ready_model="half_plus_two",
        name="restarted",
    )
    services = serve_models(
        backend,
        down_grpc={"model_name": "half_plus_two"},
        down_rest={"model_name": "half_plus_two", "transport": "rest"},
    )
    for service in services.values():
        assert rest_predict(service, {"data": {"ndarray": [[1.0]]}}).status_code == 200

    backend.server.kill()
    for service in services.values():
        assert_both_transports_fail(
            service, [[1.0]], 503, grpc.StatusCode.UNAVAILABLE, "unavailable"
        )
        health = requests.get(f"{service.http_url}/health/status", timeout=30)
        assert health.status_code == 503

    again = restart_on_same_ports(backend, log_dir)
    try:
        for service in services.values():
            deadline = time.monotonic() + 30
            reply = eventually(
                partial(_rest_answered, service),
                30,
                interval_s=0.2,
                awaited="REST recovery (a 200, 503s meanwhile)",
            )
            assert reply.json()["data"]["ndarray"] == [[2.5]]
            # Seldon serves gRPC from another process, with its own channel to TF Serving:
            # it recovers on its own reconnect schedule, and answers UNAVAILABLE until then.
            # Both recoveries share the 30 s.
            eventually(
                partial(_grpc_answered, service),
                deadline - time.monotonic(),
                interval_s=0.2,
                awaited="gRPC recovery (OK, UNAVAILABLE meanwhile) in what is left of the 30 s",
            )
            assert requests.get(f"{service.http_url}/health/status", timeout=30).ok
    finally:
        again.stop()


def _rest_answered(service: Microservice) -> requests.Response | None:
    """The prediction's reply once it is a 200; every other answer must be a 503."""
    reply = rest_predict(service, {"data": {"ndarray": [[1.0]]}})
    if reply.status_code == 200:
        return reply
    assert reply.status_code == 503, reply.text
    return None


def _grpc_answered(service: Microservice) -> bool:
    """Whether the gRPC prediction is answered OK; every other answer must be UNAVAILABLE."""
    code = grpc_predict_status(service, ndarray_message([[1.0]]))[0]
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE), code
    return bool(code == grpc.StatusCode.OK)


def test_a_microservice_started_before_tf_serving_waits_for_it(log_dir: Path) -> None:
    """In a pod both containers start together: /metadata waits (ready_timeout_s) for the model."""
    grpc_port, rest_port = free_port(), free_port()
    service = start_microservice(
        log_dir,
        MODEL_CLASS,
        parameters=seldon_parameters(
            model_name="half_plus_two",
            grpc_endpoint=f"127.0.0.1:{grpc_port}",
            rest_endpoint=f"http://127.0.0.1:{rest_port}",
            ready_timeout_s=120.0,
        ),
        wait_ready=False,
    )
    model_dir = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
    backend = ServerProcess(
        "late-backend",
        backend_argv(
            SERVE_MODELS,
            grpc_port,
            rest_port,
            ["--model_name=half_plus_two", f"--model_base_path={model_dir}"],
        ),
        log_dir / "late-backend.log",
    )
    try:
        time.sleep(3)  # the microservice is already up to its wait
        backend.start()
        wait_until_ready(service, timeout_s=180)
        metadata = requests.get(f"{service.http_url}/metadata", timeout=30).json()
        assert metadata["versions"] == ["123"]
        assert metadata["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}]
        assert requests.get(f"{service.http_url}/health/status", timeout=30).ok
        reply = rest_predict(service, {"data": {"ndarray": [[4.0]]}})
        assert reply.status_code == 200 and reply.json()["data"]["ndarray"] == [[4.0]]
    finally:
        service.server.stop()
        backend.stop()
