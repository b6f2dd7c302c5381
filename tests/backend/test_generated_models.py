"""The backend on the generated models: several inputs and outputs, int64, strings and `_bytes`,
a classifier, classify/regress on tf.Example with context, and deadlines on a slow model."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from tests.savedmodels import EXAMPLE_CLASSES, SLOW_DELAY_MS, classifier_expected
from tests.servers import Backend, start_backend


def post(backend: Backend, model: str, verb: str, body: Any) -> requests.Response:
    return requests.post(
        f"{backend.rest_endpoint}/v1/models/{model}:{verb}", data=json.dumps(body), timeout=30
    )


@pytest.fixture(scope="module")
def stub(generated_backend: Backend) -> Iterator[Any]:
    with grpc.insecure_channel(generated_backend.grpc_endpoint) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def grpc_predict(
    stub: Any, model: str, inputs: dict[str, np.ndarray], output_filter: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    request = predict_pb2.PredictRequest(output_filter=list(output_filter))
    request.model_spec.name = model
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(ndarray_to_tensor_proto(array))
    response = stub.Predict(request, timeout=30)
    return {name: tensor_proto_to_ndarray(t) for name, t in response.outputs.items()}


class TestMultipleInputsAndOutputs:
    A = [[1.0, 2.0], [3.0, 4.0]]
    B = [[10.0, 20.0], [0.5, -1.0]]

    def test_row_format_names_every_output_per_instance(self, generated_backend: Backend) -> None:
        body = {"instances": [{"a": a, "b": b} for a, b in zip(self.A, self.B, strict=True)]}
        reply = post(generated_backend, "multi_io", "predict", body)
        assert reply.json() == {
            "predictions": [
                {"product": [10.0, 40.0], "sum": [11.0, 22.0]},
                {"product": [1.5, -4.0], "sum": [3.5, 3.0]},
            ]
        }

    def test_columnar_format(self, generated_backend: Backend) -> None:
        body = {"inputs": {"a": self.A, "b": self.B}}
        reply = post(generated_backend, "multi_io", "predict", body)
        assert reply.json() == {
            "outputs": {"product": [[10.0, 40.0], [1.5, -4.0]], "sum": [[11.0, 22.0], [3.5, 3.0]]}
        }

    def test_a_plain_list_is_refused_for_two_inputs(self, generated_backend: Backend) -> None:
        reply = post(generated_backend, "multi_io", "predict", {"instances": self.A})
        assert reply.status_code == 400
        assert "instances is a plain list" in reply.json()["error"]

    def test_grpc_output_filter(self, stub: Any) -> None:
        a, b = np.array(self.A, np.float32), np.array(self.B, np.float32)
        everything = grpc_predict(stub, "multi_io", {"a": a, "b": b})
        assert set(everything) == {"sum", "product"}
        only = grpc_predict(stub, "multi_io", {"a": a, "b": b}, ("product",))
        assert set(only) == {"product"}
        np.testing.assert_array_equal(only["product"], a * b)
        for bad, message in ((("nope",), "alias not found"), (("sum", "sum"), "duplicate")):
            with pytest.raises(grpc.RpcError) as caught:
                grpc_predict(stub, "multi_io", {"a": a, "b": b}, bad)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert message in caught.value.details()


class TestTypes:
    def test_int64_is_exact_beyond_float_precision(
        self, generated_backend: Backend, stub: Any
    ) -> None:
        values = [1, -2, 2**53 + 1]
        reply = post(generated_backend, "int64", "predict", {"instances": values})
        assert reply.json() == {"predictions": [3 * v for v in values]}
        refused = post(generated_backend, "int64", "predict", {"instances": [1.5]})
        assert refused.status_code == 400
        assert "not of expected type: int64" in refused.json()["error"]
        outputs = grpc_predict(stub, "int64", {"x": np.array(values, dtype=np.int64)})
        assert outputs["y"].dtype == np.int64
        assert outputs["y"].tolist() == [3 * v for v in values]

    def test_strings_in_and_out_as_utf8_text(self, generated_backend: Backend) -> None:
        body = {"instances": ["hello", "héllo", {"b64": base64.b64encode(b"b64 in").decode()}]}
        reply = post(generated_backend, "strings", "predict", body)
        assert reply.json() == {
            "predictions": [
                {"length": 5, "upper": "HELLO"},
                {"length": 6, "upper": "HéLLO"},
                {"length": 6, "upper": "B64 IN"},
            ]
        }

    def test_bytes_outputs_come_back_as_b64(self, generated_backend: Backend, stub: Any) -> None:
        raw = [b"\x00\xff\x10", b"plain"]
        body = {"inputs": [{"b64": base64.b64encode(v).decode()} for v in raw]}
        reply = post(generated_backend, "echo_bytes", "predict", body)
        assert reply.json() == {
            "outputs": {
                "data_bytes": [{"b64": base64.b64encode(v).decode()} for v in raw],
                "size": [3, 5],
            }
        }
        outputs = grpc_predict(stub, "echo_bytes", {"data_bytes": np.array(raw, dtype=object)})
        assert outputs["data_bytes"].tolist() == raw

    def test_classifier_scores_and_classes(self, generated_backend: Backend) -> None:
        x = np.array(
            [[5.0, 0.1, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 4.0, 1.0]], dtype=np.float32
        )
        reply = post(generated_backend, "classifier", "predict", {"instances": x.tolist()})
        scores, classes = classifier_expected(x)
        rows = reply.json()["predictions"]
        assert [row["classes"] for row in rows] == [c.decode() for c in classes]
        np.testing.assert_allclose([row["scores"] for row in rows], scores, rtol=1e-6)


class TestExamples:
    def test_regress_is_the_default_signature(self, generated_backend: Backend) -> None:
        reply = post(generated_backend, "examples", "regress", {"examples": [{"x": 4.0}]})
        assert reply.json() == {"results": [4.0]}

    def test_classify_labels_and_scores(self, generated_backend: Backend) -> None:
        reply = post(
            generated_backend,
            "examples",
            "classify",
            {"signature_name": "classify_x", "examples": [{"x": 0.0}, {"x": 100.0}]},
        )
        low, high = (label.decode() for label in EXAMPLE_CLASSES)
        assert reply.json() == {"results": [[[low, 0.5], [high, 0.5]], [[low, 0.0], [high, 1.0]]]}

    def test_context_features_fill_in_and_examples_win(self, generated_backend: Backend) -> None:
        body = {"context": {"x": 2.0}, "examples": [{}, {"x": 6.0}]}
        reply = post(generated_backend, "examples", "regress", body)
        assert reply.json() == {"results": [3.0, 5.0]}

    def test_predict_on_a_regress_signature_takes_serialized_examples(
        self, generated_backend: Backend
    ) -> None:
        reply = post(
            generated_backend,
            "examples",
            "predict",
            {"signature_name": "predict_x", "instances": [2.0, 4.0]},
        )
        assert reply.json() == {"predictions": [3.0, 4.0]}

    def test_classify_on_a_regress_signature_is_refused(self, generated_backend: Backend) -> None:
        reply = post(generated_backend, "examples", "classify", {"examples": [{"x": 1.0}]})
        assert reply.status_code == 400
        assert "Expected classification signature method_name" in reply.json()["error"]


@pytest.fixture(scope="module")
def impatient(log_dir: Path, generated_models: Path) -> Iterator[Backend]:
    """The slow model behind a REST timeout shorter than one call."""
    server = start_backend(
        log_dir,
        [
            "--model_name=slow",
            f"--model_base_path={generated_models / 'slow'}",
            "--rest_api_timeout_in_ms=100",
        ],
        name="impatient",
        ready_model="slow",
    )
    yield server
    server.server.stop()


class TestDeadlines:
    def test_slow_model_answers_within_a_generous_timeout(self, generated_backend: Backend) -> None:
        started = time.monotonic()
        reply = post(generated_backend, "slow", "predict", {"instances": [1.0, 2.0]})
        assert reply.json() == {"predictions": [2.0, 3.0]}
        assert time.monotonic() - started >= SLOW_DELAY_MS / 1000

    def test_rest_timeout_is_504_and_the_server_keeps_serving(self, impatient: Backend) -> None:
        started = time.monotonic()
        reply = post(impatient, "slow", "predict", {"instances": [1.0]})
        assert reply.status_code == 504
        assert "error" in reply.json()
        assert time.monotonic() - started < SLOW_DELAY_MS / 1000
        status = requests.get(f"{impatient.rest_endpoint}/v1/models/slow", timeout=10)
        assert status.json()["model_version_status"][0]["state"] == "AVAILABLE"

    def test_grpc_deadline_is_deadline_exceeded(self, impatient: Backend) -> None:
        call: Callable[..., Any]
        with grpc.insecure_channel(impatient.grpc_endpoint) as channel:
            call = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "slow"
            request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.ones(1, np.float32)))
            with pytest.raises(grpc.RpcError) as caught:
                call(request, timeout=0.1)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            answer = call(request, timeout=30)
            assert tensor_proto_to_ndarray(answer.outputs["y"]).tolist() == [2.0]
