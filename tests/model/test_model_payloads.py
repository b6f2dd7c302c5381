"""Every Seldon payload kind, over Seldon REST and gRPC, to TF Serving over gRPC and REST.

Seldon's own `SeldonClient` is the referee: it builds the requests and parses the answers
exactly as any Seldon user would. The backend serves TF Serving's half_plus_two (y = x/2 + 2)
and the generated multi-input, string, bytes and int64 models.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable

import numpy as np
import pytest
import requests
import tensorflow as tf
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2
from tensorflow_serving.apis import predict_pb2

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from tests.model.calls import SELDON_TRANSPORTS, grpc_predict_status, seldon_predict, tags_of
from tests.model.conftest import ServeModels, seldon_parameters
from tests.servers import Backend, Microservice, scrape_settled, scrape_until

X = np.array([[1.0], [2.0], [5.0]])
Y = X / 2 + 2


@pytest.fixture(scope="module")
def half(serve_models: ServeModels, backend: Backend) -> dict[str, Microservice]:
    return serve_models(
        backend,
        # Several gunicorn workers and threads: each worker opens its own channel after the fork.
        grpc={
            "model_name": "half_plus_two",
            "extra_args": ["--workers", "2", "--threads", "4", "--grpc-threads", "4"],
        },
        rest={"model_name": "half_plus_two", "transport": "rest", "extra_args": ["--threads", "4"]},
    )


@pytest.fixture(params=["grpc", "rest"], ids=lambda t: f"tf-{t}")
def half_plus_two(request: pytest.FixtureRequest, half: dict[str, Microservice]) -> Microservice:
    """half_plus_two behind TfServingModel, talking to TF Serving over gRPC or REST."""
    return half[request.param]


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_ndarray_in_ndarray_out(half_plus_two: Microservice, transport: str) -> None:
    answer = seldon_predict(half_plus_two, transport, data=X, payload_type="ndarray")
    assert answer.data.WhichOneof("data_oneof") == "ndarray"
    np.testing.assert_allclose(json_format.MessageToDict(answer.data.ndarray), Y)
    assert tags_of(answer) == {
        "tfserving_model": "half_plus_two",
        "tfserving_version": "123",
        "tfserving_signature": "serving_default",
    }
    (metric,) = json_format.MessageToDict(answer.meta)["metrics"]
    assert metric["key"] == "tfserving_request_duration" and metric["type"] == "TIMER"
    assert metric["value"] > 0


def test_rest_predictions_of_json_bodies_are_answered_past_flask(
    half_plus_two: Microservice,
) -> None:
    """Seldon's executor (and our gateway) post a JSON body, which the predictions lane answers;
    SeldonClient's microservice call posts a form, which Seldon's Flask view answers."""
    reply = requests.post(
        f"{half_plus_two.http_url}/api/v1.0/predictions",
        json={"data": {"ndarray": X.tolist()}},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    by_lane = reply.json()
    np.testing.assert_allclose(by_lane["data"]["ndarray"], Y)
    by_flask = json_format.MessageToDict(
        seldon_predict(half_plus_two, "rest", data=X, payload_type="ndarray")
    )
    assert by_lane["meta"]["tags"] == by_flask["meta"]["tags"]
    assert by_lane["data"]["names"] == by_flask["data"]["names"]
    log = half_plus_two.server.log_of_this_run()
    assert "REST predictions of JSON bodies are answered past Flask" in log
    assert "answered by Flask" not in log


def _latency_count(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tfserving_request_duration_count")
    )


def test_tf_call_latency_reaches_seldons_prometheus_metrics(half_plus_two: Microservice) -> None:
    url = f"http://127.0.0.1:{half_plus_two.metrics_port}/metrics"
    before = _latency_count(scrape_settled(url))
    seldon_predict(half_plus_two, "rest", data=X, payload_type="ndarray")
    seldon_predict(half_plus_two, "grpc", data=X, payload_type="ndarray")
    after = scrape_until(url, lambda text: _latency_count(text) >= before + 2)
    assert _latency_count(after) >= before + 2


def test_metrics_kept_out_of_answers_still_reach_prometheus(
    microservice_factory: Callable[..., Microservice], backend: Backend
) -> None:
    """Seldon's INCLUDE_METRICS_IN_CLIENT_RESPONSE=false, honoured by our gRPC Predict too."""
    service = microservice_factory(
        "seldon_tfserving.TfServingModel",
        parameters=seldon_parameters(
            model_name="half_plus_two",
            grpc_endpoint=backend.grpc_endpoint,
            rest_endpoint=backend.rest_endpoint,
        ),
        env={"INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false"},
    )
    for transport in SELDON_TRANSPORTS:
        answer = seldon_predict(
            service, transport, data=X.astype(np.float32), payload_type="tftensor"
        )
        assert "metrics" not in json_format.MessageToDict(answer.meta), transport
        assert tags_of(answer)["tfserving_model"] == "half_plus_two", transport
    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    counted = scrape_until(url, lambda text: _latency_count(text) >= len(SELDON_TRANSPORTS))
    assert _latency_count(counted) == len(SELDON_TRANSPORTS)


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_tensor_in_tensor_out(half_plus_two: Microservice, transport: str) -> None:
    answer = seldon_predict(half_plus_two, transport, data=X, payload_type="tensor")
    assert answer.data.WhichOneof("data_oneof") == "tensor"
    assert list(answer.data.tensor.shape) == [3, 1]
    np.testing.assert_allclose(answer.data.tensor.values, Y.ravel())


