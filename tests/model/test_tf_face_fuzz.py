"""Whatever a client sends to a TfServingModel's TF faces, the answer is TF Serving's: a 200,
or a 4xx with `{"error": ...}` (never a 5xx), or a gRPC status that is not INTERNAL or
UNKNOWN; and it comes within the timeout (never a hang). Bodies and tensors from hypothesis.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    predict_pb2,
    regression_pb2,
)

from tests.model.tf_calls import grpc_status, tf_stubs
from tests.servers import Microservice

TRANSPORTS = ["grpc", "rest"]
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)
tf_documents = st.fixed_dictionaries(
    {},
    optional={
        key: json_values for key in ("instances", "inputs", "signature_name", "examples", "context")
    },
)
bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda value: json.dumps(value).encode()),
    tf_documents.map(lambda document: json.dumps(document).encode()),
)
post_paths = st.sampled_from(
    [
        "/v1/models/m:predict",
        "/v1/models/m/:predict",
        "/v1/models/m:classify",
        "/v1/models/m:regress",
        "/v1/models/m/versions/123:predict",
        "/v1/models/m/labels/stable:classify",
    ]
)
get_paths = st.from_regex(
    r"/v1/models(/[a-z:]{1,5}(/versions/[0-9]{1,22}|/labels/[a-z]{1,5})?)?(/metadata)?",
    fullmatch=True,
)


def assert_tf_answer(reply: requests.Response) -> None:
    assert reply.status_code < 500, reply.text
    if reply.status_code != 200:
        assert list(reply.json()) == ["error"], reply.text


@pytest.mark.parametrize("transport", TRANSPORTS)
@FUZZ
@given(path=post_paths, body=bodies)
def test_any_body_gets_tf_servings_answer(
    tf_wrappers: dict[str, Microservice], transport: str, path: str, body: bytes
) -> None:
    reply = requests.post(tf_wrappers[transport].http_url + path, data=body, timeout=30)
    assert_tf_answer(reply)


@pytest.mark.parametrize("transport", TRANSPORTS)
@FUZZ
@given(path=get_paths)
def test_any_status_path_gets_tf_servings_answer(
    tf_wrappers: dict[str, Microservice], transport: str, path: str
) -> None:
    assert_tf_answer(requests.get(tf_wrappers[transport].http_url + path, timeout=30))


DTYPES = [1, 2, 3, 7, 9, 10, 19]  # float, double, int32, string, int64, bool, half


@st.composite
def predict_requests(draw: Any) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = draw(st.text(max_size=5))
    request.model_spec.signature_name = draw(st.sampled_from(["", "serving_default", "nope"]))
    if draw(st.booleans()):
        request.model_spec.version.value = draw(st.sampled_from([123, 124, 0, 999]))
    for name in draw(st.lists(st.sampled_from(["x", "y", "inputs"]), max_size=2, unique=True)):
        dims = draw(st.lists(st.integers(min_value=-1, max_value=3), max_size=3))
        shape = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]
        )
        tensor = tensor_pb2.TensorProto(dtype=draw(st.sampled_from(DTYPES)), tensor_shape=shape)
        if draw(st.booleans()):
            tensor.tensor_content = draw(st.binary(max_size=32))
        else:
            tensor.float_val.extend(draw(st.lists(st.floats(width=32), max_size=4)))
        request.inputs[name].CopyFrom(tensor)
    request.output_filter.extend(draw(st.lists(st.sampled_from(["y", "z"]), max_size=2)))
    return request


@pytest.mark.parametrize("transport", TRANSPORTS)
@FUZZ
@given(request=predict_requests())
def test_any_predict_request_gets_a_status_of_tf_servings(
    tf_wrappers: dict[str, Microservice], transport: str, request: predict_pb2.PredictRequest
) -> None:
    with tf_stubs(tf_wrappers[transport].grpc_endpoint) as via:
        code, details = grpc_status(via.prediction.Predict, request)
    assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), details
    assert code != grpc.StatusCode.DEADLINE_EXCEEDED, details


@st.composite
def examples_inputs(draw: Any) -> input_pb2.Input:
    request_input = input_pb2.Input()
    target = (
        request_input.example_list_with_context.examples
        if draw(st.booleans())
        else request_input.example_list.examples
    )
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        example = target.add()
        for name in draw(st.lists(st.sampled_from(["x", "x2", "k"]), max_size=2, unique=True)):
            feature = example.features.feature[name]
            kind = draw(st.sampled_from(["float", "int64", "bytes", "none"]))
            if kind == "float":
                feature.float_list.value.extend(draw(st.lists(st.floats(width=32), max_size=3)))
            elif kind == "int64":
                feature.int64_list.value.extend(
                    draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3))
                )
            elif kind == "bytes":
                feature.bytes_list.value.extend(draw(st.lists(st.binary(max_size=4), max_size=2)))
    return request_input


signatures = st.sampled_from(["", "classify_x_to_y", "regress_x_to_y", "serving_default", "no"])


@pytest.mark.parametrize("transport", TRANSPORTS)
@FUZZ
@given(
    method=st.sampled_from(["Classify", "Regress", "MultiInference"]),
    request_input=examples_inputs(),
    signature=signatures,
    task_methods=st.lists(
        st.sampled_from(["tensorflow/serving/classify", "tensorflow/serving/regress", "x"]),
        max_size=2,
    ),
)
def test_any_examples_request_gets_a_status_of_tf_servings(
    tf_wrappers: dict[str, Microservice],
    transport: str,
    method: str,
    request_input: input_pb2.Input,
    signature: str,
    task_methods: list[str],
) -> None:
    request: Any
    if method == "MultiInference":
        request = inference_pb2.MultiInferenceRequest(input=request_input)
        for task_method in task_methods:
            task = request.tasks.add(method_name=task_method)
            task.model_spec.signature_name = signature
    else:
        build = (
            classification_pb2.ClassificationRequest
            if method == "Classify"
            else regression_pb2.RegressionRequest
        )
        request = build(input=request_input)
        request.model_spec.signature_name = signature
    with tf_stubs(tf_wrappers[transport].grpc_endpoint) as via:
        code, details = grpc_status(getattr(via.prediction, method), request)
    assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), details
    assert code != grpc.StatusCode.DEADLINE_EXCEEDED, details


@pytest.mark.parametrize("transport", TRANSPORTS)
@FUZZ
@given(
    fields=st.lists(st.sampled_from(["signature_def", "other", ""]), max_size=2),
    version=st.one_of(st.none(), st.integers(min_value=-1, max_value=2**63 - 1)),
    label=st.text(max_size=4),
)
def test_any_metadata_or_status_request_gets_a_status_of_tf_servings(
    tf_wrappers: dict[str, Microservice],
    transport: str,
    fields: list[str],
    version: int | None,
    label: str,
) -> None:
    metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=fields)
    status = get_model_status_pb2.GetModelStatusRequest()
    for spec in (metadata.model_spec, status.model_spec):
        if version is not None:
            spec.version.value = version
        elif label:
            spec.version_label = label
    with tf_stubs(tf_wrappers[transport].grpc_endpoint) as via:
        for call, request in [
            (via.prediction.GetModelMetadata, metadata),
            (via.models.GetModelStatus, status),
        ]:
            code, details = grpc_status(call, request)
            assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), details
