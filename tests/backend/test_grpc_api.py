"""The gRPC face with TF Serving's own stubs: the answers REST gives, TF Serving's codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import json_format
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from tests.servers import Backend


@pytest.fixture(scope="module")
def channel(backend: Backend) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(backend.grpc_endpoint) as opened:
        yield opened


@pytest.fixture(scope="module")
def prediction(channel: grpc.Channel) -> Any:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def models(channel: grpc.Channel) -> Any:
    return model_service_pb2_grpc.ModelServiceStub(channel)


def predict_request(
    model: str, inputs: dict[str, np.ndarray], signature: str = "", **spec: Any
) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if "version" in spec:
        request.model_spec.version.value = spec["version"]
    if "label" in spec:
        request.model_spec.version_label = spec["label"]
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(ndarray_to_tensor_proto(array))
    return request


def rpc_error(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)
    return caught.value


def examples(**features: float) -> Any:
    example = example_pb2.Example()
    for name, value in features.items():
        example.features.feature[name].CopyFrom(
            feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[value]))
        )
    return example


X = np.array([[1.0], [2.0], [5.0]], dtype=np.float32)


def test_predict_half_plus_two_and_the_version_that_answered(prediction: Any) -> None:
    response = prediction.Predict(predict_request("half_plus_two", {"x": X}), timeout=30)
    np.testing.assert_array_equal(tensor_proto_to_ndarray(response.outputs["y"]), X * 0.5 + 2)
    assert response.model_spec.name == "half_plus_two"
    assert response.model_spec.version.value == 123
    assert response.model_spec.signature_name == "serving_default"


def test_outputs_use_typed_fields_like_tf_servings_as_proto_field(prediction: Any) -> None:
    response = prediction.Predict(predict_request("half_plus_two", {"x": X}), timeout=30)
    output = response.outputs["y"]
    assert list(output.float_val) == [2.5, 3.0, 4.5]
    assert output.tensor_content == b""
    assert [d.size for d in output.tensor_shape.dim] == [3, 1]


def test_predict_feeds_are_not_shape_checked_like_tf_serving(prediction: Any) -> None:
    flat = np.array([1.0, 2.0, 5.0], dtype=np.float32)
    response = prediction.Predict(predict_request("half_plus_three", {"x": flat}), timeout=30)
    np.testing.assert_array_equal(tensor_proto_to_ndarray(response.outputs["y"]), [3.5, 4, 5.5])


def test_tf2_model(prediction: Any) -> None:
    response = prediction.Predict(predict_request("half_plus_two_tf2", {"x": X}), timeout=30)
    np.testing.assert_array_equal(tensor_proto_to_ndarray(response.outputs["y"]), X * 0.5 + 2)


def test_versions_and_labels(prediction: Any) -> None:
    cases = [
        ({"version": 123}, 123),
        ({"version": 124}, 124),
        ({"label": "stable"}, 123),
        ({"label": "canary"}, 124),
        ({}, 124),
    ]
    for spec, version in cases:
        response = prediction.Predict(predict_request("two_versions", {"x": X}, **spec), timeout=30)
        assert response.model_spec.version.value == version, spec
        np.testing.assert_array_equal(tensor_proto_to_ndarray(response.outputs["y"]), X * 0.5 + 2)


def test_counter_signatures_in_predict_impl_test_order(prediction: Any) -> None:
    def call(signature: str, **inputs: np.ndarray) -> float:
        response = prediction.Predict(
            predict_request("counter", dict(inputs), signature), timeout=30
        )
        assert response.model_spec.signature_name == signature
        value = tensor_proto_to_ndarray(response.outputs["output"])
        assert value.shape == () and value.dtype == np.float32
        return float(value)

    def assert_reset_answers_predict_impl_tests_proto() -> None:
        reset = prediction.Predict(predict_request("counter", {}, "reset_counter"), timeout=30)
        expected = predict_pb2.PredictResponse()
        expected.model_spec.name = "counter"
        expected.model_spec.version.value = 123
        expected.model_spec.signature_name = "reset_counter"
        expected.outputs["output"].dtype = types_pb2.DT_FLOAT
        expected.outputs["output"].tensor_shape.SetInParent()
        expected.outputs["output"].float_val.append(0)
        assert reset == expected  # predict_impl_test.cc's expected proto, field for field

    assert_reset_answers_predict_impl_tests_proto()
    assert call("reset_counter") == 0
    assert call("get_counter") == 0
    assert call("incr_counter") == 1
    assert_reset_answers_predict_impl_tests_proto()
    assert call("reset_counter") == 0
    assert call("incr_counter") == 1
    assert call("incr_counter_by", delta=np.array(3.0, dtype=np.float32)) == 4


def test_regress_and_classify_with_examples(prediction: Any) -> None:
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "half_plus_two"
    request.model_spec.signature_name = "regress_x_to_y"
    request.input.example_list.examples.extend([examples(x=80.0), examples(x=2.0)])
    response = prediction.Regress(request, timeout=30)
    assert [r.value for r in response.result.regressions] == [42.0, 3.0]
    assert response.model_spec.version.value == 123

    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "two_versions"
    classify.model_spec.version_label = "stable"
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.example_list.examples.append(examples(x=20.0))
    result = prediction.Classify(classify, timeout=30)
    (classification,) = result.result.classifications
    assert [(c.label, c.score) for c in classification.classes] == [("", 12.0)]
    assert result.model_spec.version.value == 123
    assert result.model_spec.signature_name == "classify_x_to_y"


def test_metadata_is_a_signature_def_map_in_an_any(
    prediction: Any, tfserving_testdata: Path
) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "two_versions"
    request.model_spec.version.value = 123
    response = prediction.GetModelMetadata(request, timeout=30)
    assert response.model_spec.name == "two_versions"
    assert response.model_spec.version.value == 123
    packed = response.metadata["signature_def"]
    assert packed.type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    actual = get_model_metadata_pb2.SignatureDefMap()
    assert packed.Unpack(actual)
    expected_json = json.loads(
        (tfserving_testdata / "saved_model_half_plus_two_2_versions_metadata.json").read_text()
    )["metadata"]["signature_def"]
    expected = json_format.ParseDict(expected_json, get_model_metadata_pb2.SignatureDefMap())
    assert actual == expected


def test_metadata_field_errors(prediction: Any) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "half_plus_two"
    error = rpc_error(prediction.GetModelMetadata, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at least one metadata_field" in error.details()
    request.metadata_field.append("signature_defs")
    assert rpc_error(prediction.GetModelMetadata, request).code() == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


def test_model_status(models: Any) -> None:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "two_versions"
    response = models.GetModelStatus(request, timeout=30)
    assert [(s.version, s.state) for s in response.model_version_status] == [
        (123, get_model_status_pb2.ModelVersionStatus.AVAILABLE),
        (124, get_model_status_pb2.ModelVersionStatus.AVAILABLE),
    ]
    assert all(s.status.error_code == 0 for s in response.model_version_status)
    request.model_spec.name = "missing"
    assert rpc_error(models.GetModelStatus, request).code() == grpc.StatusCode.NOT_FOUND
    request.model_spec.name = "two_versions"
    request.model_spec.version.value = 5
    error = rpc_error(models.GetModelStatus, request)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "Could not find version 5 of model two_versions"


@pytest.mark.parametrize(
    ("request_args", "code", "fragment"),
    [
        (("nope", {"x": X}), grpc.StatusCode.NOT_FOUND, "Servable not found"),
        (
            ("two_versions", {"x": X}, "", {"version": 9}),
            grpc.StatusCode.NOT_FOUND,
            "Specific(two_versions, 9)",
        ),
        (
            ("two_versions", {"x": X}, "", {"label": "beta"}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label: beta",
        ),
        (
            ("half_plus_two", {"x": X}, "nope"),
            grpc.StatusCode.FAILED_PRECONDITION,
            'Serving signature key "nope" not found.',
        ),
        (
            ("half_plus_two", {"x": X.astype(np.float64)}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "to be float but double is provided",
        ),
        (
            ("half_plus_two", {"z": X}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "input tensor alias not found in signature: z",
        ),
        (
            ("half_plus_two", {"x": X, "z": X}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "input size does not match signature: 2!=1",
        ),
        (("half_plus_two", {}), grpc.StatusCode.INVALID_ARGUMENT, "Missing but required: {x}"),
        (
            ("half_plus_two", {"x": np.array([b"a"], dtype=object)}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "to be float but string is provided",
        ),
    ],
)
def test_predict_errors_carry_tf_servings_status(
    prediction: Any, request_args: tuple[Any, ...], code: grpc.StatusCode, fragment: str
) -> None:
    model, inputs, *rest = request_args
    signature = rest[0] if rest else ""
    spec = rest[1] if len(rest) > 1 else {}
    error = rpc_error(prediction.Predict, predict_request(model, inputs, signature, **spec))
    assert error.code() == code
    assert fragment in error.details()


def test_session_errors_keep_tensorflows_code(prediction: Any) -> None:
    two_by_two = np.ones((2, 2), dtype=np.float32)
    error = rpc_error(
        prediction.Predict,
        predict_request("counter", {"delta": two_by_two}, "incr_counter_by"),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_regress_errors(prediction: Any) -> None:
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "half_plus_two"
    request.model_spec.signature_name = "serving_default"
    request.input.example_list.examples.append(examples(x=1.0))
    error = rpc_error(prediction.Regress, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expected regression signature method_name" in error.details()
    request.model_spec.signature_name = "regress_x_to_y"
    request.ClearField("input")
    assert "Input is empty" in rpc_error(prediction.Regress, request).details()
    request.model_spec.signature_name = "nope"
    request.input.example_list.examples.append(examples(x=1.0))
    assert "No signature was found with the name: nope" in (
        rpc_error(prediction.Regress, request).details()
    )
