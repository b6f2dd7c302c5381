"""The sink over HTTP: malformed events dead-lettered with the reason (a 4xx, never a 5xx),
TF Serving bodies (JSON and serialized protos) read into rows, memory bounded, files atomic,
and a `log-sink` process stopped by SIGTERM mid-stream losing nothing it answered 200."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from seldon_tfserving.logs.dead_letter import read_dead_letters
from seldon_tfserving.logs.reader import read_rows
from seldon_tfserving.logs.server import SinkService
from seldon_tfserving.logs.sink import LogSink, SinkSettings, load_proto_readers
from tests.logs.events import body, executor_headers
from tests.logs.sink_process import wait_until_sink_ready
from tests.servers import PROJECT_ROOT, VENV_BIN, free_port
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SinkService]:
    load_proto_readers()  # as `log-sink` does before it listens: they import TensorFlow
    started = SinkService(LogSink(SinkSettings(tmp_path, batch_rows=50, batch_s=0.3, settle_s=0.1)))
    started.start()
    yield started
    started.stop()


def post(service: SinkService, headers: dict[str, str], data: bytes) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{service.port}/", data=data, headers=headers, timeout=30
    )


def test_malformed_events_are_dead_lettered_with_their_reason(
    service: SinkService, tmp_path: Path
) -> None:
    good = {"data": {"ndarray": [[1.0]]}}
    cases = [
        ({"Content-Type": "application/json"}, body(good), "no Ce-* headers"),
        ({**executor_headers("request", "r1"), "Ce-Type": "com.example"}, body(good), "Ce-Type"),
        ({**executor_headers("request", "r1"), "Ce-Requestid": ""}, body(good), "Requestid"),
        ({**executor_headers("request", "r1"), "Ce-Time": "yesterday"}, body(good), "CloudEvent"),
        (executor_headers("request", "r1"), b"{not json", "not JSON"),
        (
            executor_headers("response", "r1"),
            body({"data": {"tensor": {"shape": [2], "values": [1]}}}),
            "shape",
        ),
        (executor_headers("feedback", "r1"), body({"reward": "high"}), "reward"),
        (executor_headers("request", "r1", protocol="tensorflow"), body({"rows": []}), "instances"),
        (
            executor_headers(
                "response", "r1", protocol="tensorflow", content_type="application/protobuf"
            ),
            b"\xff\xff\xff",
            "protobuf",
        ),
    ]
    for headers, data, reason in cases:
        reply = post(service, headers, data)
        assert reply.status_code == 400, (reason, reply.text)
        assert reason in reply.text
    letters = read_dead_letters(tmp_path)
    assert len(letters) == len(cases)
    for letter, (_, _, reason) in zip(letters, cases, strict=True):
        assert reason in str(letter["reason"])
    metrics = requests.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
    assert f"seldon_tfserving_log_sink_events_dead_lettered_total {float(len(cases))}" in metrics
    # a good event after them is still taken
    assert post(service, executor_headers("request", "r2"), body(good)).status_code == 200


def test_tf_serving_bodies_json_and_protos_become_rows(
    service: SinkService, tmp_path: Path
) -> None:
    from tensorflow_serving.apis import predict_pb2

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto

    tf = {"protocol": "tensorflow"}
    rest_request = {"instances": [{"age": 31, "city": "Paris"}, {"age": 45, "city": "Oslo"}]}
    rest_answer = {"predictions": [[0.1], [0.7]]}
    assert post(service, executor_headers("request", "a", **tf), body(rest_request)).ok
    assert post(service, executor_headers("response", "a", **tf), body(rest_answer)).ok
    grpc_request = predict_pb2.PredictRequest()
    grpc_request.model_spec.name = "half_plus_two"
    grpc_request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array([[1.0], [3.0]], np.float32)))
    grpc_answer = predict_pb2.PredictResponse()
    grpc_answer.model_spec.name = "half_plus_two"
    grpc_answer.model_spec.version.value = 123
    grpc_answer.outputs["y"].CopyFrom(ndarray_to_tensor_proto(np.array([[2.5], [3.5]], np.float32)))
    proto = {"protocol": "tensorflow", "content_type": "application/protobuf"}
    assert post(
        service, executor_headers("request", "g", **proto), grpc_request.SerializeToString()
    ).ok
    assert post(
        service, executor_headers("response", "g", **proto), grpc_answer.SerializeToString()
    ).ok
    service.stop()
    rows = {(r["request_id"], r["instance"]): r for r in read_rows(tmp_path).to_pylist()}
    assert rows[("a", 0)]["feature:age"] == 31 and rows[("a", 1)]["feature:city"] == "Oslo"
    assert rows[("a", 1)]["prediction_value"] == pytest.approx(0.7)
    assert rows[("a", 0)]["model_version"] is None  # TF's REST answer names no version
    assert rows[("g", 1)]["feature:x_0"] == 3.0
    assert rows[("g", 1)]["prediction_value"] == 3.5
    assert rows[("g", 0)]["model_name"] == "half_plus_two"
    assert rows[("g", 0)]["model_version"] == "123"
    assert {r["protocol"] for r in rows.values()} == {"tensorflow"}


def test_memory_is_bounded_and_no_half_file_is_visible(tmp_path: Path) -> None:
    sink = LogSink(SinkSettings(tmp_path, batch_rows=40, batch_s=60, settle_s=60, max_pending=10))
    for i in range(100):
        sink.receive(executor_headers("request", f"r{i}"), body({"data": {"ndarray": [[i]]}}))
        assert len(sink.joiner) <= 10
    # past max_pending the oldest predictions were written, in batches of 40 rows
    assert sink.store.files_written == 2
    sink.stop()
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files and all(name.startswith("part-") and name.endswith(".parquet") for name in files)
    values = sorted(r["feature:f0"] for r in read_rows(tmp_path).to_pylist())
    assert values == list(range(100))


def test_sigterm_mid_stream_loses_nothing_that_was_answered(tmp_path: Path) -> None:
    port = free_port()
    sink = subprocess.Popen(
        [
            str(VENV_BIN / "seldon-tfserving"),
            "log-sink",
            "--dir",
            str(tmp_path / "logs"),
            "--port",
            str(port),
            "--batch-seconds",
            "30",
            "--settle-seconds",
            "30",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    wait_until_sink_ready(url, sink)
    answered: list[int] = []
    lock = threading.Lock()

    def sender(start: int) -> None:
        session = requests.Session()
        for i in range(start, start + 100_000, 4):
            try:
                reply = session.post(
                    url,
                    data=body({"data": {"names": ["i"], "ndarray": [[i]]}}),
                    headers=executor_headers("request", f"r{i}"),
                    timeout=10,
                )
            except requests.RequestException:
                return  # the sink went away: that event was never answered
            if reply.status_code != 200:
                return
            with lock:
                answered.append(i)

    senders = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for thread in senders:
        thread.start()
    eventually(
        lambda: len(answered) >= 300,
        120,
        awaited="300 events answered 200",
        detail=lambda: f"{len(answered)} answered",
    )
    os.kill(sink.pid, signal.SIGTERM)
    for thread in senders:
        thread.join(timeout=60)
    assert sink.wait(timeout=60) == 0
    written = {int(r["feature:i"]) for r in read_rows(tmp_path / "logs").to_pylist()}
    assert set(answered) <= written
    assert len(answered) >= 300


def test_feedback_without_a_reward_is_a_reward_of_0_as_in_seldons_proto(tmp_path: Path) -> None:
    sink = LogSink(SinkSettings(tmp_path, settle_s=60))
    request = body({"data": {"ndarray": [[1.0], [2.0]]}})
    assert sink.receive(executor_headers("request", "p"), request).status == 200
    feedback = body({"response": {"meta": {"puid": "p"}}, "truth": {"data": {"ndarray": [0, 1]}}})
    assert sink.receive(executor_headers("feedback", "f"), feedback).status == 200
    sink.stop()
    rows = sorted(read_rows(tmp_path).to_pylist(), key=lambda r: r["instance"])
    assert [(r["reward"], r["truth"]) for r in rows] == [(0.0, "0"), (0.0, "1")]
