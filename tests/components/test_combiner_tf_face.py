"""Every combiner answering TF Serving's protocol under the real `seldon-core-microservice`.

Seldon's executor, under `protocol: tensorflow`, posts `/v1/models/<m>:aggregate` a JSON array
of the children's raw TF bodies in child order; our gateway calls `tfgraph.Combiner/Aggregate`
with their PredictResponses. The referee for each combination is the same combiner's answer
under Seldon's own protocol (`/aggregate`), for the same children's outputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_shape_pb2
from tensorflow_serving.apis import predict_pb2

from seldon_tfserving.protos import tensorflow_graph_pb2, tensorflow_graph_pb2_grpc
from tests.servers import Microservice, start_microservice, wait_until_ready

A = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype=np.float32)
B = np.array([[0.2, 0.5, 0.3], [0.2, 0.2, 0.6]], dtype=np.float32)
C = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]], dtype=np.float32)
CHILDREN = [A, B, C]

COMBINERS: dict[str, list[dict[str, str]]] = {
    "MeanCombiner": [],
    "WeightedMeanCombiner": [{"name": "weights", "type": "STRING", "value": "[2, 1, 1]"}],
    "MajorityVoteCombiner": [{"name": "output", "type": "STRING", "value": "one_hot"}],
    "MaxConfidenceCombiner": [],
}


@pytest.fixture(scope="module")
def combiners(log_dir: Path) -> Iterator[dict[str, Microservice]]:
    services = {
        name: start_microservice(
            log_dir,
            f"seldon_tfserving.{name}",
            service_type="COMBINER",
            parameters=params,
            wait_ready=False,
        )
        for name, params in COMBINERS.items()
    }
    try:
        wait_until_ready(*services.values(), timeout_s=240)
        yield services
    finally:
        for service in services.values():
            service.server.stop(timeout_s=2)


def rows(array: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {"predictions": array.tolist()}


def columns(array: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {"outputs": array.tolist()}


def aggregate(service: Microservice, children: Any) -> requests.Response:
    body = children if isinstance(children, bytes) else json.dumps(children).encode()
    return requests.post(
        f"{service.http_url}/v1/models/client-name:aggregate", data=body, timeout=20
    )


def seldon_combination(service: Microservice, arrays: list[np.ndarray[Any, Any]]) -> Any:
    """The combiner's answer under Seldon's protocol: the referee."""
    messages = [{"data": {"ndarray": array.tolist()}} for array in arrays]
    reply = requests.post(
        f"{service.http_url}/aggregate", json={"seldonMessages": messages}, timeout=20
    )
    assert reply.status_code == 200, reply.text
    return np.array(reply.json()["data"]["ndarray"])


@pytest.mark.parametrize("name", list(COMBINERS))
@pytest.mark.parametrize(("shape", "key"), [(rows, "predictions"), (columns, "outputs")])
def test_aggregate_combines_as_under_seldons_protocol(
    combiners: dict[str, Microservice], name: str, shape: Any, key: str
) -> None:
    reply = aggregate(combiners[name], [shape(child) for child in CHILDREN])
    assert reply.status_code == 200, reply.text
    assert list(reply.json()) == [key]
    expected = seldon_combination(combiners[name], CHILDREN)
    np.testing.assert_allclose(np.array(reply.json()[key]), expected, rtol=1e-6)


@pytest.mark.parametrize("name", list(COMBINERS))
def test_each_named_output_is_combined_on_its_own(
    combiners: dict[str, Microservice], name: str
) -> None:
    """Multi-output children: rows of objects (TF's row format) or an object of columns."""
    second = [1.0 - child for child in CHILDREN]
    row_bodies = [
        {"predictions": [{"p": p.tolist(), "q": q.tolist()} for p, q in zip(a, b, strict=True)]}
        for a, b in zip(CHILDREN, second, strict=True)
    ]
    column_bodies = [
        {"outputs": {"p": a.tolist(), "q": b.tolist()}}
        for a, b in zip(CHILDREN, second, strict=True)
    ]
    service = combiners[name]
    expected_p = seldon_combination(service, CHILDREN)
    expected_q = seldon_combination(service, second)
    by_rows = aggregate(service, row_bodies)
    assert by_rows.status_code == 200, by_rows.text
    answer = by_rows.json()["predictions"]
    np.testing.assert_allclose([row["p"] for row in answer], expected_p, rtol=1e-6)
    np.testing.assert_allclose([row["q"] for row in answer], expected_q, rtol=1e-6)
    by_columns = aggregate(service, column_bodies)
    assert by_columns.status_code == 200, by_columns.text
    outputs = by_columns.json()["outputs"]
    np.testing.assert_allclose(outputs["p"], expected_p, rtol=1e-6)
    np.testing.assert_allclose(outputs["q"], expected_q, rtol=1e-6)


def test_the_answer_takes_the_first_childs_format(combiners: dict[str, Microservice]) -> None:
    service = combiners["MeanCombiner"]
    mixed = aggregate(service, [rows(A), columns(B), rows(C)])
    assert mixed.status_code == 200 and list(mixed.json()) == ["predictions"], mixed.text
    np.testing.assert_allclose(mixed.json()["predictions"], (A + B + C) / 3, rtol=1e-6)
    single = aggregate(service, [columns(A)])
    np.testing.assert_allclose(single.json()["outputs"], A, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "children", "status", "says"),
    [
        ("MeanCombiner", [rows(A), rows(A[:1])], 400, "differ in shape"),
        ("MeanCombiner", [rows(A), {"predictions": [["a", "b", "c"]] * 2}], 400, "not numbers"),
        (
            "MeanCombiner",
            [rows(A), {"outputs": {"p": A.tolist(), "q": A.tolist()}}],
            400,
            "child 1",
        ),
        ("MeanCombiner", [rows(A), {"predictions": [[1.0], [1.0, 2.0]]}], 400, "child 1"),
        ("MeanCombiner", [rows(A), {"error": "child failed"}], 400, "answered an error"),
        ("MeanCombiner", [rows(A), [1, 2]], 400, "not an object"),
        ("MeanCombiner", [rows(A), {"instances": A.tolist()}], 400, "neither"),
        ("MeanCombiner", [], 400, "no children"),
        ("MeanCombiner", {"predictions": [1]}, 400, "Is not an array"),
        ("MeanCombiner", b"[{", 400, "JSON Parse error"),
        ("WeightedMeanCombiner", [rows(A), rows(B)], 400, "one weight per child"),
        ("MajorityVoteCombiner", [rows(A[0]), rows(B[0])], 400, "(rows, classes)"),
        (
            "MaxConfidenceCombiner",
            [{"outputs": {"p": A.tolist(), "q": [1.0, 2.0]}}] * 2,
            400,
            "output 'q'",
        ),
    ],
)
def test_children_that_cannot_be_combined_get_tf_servings_400(
    combiners: dict[str, Microservice], name: str, children: Any, status: int, says: str
) -> None:
    reply = aggregate(combiners[name], children)
    assert reply.status_code == status, reply.text
    assert list(reply.json()) == ["error"] and says in reply.json()["error"], reply.text


