"""Seldon's own clients send DT_DOUBLE tftensors; the wrapper converts them for the input's dtype.

SeldonClient turns every float array into a DT_DOUBLE tftensor (`tf.make_tensor_proto`), and
`seldon-batch-processor -p tftensor` is SeldonClient row by row: against half_plus_two's
DT_FLOAT `x` every row used to fail (TF Serving refuses the dtype). Now a tftensor whose values
all fit is converted (rounded to the nearest float, as JSON numbers are), over Seldon REST and
gRPC and towards TF Serving over gRPC and REST; one of the input's dtype still goes as it came
(`test_model_payloads.py::test_int64_tftensor_arrives_exactly`), and a lossy one is refused.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import tensorflow as tf
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2
from tensorflow.core.framework.tensor_pb2 import TensorProto

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from tests.model.calls import SELDON_TRANSPORTS, grpc_predict_status, seldon_predict
from tests.model.conftest import ServeModels
from tests.servers import VENV_BIN, Backend, Microservice

X = np.array([[1.0], [2.0], [5.0], [0.1]])  # float64, as SeldonClient is given data


@pytest.fixture(scope="module")
def half(serve_models: ServeModels, backend: Backend) -> dict[str, Microservice]:
    return serve_models(
        backend,
        grpc={"model_name": "half_plus_two", "extra_args": ["--threads", "4"]},
        rest={"model_name": "half_plus_two", "transport": "rest", "extra_args": ["--threads", "4"]},
    )


@pytest.fixture(scope="module")
def int64(serve_models: ServeModels, generated_backend: Backend) -> Microservice:
    return serve_models(generated_backend, int64={"model_name": "int64", "transport": "rest"})[
        "int64"
    ]


@pytest.mark.parametrize("tf_transport", ["grpc", "rest"], ids=lambda t: f"tf-{t}")
@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_seldon_clients_double_tftensor_feeds_a_float_input(
    half: dict[str, Microservice], tf_transport: str, transport: str
) -> None:
    answer = seldon_predict(half[tf_transport], transport, data=X, payload_type="tftensor")
    assert answer.data.WhichOneof("data_oneof") == "tftensor"
    output = tf.make_ndarray(answer.data.tftensor)
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, X.astype(np.float32) / 2 + 2)


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_whole_doubles_feed_an_int64_input_and_fractions_are_refused(
    int64: Microservice, transport: str
) -> None:
    answer = seldon_predict(int64, transport, data=np.array([4.0, -1.0]), payload_type="tftensor")
    output = tf.make_ndarray(answer.data.tftensor)
    assert output.dtype == np.int64 and output.tolist() == [12, -3]

    fractional = ndarray_to_tensor_proto(np.array([4.5]))
    if transport == "rest":
        reply = requests.post(
            f"{int64.http_url}/api/v1.0/predictions",
            json={"data": {"tftensor": json_format.MessageToDict(fractional)}},
            timeout=30,
        )
        assert reply.status_code == 400, reply.text
        status = reply.json()["status"]
        assert status["reason"] == "MICROSERVICE_BAD_DATA"
        assert "expects DT_INT64; the DT_DOUBLE tftensor given holds 4.5" in status["info"]
    else:
        message = prediction_pb2.SeldonMessage()
        message.data.tftensor.CopyFrom(fractional)
        code, details = grpc_predict_status(int64, message)
        assert code.name == "INVALID_ARGUMENT" and "holds 4.5, not a whole number" in details


@pytest.mark.parametrize("tf_transport", ["grpc", "rest"], ids=lambda t: f"tf-{t}")
def test_seldon_batch_processor_sends_every_row_as_a_tftensor_and_each_is_answered(
    half: dict[str, Microservice], tf_transport: str, tmp_path: Path
) -> None:
    """The real `seldon-batch-processor`, as a Seldon user runs it against the component."""
    rows = [float(i) + 0.25 for i in range(40)]
    source = tmp_path / "input.txt"
    source.write_text("".join(f"[[{x}]]\n" for x in rows))
    target = tmp_path / "output.txt"
    service = half[tf_transport]
    finished = subprocess.run(
        [
            str(VENV_BIN / "seldon-batch-processor"),
            "--deployment-name=half-plus-two",
            "--gateway-type=seldon",
            f"--host={service.http_url.removeprefix('http://')}",
            "--transport=rest",
            "--data-type=data",
            "--payload-type=tftensor",
            "--workers=4",
            "--retries=1",
            f"--input-data-path={source}",
            f"--output-data-path={target}",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    answers = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(answers) == len(rows)
    failures = [answer for answer in answers if "data" not in answer]
    assert failures == [], failures[:3]
    by_index = {
        int(answer["meta"]["tags"]["batch_index"]): json_format.ParseDict(
            answer["data"]["tftensor"], TensorProto()
        )
        for answer in answers
    }
    assert sorted(by_index) == list(range(len(rows)))
    for index, proto in by_index.items():
        assert proto.dtype == tf.float32.as_datatype_enum
        assert tf.make_ndarray(proto).tolist() == [[rows[index] / 2 + 2]], index
