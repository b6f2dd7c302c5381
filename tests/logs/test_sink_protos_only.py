"""A started `log-sink` runs without TensorFlow's Python runtime (only its generated protos) and
still reads every body kind: Seldon JSON and protos (tftensor included, feedback too) and TF
Serving JSON and protos; what it loaded is reported by the process itself once it stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from seldon_tfserving.logs.reader import read_rows
from tests.logs.events import body, executor_headers
from tests.logs.sink_process import wait_until_sink_ready
from tests.servers import PROJECT_ROOT, free_port

pytestmark = pytest.mark.timeout(300)

MARK = "modules:"
#: the sink's own entry (`seldon-tfserving log-sink`), then what the process had imported
SINK_THEN_MODULES = f"""
import json, sys
from seldon_tfserving.cli import main
from seldon_tfserving.tensorflow_protos_only import is_protos_only
code = main(sys.argv[1:])
print({MARK!r}, json.dumps({{
    "tensorflow_python": sorted(m for m in sys.modules if m.startswith("tensorflow.python")),
    "protos_only": is_protos_only(sys.modules["tensorflow"]),
}}), flush=True)
sys.exit(code)
"""


def seldon_proto_events() -> list[tuple[dict[str, str], bytes]]:
    from seldon_core.proto import prediction_pb2

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto

    proto = {"content_type": "application/protobuf"}
    request = prediction_pb2.SeldonMessage()
    request.data.names.extend(["a", "b"])
    tensor = ndarray_to_tensor_proto(np.array([[5.0, 6.0]], np.float32))
    request.data.tftensor.ParseFromString(tensor.SerializeToString())
    answer = prediction_pb2.SeldonMessage()
    answer.data.tensor.shape.extend([1])
    answer.data.tensor.values.extend([0.25])
    answer.meta.tags["tfserving_version"].string_value = "7"
    feedback = prediction_pb2.Feedback(reward=1.0)
    feedback.response.meta.puid = "sp"
    return [
        (executor_headers("request", "sp", **proto), request.SerializeToString()),
        (executor_headers("response", "sp", **proto), answer.SerializeToString()),
        (executor_headers("feedback", "spf", **proto), feedback.SerializeToString()),
    ]


def tf_proto_events() -> list[tuple[dict[str, str], bytes]]:
    from tensorflow_serving.apis import predict_pb2

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto

    proto = {"protocol": "tensorflow", "content_type": "application/protobuf"}
    request = predict_pb2.PredictRequest()
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array([[3.0]], np.float32)))
    answer = predict_pb2.PredictResponse()
    answer.model_spec.name = "half_plus_two"
    answer.model_spec.version.value = 2
    answer.outputs["y"].CopyFrom(ndarray_to_tensor_proto(np.array([[3.5]], np.float32)))
    return [
        (executor_headers("request", "tp", **proto), request.SerializeToString()),
        (executor_headers("response", "tp", **proto), answer.SerializeToString()),
    ]


def json_events() -> list[tuple[dict[str, str], bytes]]:
    tf = {"protocol": "tensorflow"}
    return [
        (executor_headers("request", "sj"), body({"data": {"names": ["a"], "ndarray": [[1.5]]}})),
        (executor_headers("response", "sj"), body({"data": {"ndarray": [[0.5]]}})),
        (executor_headers("request", "tj", **tf), body({"instances": [{"age": 31}]})),
        (executor_headers("response", "tj", **tf), body({"predictions": [0.9]})),
    ]


def test_a_started_sink_has_no_tensorflow_runtime_and_reads_every_body_kind(
    tmp_path: Path,
) -> None:
    port = free_port()
    argv = ["log-sink", "--dir", str(tmp_path), "--port", str(port), "--settle-seconds", "0.2"]
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK_THEN_MODULES, *argv],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_sink_ready(url, sink)
        events = json_events() + seldon_proto_events() + tf_proto_events()
        for headers, data in events:
            reply = requests.post(url, data=data, headers=headers, timeout=30)
            assert reply.status_code == 200, (headers["Ce-Requestid"], reply.text)
    finally:
        sink.send_signal(signal.SIGTERM)
        output, _ = sink.communicate(timeout=60)
    assert sink.returncode == 0, output
    loaded = json.loads(output.split(MARK, 1)[1])
    assert loaded == {"tensorflow_python": [], "protos_only": True}
    rows = {r["request_id"]: r for r in read_rows(tmp_path).to_pylist()}
    assert rows["sj"]["feature:a"] == 1.5 and rows["sj"]["prediction_value"] == 0.5
    assert (rows["sp"]["feature:a"], rows["sp"]["feature:b"]) == (5.0, 6.0)
    assert rows["sp"]["prediction_value"] == 0.25 and rows["sp"]["model_version"] == "7"
    assert rows["sp"]["reward"] == 1.0  # the proto feedback, joined by its puid
    assert rows["tj"]["feature:age"] == 31 and rows["tj"]["prediction_value"] == 0.9
    assert rows["tp"]["feature:x_0"] == 3.0 and rows["tp"]["prediction_value"] == 3.5
    assert (rows["tp"]["model_name"], rows["tp"]["model_version"]) == ("half_plus_two", "2")