def predict_response(**outputs: np.ndarray[Any, Any]) -> predict_pb2.PredictResponse:
    response = predict_pb2.PredictResponse()
    for name, array in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
    return response


def grpc_aggregate(service: Microservice, responses: list[predict_pb2.PredictResponse]) -> Any:
    with grpc.insecure_channel(service.grpc_endpoint) as channel:
        stub = tensorflow_graph_pb2_grpc.CombinerStub(channel)
        return stub.Aggregate(
            tensorflow_graph_pb2.AggregateRequest(responses=responses), timeout=20
        )


@pytest.mark.parametrize("name", list(COMBINERS))
def test_the_grpc_aggregate_combines_predict_responses(
    combiners: dict[str, Microservice], name: str
) -> None:
    service = combiners[name]
    answer = grpc_aggregate(service, [predict_response(y=child, z=1 - child) for child in CHILDREN])
    assert sorted(answer.outputs) == ["y", "z"]
    np.testing.assert_allclose(
        tf.make_ndarray(answer.outputs["y"]), seldon_combination(service, CHILDREN), rtol=1e-6
    )
    np.testing.assert_allclose(
        tf.make_ndarray(answer.outputs["z"]),
        seldon_combination(service, [1 - child for child in CHILDREN]),
        rtol=1e-6,
    )


def test_grpc_children_that_cannot_be_combined_are_invalid_argument(
    combiners: dict[str, Microservice],
) -> None:
    service = combiners["MeanCombiner"]
    for responses, says in [
        ([], "no children"),
        ([predict_response(y=A), predict_response()], "no outputs"),
        ([predict_response(y=A), predict_response(w=A)], "different outputs"),
        ([predict_response(y=A), predict_response(y=A[:1])], "differ in shape"),
    ]:
        with pytest.raises(grpc.RpcError) as raised:
            grpc_aggregate(service, responses)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert says in (raised.value.details() or ""), raised.value.details()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["predictions", "outputs", "error", "p"]), children, max_size=3
        )
    ),
    max_leaves=16,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(st.binary(max_size=48), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_gets_a_combination_or_a_400(
    combiners: dict[str, Microservice], body: bytes
) -> None:
    for name in ("MeanCombiner", "MajorityVoteCombiner"):
        reply = aggregate(combiners[name], body)
        assert reply.status_code in (200, 400), reply.text
        assert reply.status_code == 200 or list(reply.json()) == ["error"], reply.text


@st.composite
def predict_responses(draw: Any) -> predict_pb2.PredictResponse:
    response = predict_pb2.PredictResponse()
    for name in draw(st.lists(st.sampled_from(["y", "z"]), max_size=2, unique=True)):
        dims = draw(st.lists(st.integers(min_value=-1, max_value=3), max_size=3))
        tensor = response.outputs[name]
        tensor.dtype = draw(st.sampled_from([1, 2, 3, 7, 9, 10]))
        tensor.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims)
        if draw(st.booleans()):
            tensor.tensor_content = draw(st.binary(max_size=32))
        else:
            tensor.float_val.extend(draw(st.lists(st.floats(width=32), max_size=4)))
    return response


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(responses=st.lists(predict_responses(), max_size=3))
def test_any_predict_responses_get_a_combination_or_invalid_argument(
    combiners: dict[str, Microservice], responses: list[predict_pb2.PredictResponse]
) -> None:
    for name in ("MeanCombiner", "MaxConfidenceCombiner"):
        try:
            grpc_aggregate(combiners[name], responses)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
