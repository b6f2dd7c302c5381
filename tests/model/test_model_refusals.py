"""Payloads the wrapper refuses with a 400 (INVALID_ARGUMENT over gRPC) and Seldon's error JSON,
where they used to be answered 200 with a guess, or a 500.

- `data.tensor.values: [null]` was taken as NaN (200); Seldon's parser refuses it.
- `data.names` naming more (or fewer) columns than the data has was ignored.
- `send-feedback` whose tensor Seldon cannot decode was a 500 (our routers answer 400); a
  feedback that decodes is still Seldon's to answer, a 200.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from tests.model.calls import SELDON_TRANSPORTS, seldon_predict
from tests.model.conftest import ServeModels
from tests.model.test_model_errors import assert_seldon_error
from tests.servers import Backend, Microservice

TFTENSOR = tf.make_tensor_proto(np.array([[1.0]], dtype=np.float32))
BAD_TFTENSOR = {
    "dtype": "DT_FLOAT",
    "tensorShape": {"dim": [{"size": "3"}]},
    "floatVal": [1, 2, 3, 4],
}


@pytest.fixture(scope="module")
def half(serve_models: ServeModels, backend: Backend) -> Microservice:
    return serve_models(backend, half={"model_name": "half_plus_two"})["half"]


def _post(service: Microservice, path: str, body: Any) -> requests.Response:
    return requests.post(f"{service.http_url}/api/v1.0/{path}", json=body, timeout=60)


def test_a_null_in_a_tensor_is_a_400_not_nan(half: Microservice) -> None:
    reply = _post(half, "predictions", {"data": {"tensor": {"shape": [1, 1], "values": [None]}}})
    assert_seldon_error(reply, 400, "null is not allowed to be used as an element")
    reply = _post(half, "predictions", {"data": {"tensor": {"shape": [1, 1], "values": [4.0]}}})
    assert reply.status_code == 200 and reply.json()["data"]["tensor"]["values"] == [4.0]


@pytest.mark.parametrize(
    ("names", "rows", "says"),
    [
        (["a", "b", "c"], [[1.0], [2.0]], "3 names but the data has 1 column "),
        (["a", "b"], [[1.0]], "2 names but the data has 1 column "),
        (["a"], [[1.0, 2.0]], "1 names but the data has 2 columns"),
    ],
)
@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_more_or_fewer_names_than_columns_are_refused(
    half: Microservice, transport: str, names: list[str], rows: list[list[float]], says: str
) -> None:
    body = {"data": {"names": names, "ndarray": rows}}
    if transport == "rest":
        assert_seldon_error(_post(half, "predictions", body), 400, says)
        return
    with grpc.insecure_channel(half.grpc_endpoint) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            prediction_pb2_grpc.ModelStub(channel).Predict(
                json_format.ParseDict(body, prediction_pb2.SeldonMessage()), timeout=60
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in (refused.value.details() or "")


def test_one_name_per_column_and_the_inputs_own_name_are_accepted(half: Microservice) -> None:
    for names in (["feature"], ["x"], []):
        reply = _post(half, "predictions", {"data": {"names": names, "ndarray": [[1.0]]}})
        assert reply.status_code == 200, (names, reply.text)
        assert reply.json()["data"]["ndarray"] == [[2.5]]


def _feedback(request_data: dict[str, Any]) -> dict[str, Any]:
    return {
        "request": {"data": request_data},
        "response": {"data": {"ndarray": [[2.5]]}, "meta": {}},
        "reward": 1.0,
    }


@pytest.mark.parametrize(
    "data",
    [
        {"tftensor": BAD_TFTENSOR},
        {"tensor": {"shape": [3], "values": [1.0, 2.0]}},
        {"tftensor": {"dtype": "DT_RESOURCE", "tensorShape": {"dim": [{"size": "1"}]}}},
    ],
    ids=["tftensor-overfull", "tensor-short", "tftensor-resource"],
)
def test_feedback_seldon_cannot_decode_is_a_400_over_rest_and_grpc(
    half: Microservice, data: dict[str, Any]
) -> None:
    assert_seldon_error(_post(half, "feedback", _feedback(data)), 400, "feedback cannot be decoded")
    message = json_format.ParseDict(_feedback(data), prediction_pb2.Feedback())
    with grpc.insecure_channel(half.grpc_endpoint) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            prediction_pb2_grpc.ModelStub(channel).SendFeedback(message, timeout=60)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "feedback cannot be decoded" in (refused.value.details() or "")


def test_feedback_that_decodes_is_answered_by_seldon(half: Microservice) -> None:
    for data in ({"ndarray": [[1.0]]}, {"tftensor": json_format.MessageToDict(TFTENSOR)}):
        reply = _post(half, "feedback", _feedback(data))
        assert reply.status_code == 200, reply.text
    answer = seldon_predict(half, "grpc", data=np.array([[1.0]]), payload_type="ndarray")
    assert answer.data.ndarray[0][0] == 2.5  # and predictions go on