@pytest.mark.parametrize("kind", ["ndarray", "tensor"])
def test_rest_answers_print_float32_as_float32(half_plus_two: Microservice, kind: str) -> None:
    """half_plus_two answers float32: 0.1 / 2 + 2 is written `2.05` (its shortest float32
    text), not the double it widens to (`2.049999952316284`), and Seldon's client reads it."""
    x = np.array([[0.1], [0.3]], dtype=np.float32)
    expected = x / np.float32(2) + np.float32(2)
    tensor = {"shape": [2, 1], "values": x.ravel().tolist()}
    body = {"data": {"ndarray": x.tolist()} if kind == "ndarray" else {"tensor": tensor}}
    reply = requests.post(f"{half_plus_two.http_url}/api/v1.0/predictions", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    texts = [np.format_float_positional(v, unique=True) for v in expected.ravel()]
    assert texts == ["2.05", "2.15"]
    compact = reply.text.replace(" ", "")
    wanted = "[[2.05],[2.15]]" if kind == "ndarray" else "[2.05,2.15]"
    assert wanted in compact, reply.text
    assert "2.049999952316284" not in reply.text
    answer = seldon_predict(half_plus_two, "rest", data=x, payload_type=kind)
    values = json_format.MessageToDict(answer.data)[kind]
    values = values if kind == "ndarray" else values["values"]
    assert np.array_equal(np.array(values, dtype=np.float32).reshape(2, 1), expected)


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_tftensor_in_tftensor_out(half_plus_two: Microservice, transport: str) -> None:
    answer = seldon_predict(
        half_plus_two, transport, data=X.astype(np.float32), payload_type="tftensor"
    )
    assert answer.data.WhichOneof("data_oneof") == "tftensor"
    output = tf.make_ndarray(answer.data.tftensor)
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, Y)


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_a_tftensor_cast_that_would_lose_a_value_is_refused(
    half_plus_two: Microservice, transport: str
) -> None:
    """A DT_DOUBLE tftensor is converted for DT_FLOAT x only when every value fits (see
    test_model_tftensor_dtypes.py); 1e39 would become infinite, so it is refused, naming it."""
    endpoint = half_plus_two.http_url if transport == "rest" else half_plus_two.grpc_endpoint
    proto = ndarray_to_tensor_proto(np.array([[1.0], [1e39]]))  # float64
    if transport == "rest":
        reply = requests.post(
            f"{endpoint}/api/v1.0/predictions",
            json={"data": {"tftensor": json_format.MessageToDict(proto)}},
            timeout=30,
        )
        assert reply.status_code == 400, reply.text
        assert reply.json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"
        assert "double" in reply.json()["status"]["info"].lower()
    else:
        message = prediction_pb2.SeldonMessage()
        message.data.tftensor.CopyFrom(proto)
        code, details = grpc_predict_status(half_plus_two, message)
        assert code.name == "INVALID_ARGUMENT" and "double" in details.lower()


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_json_data_is_a_tf_serving_body_answered_with_tf_serving_json(
    half_plus_two: Microservice, transport: str
) -> None:
    rows = seldon_predict(half_plus_two, transport, json_data={"instances": [[1.0], [2.0]]})
    assert json_format.MessageToDict(rows.jsonData) == {"predictions": [[2.5], [3.0]]}
    columns = seldon_predict(half_plus_two, transport, json_data={"inputs": {"x": [[4.0]]}})
    assert json_format.MessageToDict(columns.jsonData) == {"outputs": [[4.0]]}
    assert tags_of(columns)["tfserving_version"] == "123"


