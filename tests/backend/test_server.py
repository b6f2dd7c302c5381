"""BackendServer in process: the whole backend the command runs (models, both faces, pollers),
started on free ports and stopped as one, with nothing left behind."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.backend.config import read_model_config_file, single_model_config
from seldon_tfserving.backend.rest_service import IDLE_CONNECTION_TIMEOUT_S
from seldon_tfserving.backend.server import BackendServer, CannotListen
from seldon_tfserving.backend.server_options import ServerOptions
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.ports import free_port, port_is_free, port_open
from tests.servers import TFSERVING_TESTDATA
from tests.waiting import eventually

HOST = "127.0.0.1"
HALF_PLUS_TWO = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
SERVER_LOG = "seldon_tfserving.backend.server"


def half_plus_two() -> Any:
    """TF Serving's test model half_plus_two (y = x / 2 + 2) under the name `half`."""
    return single_model_config("half", str(HALF_PLUS_TWO))


def on_free_ports(**options: Any) -> ServerOptions:
    return ServerOptions(port=free_port(), rest_api_port=free_port(), **options)


def grpc_predict(server: BackendServer, x: list[float]) -> list[float]:
    with grpc.insecure_channel(f"{HOST}:{server.grpc_port}") as channel:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half"
        request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array(x, dtype=np.float32)))
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        answer = stub.Predict(request, timeout=30)
    return [float(y) for y in tensor_proto_to_ndarray(answer.outputs["y"])]


def rest_predict(session: requests.Session, server: BackendServer, x: list[float]) -> Any:
    url = f"http://{HOST}:{server.rest_port}/v1/models/half:predict"
    return session.post(url, json={"instances": x}, timeout=30).json()


def threads_started_since(before: set[threading.Thread]) -> list[str]:
    """The names of the threads alive now that are not in `before`."""
    return sorted(t.name for t in threading.enumerate() if t not in before)


def wait_until_threads_end(before: set[threading.Thread], timeout_s: float = 10.0) -> None:
    """Until every thread not in `before` has ended (gRPC's own serving thread ends a moment
    after its shutdown is reported)."""
    eventually(
        lambda: not threads_started_since(before),
        timeout_s,
        awaited="the threads started since gone",
        detail=lambda: f"still alive: {threads_started_since(before)}",
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=SERVER_LOG)
    return caplog


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SERVER_LOG]


def test_a_real_model_answers_over_grpc_and_rest_and_stop_leaves_no_thread_or_port(
    tmp_path: Path,
) -> None:
    config_file = tmp_path / "models.config"
    config_file.write_text(text_format.MessageToString(half_plus_two()))
    before = set(threading.enumerate())
    server = BackendServer(
        read_model_config_file(config_file),
        on_free_ports(
            file_system_poll_wait_seconds=0.1,
            model_config_file=config_file,
            model_config_file_poll_wait_seconds=0.1,
        ),
    )
    server.start()
    try:
        assert server.serving
        assert grpc_predict(server, [1.0, 2.0, 5.0]) == [2.5, 3.0, 4.5]
        # A keep-alive connection stays open across the stop: stopping must still end its thread.
        with requests.Session() as session:
            assert rest_predict(session, server, [1.0, 2.0, 5.0]) == {
                "predictions": [2.5, 3.0, 4.5]
            }
            running = {t.name for t in threading.enumerate()}
            assert {"rest", "version-poller", "config-poller"} <= running
            stopping = time.monotonic()
            server.stop()
            assert time.monotonic() - stopping < IDLE_CONNECTION_TIMEOUT_S / 4  # not waited out
            assert not server.serving
            wait_until_threads_end(before)
    finally:
        server.stop()
    assert port_is_free(HOST, server.grpc_port) and port_is_free(HOST, server.rest_port)


def test_stop_twice_or_before_start_is_safe_and_a_stopped_server_starts_again(
    server_log: pytest.LogCaptureFixture,
) -> None:
    server = BackendServer(half_plus_two(), on_free_ports(file_system_poll_wait_seconds=0))
    server.stop()
    for _ in range(2):
        with server, requests.Session() as session:
            assert rest_predict(session, server, [4.0]) == {"predictions": [4.0]}
        server.stop()
        assert not port_open(server.grpc_port) and not port_open(server.rest_port)
    assert messages(server_log).count("stopped") == 2


@pytest.mark.parametrize("face", ["gRPC", "REST"])
def test_a_port_that_cannot_be_bound_fails_as_the_command_reports_and_leaves_nothing(
    face: str, taken_port: int
) -> None:
    other_port = free_port()
    grpc_port, rest_port = (taken_port, other_port) if face == "gRPC" else (other_port, taken_port)
    before = set(threading.enumerate())
    server = BackendServer(half_plus_two(), ServerOptions(port=grpc_port, rest_api_port=rest_port))
    with pytest.raises(CannotListen, match=f"cannot bind the {face} port {HOST}:{taken_port}"):
        server.start()
    assert not server.serving
    wait_until_threads_end(before)
    assert port_is_free(HOST, other_port)
    server.stop()


def test_a_unix_socket_that_cannot_be_made_gives_the_grpc_port_back(tmp_path: Path) -> None:
    options = on_free_ports(grpc_socket_path=str(tmp_path / "missing" / "grpc.sock"))
    server = BackendServer(half_plus_two(), options)
    with pytest.raises(CannotListen, match="UNIX socket"):
        server.start()
    assert port_is_free(HOST, options.port) and port_is_free(HOST, options.rest_api_port)


def test_a_bad_config_fails_when_the_server_is_made_before_anything_loads(tmp_path: Path) -> None:
    config = half_plus_two()
    config.model_config_list.config[0].version_labels["stable"] = 7
    with pytest.raises(ConfigurationError, match="label 'stable' points to version 7"):
        BackendServer(config, on_free_ports())


def test_serve_until_signal_serves_until_sigterm_then_stops_and_puts_the_handler_back(
    server_log: pytest.LogCaptureFixture,
) -> None:
    server = BackendServer(half_plus_two(), on_free_ports())
    previous = signal.getsignal(signal.SIGTERM)
    answers: list[Any] = []

    def ask_then_send_sigterm() -> None:
        # the handler is in before any port opens
        eventually(lambda: port_open(server.rest_port), 120, awaited="the REST port open")
        with requests.Session() as session:
            answers.append(rest_predict(session, server, [2.0]))
        os.kill(os.getpid(), signal.SIGTERM)

    client = threading.Thread(target=ask_then_send_sigterm)
    client.start()
    server.serve_until_signal()
    client.join(timeout=30)
    assert answers == [{"predictions": [3.0]}]
    assert not server.serving
    assert signal.getsignal(signal.SIGTERM) is previous
    said = messages(server_log)
    assert any(m.startswith(f"serving on ports grpc={server.grpc_port} rest=") for m in said)
    assert said[-2:] == [f"signal {int(signal.SIGTERM)}: shutting down", "stopped"]
