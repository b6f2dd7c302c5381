"""The backend stays up and correct: garbage, oversized bodies, keep-alive, concurrency, SIGTERM,
and the tensorflow_model_server flag form the k8s manifests use."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from tests.servers import VENV_BIN, Backend, start_backend
from tests.waiting import eventually

LIMIT = 64 * 1024
PREDICT = "/v1/models/hp2:predict"


@pytest.fixture(scope="module")
def limited(log_dir: Path, tfserving_testdata: Path) -> Iterator[Backend]:
    """half_plus_two as `hp2`, real flags as the binary takes them (`--flag=value`, a bare
    boolean), a 64 KiB body limit."""
    server = start_backend(
        log_dir,
        [
            "--model_name=hp2",
            f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_two_cpu'}",
            "--enable_batching",
            "--file_system_poll_wait_seconds=1",
            "--rest_api_num_threads=4",
            "--grpc_max_threads=8",
            "--enable_model_warmup=false",
            "--tensorflow_intra_op_parallelism=1",
            f"--max_request_bytes={LIMIT}",
        ],
        name="limited",
        ready_model="hp2",
    )
    yield server
    server.server.stop()


def good_answer(backend: Backend) -> None:
    reply = requests.post(
        f"{backend.rest_endpoint}{PREDICT}", json={"instances": [1.0, 2.0, 5.0]}, timeout=30
    )
    assert reply.json() == {"predictions": [2.5, 3.0, 4.5]}


def raw_exchange(backend: Backend, data: bytes) -> bytes:
    """Send raw bytes on a fresh connection; return what the server answers before closing."""
    with socket.create_connection(("127.0.0.1", backend.rest_port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in chunks[0]:
                break
        return b"".join(chunks)


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01\x02garbage",
        b"{",
        b'{"instances": [1.0, "two"]}',
        b'{"instances": [[1.0], [2.0, 3.0]]}',
        b'{"instances": [1.0], "signature_name": "no_such_signature"}',
        b'{"inputs": {"x": [1.0]}, "instances": [1.0]}',
        b"[" * 100_000,
        b'{"instances": [' + b"1e999999," * 10 + b"1]}",
        '{"instances": ["\udcff"]}'.encode("utf-8", "surrogatepass"),
    ],
)
def test_bad_bodies_get_a_4xx_and_the_next_request_works(limited: Backend, body: bytes) -> None:
    reply = requests.post(f"{limited.rest_endpoint}{PREDICT}", data=body, timeout=30)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["error"]
    good_answer(limited)


def test_body_over_the_limit_is_refused_from_its_content_length(limited: Backend) -> None:
    reply = requests.post(
        f"{limited.rest_endpoint}{PREDICT}",
        data=json.dumps({"instances": [1.0] * LIMIT}),
        timeout=30,
    )
    assert reply.status_code == 413
    assert "exceeds the limit" in reply.json()["error"]
    # A client announcing a huge body gets its answer without sending it.
    answer = raw_exchange(
        limited,
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 413")
    # ... and one asking `Expect: 100-continue` is refused instead of invited to send it.
    answer = raw_exchange(
        limited,
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer
    small = b'{"instances": [1.0]}'
    answer = raw_exchange(
        limited,
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        f"Content-Length: {len(small)}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 100 Continue")
    good_answer(limited)


def test_chunked_bodies_are_read_and_limited(limited: Backend) -> None:
    def chunks(payload: bytes) -> Iterator[bytes]:
        for start in range(0, len(payload), 7):
            yield payload[start : start + 7]

    reply = requests.post(
        f"{limited.rest_endpoint}{PREDICT}", data=chunks(b'{"instances": [1.0, 2.0]}'), timeout=30
    )
    assert reply.json() == {"predictions": [2.5, 3.0]}
    big = json.dumps({"instances": [1.0] * LIMIT}).encode()
    refused = requests.post(f"{limited.rest_endpoint}{PREDICT}", data=chunks(big), timeout=30)
    assert refused.status_code == 413


def test_grpc_message_over_the_limit_is_resource_exhausted(limited: Backend) -> None:
    with grpc.insecure_channel(limited.grpc_endpoint) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "hp2"
        request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.ones((LIMIT, 1), np.float32)))
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.ones((3, 1), np.float32)))
        answer = stub.Predict(request, timeout=30)
        assert tensor_proto_to_ndarray(answer.outputs["y"]).tolist() == [[2.5]] * 3


def test_malformed_http_does_not_kill_the_server(limited: Backend) -> None:
    for junk in (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", b"GET\r\n\r\n", b"POST / HTTP/9.9\r\n"):
        raw_exchange(limited, junk)
    answer = raw_exchange(
        limited,
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 400")
    good_answer(limited)


def test_keep_alive_serves_many_requests_on_one_connection(limited: Backend) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", limited.rest_port, timeout=30)
    try:
        for value in range(20):
            body = json.dumps({"instances": [float(value)]})
            connection.request("POST", PREDICT, body, {"Content-Type": "application/json"})
            reply = connection.getresponse()
            assert reply.status == 200
            assert json.loads(reply.read()) == {"predictions": [value * 0.5 + 2]}
            if value == 10:  # an error answer keeps the connection too
                connection.request("POST", PREDICT, "{")
                bad = connection.getresponse()
                assert bad.status == 400
                bad.read()
        assert connection.sock is not None  # never reconnected
    finally:
        connection.close()


def test_concurrent_requests_over_rest_and_grpc_are_all_answered(limited: Backend) -> None:
    threads, per_thread = 8, 50
    failures: list[str] = []
    lock = threading.Lock()

    def rest_worker(worker: int) -> None:
        with requests.Session() as session:
            for i in range(per_thread):
                x = float(worker * 1000 + i)
                reply = session.post(
                    f"{limited.rest_endpoint}{PREDICT}", json={"instances": [x]}, timeout=60
                )
                if reply.status_code != 200 or reply.json() != {"predictions": [x * 0.5 + 2]}:
                    with lock:
                        failures.append(f"rest {worker}/{i}: {reply.status_code} {reply.text}")

    def grpc_worker(worker: int) -> None:
        with grpc.insecure_channel(limited.grpc_endpoint) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            for i in range(per_thread):
                x = np.array([[worker * 1000.0 + i]], np.float32)
                request = predict_pb2.PredictRequest()
                request.model_spec.name = "hp2"
                request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(x))
                y = tensor_proto_to_ndarray(stub.Predict(request, timeout=60).outputs["y"])
                if y.tolist() != (x * 0.5 + 2).tolist():
                    with lock:
                        failures.append(f"grpc {worker}/{i}: {y}")

    workers: list[Callable[[int], None]] = [rest_worker, grpc_worker]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        done = [pool.submit(workers[n % 2], n) for n in range(threads)]
        for future in done:
            future.result()
    assert failures == []


def test_sigterm_stops_the_server_cleanly(
    backend_factory: Callable[..., Backend], tfserving_testdata: Path
) -> None:
    server = backend_factory(
        [
            "--model_name=hp3",
            f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_three'}",
        ],
        ready_model="hp3",
        name="sigterm",
    )
    process: Any = server.server.process
    # The faces answer as soon as they listen; the start-up line follows a moment later.
    eventually(
        lambda: "serving on ports" in server.server.log_path.read_text(),
        10,
        awaited="the start-up line in the log",
        detail=server.server.log_tail,
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert "stopped" in server.server.log_path.read_text()


def test_bad_configuration_exits_with_a_message(log_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text('model_config_list { config { name: "x" base_path: "/nowhere" ')
    with pytest.raises(RuntimeError, match="model_config_file"):
        start_backend(log_dir, [f"--model_config_file={config}"], name="badconfig")


def test_other_http_methods_are_malformed_requests(limited: Backend) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        reply = requests.request(method, f"{limited.rest_endpoint}{PREDICT}", data="{}", timeout=30)
        assert reply.status_code == 400
        assert "Malformed request" in reply.json()["error"]
    good_answer(limited)


def test_a_broken_version_is_reported_and_the_good_one_served(
    backend_factory: Callable[..., Backend], generated_models: Path, tmp_path: Path
) -> None:
    base = tmp_path / "partly_broken"
    shutil.copytree(generated_models / "int64" / "1", base / "1")
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"this is not a SavedModel")
    config = tmp_path / "models.config"
    config.write_text(
        f'model_config_list {{ config {{ name: "pb" base_path: "{base}" '
        "model_version_policy { all {} } } }"
    )
    server = backend_factory(
        [f"--model_config_file={config}", "--max_num_load_retries=0"],
        ready_model="pb",
        name="broken",
    )
    status = requests.get(f"{server.rest_endpoint}/v1/models/pb", timeout=30).json()
    good, bad = status["model_version_status"]
    assert good == {
        "version": "1",
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }
    assert bad["version"] == "2" and bad["state"] == "END"
    assert bad["status"]["error_code"] != "OK" and bad["status"]["error_message"]
    reply = requests.post(
        f"{server.rest_endpoint}/v1/models/pb:predict", json={"instances": [2]}, timeout=30
    )
    assert reply.json() == {"predictions": [6]}
    missing = requests.post(
        f"{server.rest_endpoint}/v1/models/pb/versions/2:predict",
        json={"instances": [2]},
        timeout=30,
    )
    assert missing.status_code == 404


def test_a_port_in_use_exits_with_a_message(log_dir: Path, tfserving_testdata: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                str(VENV_BIN / "seldon-tfserving"),
                "serve-models",
                f"--port={port}",
                "--model_name=a",
                f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_two_cpu'}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