def test_custom_data_carries_a_tf_serving_predict_request(half_plus_two: Microservice) -> None:
    """TfServingProxy's raw mode: a packed PredictRequest in, a packed PredictResponse out."""
    tf_request = predict_pb2.PredictRequest()
    tf_request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(X.astype(np.float32)))
    packed = prediction_pb2.SeldonMessage().customData
    packed.Pack(tf_request)
    answer = seldon_predict(half_plus_two, "grpc", custom_data=packed)
    tf_response = predict_pb2.PredictResponse()
    assert answer.customData.Unpack(tf_response)
    np.testing.assert_allclose(tensor_proto_to_ndarray(tf_response.outputs["y"]), Y)
    assert tf_response.model_spec.name == "half_plus_two"


def test_concurrent_requests_on_workers_and_threads_all_answer_right(
    half_plus_two: Microservice,
) -> None:
    """8 clients at once on gunicorn workers x threads sharing per-process connections."""
    service = half_plus_two
    failures: list[str] = []

    def client(offset: int) -> None:
        with requests.Session() as session:
            for i in range(10):
                x = float(offset * 100 + i)
                reply = session.post(
                    f"{service.http_url}/api/v1.0/predictions",
                    json={"data": {"ndarray": [[x]]}},
                    timeout=30,
                )
                if reply.status_code != 200 or reply.json()["data"]["ndarray"] != [[x / 2 + 2]]:
                    failures.append(f"{x}: {reply.status_code} {reply.text[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:3]
    grpc_answers = [
        seldon_predict(service, "grpc", data=X, payload_type="ndarray") for _ in range(5)
    ]
    for answer in grpc_answers:
        np.testing.assert_allclose(json_format.MessageToDict(answer.data.ndarray), Y)


# --- generated models: several inputs and outputs, strings, bytes, int64 ------------------------


@pytest.fixture(scope="module")
def generated(serve_models: ServeModels, generated_backend: Backend) -> dict[str, Microservice]:
    return serve_models(
        generated_backend,
        multi_io={"model_name": "multi_io"},
        multi_io_product={"model_name": "multi_io", "model_output": "product", "transport": "rest"},
        strings={"model_name": "strings", "transport": "rest"},
        echo={"model_name": "echo_bytes", "model_output": "data_bytes"},
        int64_grpc={"model_name": "int64"},
        int64_rest={"model_name": "int64", "transport": "rest"},
    )


A = [[1.0, 2.0], [3.0, 4.0]]
B = [[10.0, 20.0], [30.0, 40.0]]


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_names_feed_named_inputs_and_outputs_come_back_by_name(
    generated: dict[str, Microservice], transport: str
) -> None:
    columns = np.hstack([A, B])  # a takes two columns, b the next two
    answer = seldon_predict(
        generated["multi_io"], transport, data=columns, names=["a", "b"], payload_type="ndarray"
    )
    assert json_format.MessageToDict(answer.jsonData) == {
        "sum": [[11.0, 22.0], [33.0, 44.0]],
        "product": [[10.0, 40.0], [90.0, 160.0]],
    }


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_model_output_chooses_one_output(
    generated: dict[str, Microservice], transport: str
) -> None:
    answer = seldon_predict(
        generated["multi_io_product"],
        transport,
        data=np.hstack([A, B]),
        names=["a", "b"],
        payload_type="tensor",
    )
    assert list(answer.data.tensor.shape) == [2, 2]
    assert list(answer.data.tensor.values) == [10.0, 40.0, 90.0, 160.0]


@pytest.mark.parametrize("service", ["multi_io", "multi_io_product"], ids=["tf-grpc", "tf-rest"])
def test_json_data_with_several_inputs_and_outputs(
    generated: dict[str, Microservice], service: str
) -> None:
    body = {"inputs": {"a": [[1.0, 2.0]], "b": [[3.0, 4.0]]}}
    answer = seldon_predict(generated[service], "rest", json_data=body)
    assert json_format.MessageToDict(answer.jsonData) == {
        "outputs": {"product": [[3.0, 8.0]], "sum": [[4.0, 6.0]]}
    }
    rows = seldon_predict(
        generated[service], "grpc", json_data={"instances": [{"a": [1.0, 1.0], "b": [2.0, 5.0]}]}
    )
    assert json_format.MessageToDict(rows.jsonData) == {
        "predictions": [{"product": [2.0, 5.0], "sum": [3.0, 6.0]}]
    }


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_str_data_feeds_a_string_input(generated: dict[str, Microservice], transport: str) -> None:
    answer = seldon_predict(generated["strings"], transport, str_data="héllo")
    assert json_format.MessageToDict(answer.jsonData) == {"length": [6], "upper": ["HéLLO"]}


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_string_ndarray(generated: dict[str, Microservice], transport: str) -> None:
    answer = seldon_predict(
        generated["strings"], transport, data=np.array(["ab", "xyz"]), payload_type="ndarray"
    )
    assert json_format.MessageToDict(answer.jsonData) == {
        "length": [2, 3],
        "upper": ["AB", "XYZ"],
    }


@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_bin_data_in_bin_data_out(generated: dict[str, Microservice], transport: str) -> None:
    raw = b"\x00\xff\x10 not utf-8 \xfe"
    answer = seldon_predict(generated["echo"], transport, bin_data=raw)
    assert answer.WhichOneof("data_oneof") == "binData"
    assert answer.binData == raw


BIG = 2**53 + 1  # not representable in float64: any float detour shows


@pytest.mark.parametrize("service", ["int64_grpc", "int64_rest"], ids=["tf-grpc", "tf-rest"])
@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_int64_tftensor_arrives_exactly(
    generated: dict[str, Microservice], service: str, transport: str
) -> None:
    data = np.array([BIG, -7], dtype=np.int64)
    answer = seldon_predict(generated[service], transport, data=data, payload_type="tftensor")
    output = tf.make_ndarray(answer.data.tftensor)
    assert output.dtype == np.int64
    assert output.tolist() == [3 * BIG, -21]


@pytest.mark.parametrize("service", ["int64_grpc", "int64_rest"], ids=["tf-grpc", "tf-rest"])
def test_int64_ndarray_over_rest_keeps_every_digit(
    generated: dict[str, Microservice], service: str
) -> None:
    """JSON integers are typed by the signature (DT_INT64), never through float64."""
    reply = requests.post(
        f"{generated[service].http_url}/api/v1.0/predictions",
        json={"data": {"ndarray": [BIG, 1]}},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["ndarray"] == [3 * BIG, 3]


@pytest.mark.parametrize("service", ["int64_grpc", "int64_rest"], ids=["tf-grpc", "tf-rest"])
@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_json_data_for_an_integer_model(
    generated: dict[str, Microservice], service: str, transport: str
) -> None:
    """SeldonClient sends 4 as 4.0 (via a Struct); TF Serving would refuse 4.0 for DT_INT64."""
    answer = seldon_predict(generated[service], transport, json_data={"instances": [4, -1]})
    assert json_format.MessageToDict(answer.jsonData) == {"predictions": [12, -3]}


def test_bin_data_over_rest_is_base64(generated: dict[str, Microservice]) -> None:
    raw = bytes(range(256))
    reply = requests.post(
        f"{generated['echo'].http_url}/api/v1.0/predictions",
        json={"binData": base64.b64encode(raw).decode()},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert base64.b64decode(reply.json()["binData"]) == raw
