"""TF Serving's gRPC API on a TfServingModel, called with TF Serving's own stubs.

The referee is the backend's direct answer to the same request. Over gRPC to TF Serving the
wrapper's answer is the backend's proto itself; over REST it holds the same tensors, results
and model_spec, read back from TF Serving's JSON.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import pytest
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    model_management_pb2,
    regression_pb2,
)

from tests.model.tf_calls import grpc_status, outputs_of, predict_request, tf_stubs
from tests.servers import Backend, Microservice

UNPINNED = ["grpc", "rest"]
MODEL = "two_versions"
CLIENTS_NAME = "name-the-client-used"
X = [[1.0], [2.0], [5.0]]


def examples_input(*xs: float) -> input_pb2.Input:
    request_input = input_pb2.Input()
    for x in xs:
        example = example_pb2.Example()
        example.features.feature["x"].float_list.value.append(x)
        request_input.example_list.examples.append(example)
    return request_input


def classify_request(name: str, signature: str = "classify_x_to_y", **spec: Any) -> Any:
    request = classification_pb2.ClassificationRequest(input=examples_input(1.0, 3.0))
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if "version" in spec:
        request.model_spec.version.value = spec["version"]
    return request


def regress_request(name: str) -> Any:
    request = regression_pb2.RegressionRequest(input=examples_input(2.0, 4.0))
    request.model_spec.name = name
    request.model_spec.signature_name = "regress_x_to_y"
    return request


def multi_request(name: str) -> Any:
    request = inference_pb2.MultiInferenceRequest(input=examples_input(1.0, 2.0))
    for method, signature in [("classify", "classify_x_to_y"), ("regress", "regress_x_to_y")]:
        task = request.tasks.add(method_name=f"tensorflow/serving/{method}")
        task.model_spec.name = name
        task.model_spec.signature_name = signature
    return request


def metadata_request(name: str, **spec: Any) -> Any:
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = name
    if "version" in spec:
        request.model_spec.version.value = spec["version"]
    if "label" in spec:
        request.model_spec.version_label = spec["label"]
    return request


def signature_map(response: Any) -> get_model_metadata_pb2.SignatureDefMap:
    unpacked = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(unpacked)
    return unpacked


def assert_same_prediction(via: Any, direct: Any, same_proto: bool) -> None:
    if same_proto:
        assert via == direct
        return
    assert via.model_spec == direct.model_spec
    got, expected = outputs_of(via), outputs_of(direct)
    assert got.keys() == expected.keys()
    for name, array in expected.items():
        assert got[name].dtype == array.dtype
        np.testing.assert_array_equal(got[name], array)


@pytest.mark.parametrize("name", UNPINNED)
def test_predict_answers_what_the_model_answers(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str
) -> None:
    with (
        tf_stubs(backend.grpc_endpoint) as direct,
        tf_stubs(tf_wrappers[name].grpc_endpoint) as via,
    ):
        expected = direct.prediction.Predict(predict_request(MODEL, X), timeout=30)
        answer = via.prediction.Predict(predict_request(CLIENTS_NAME, X), timeout=30)
    assert answer.model_spec.name == MODEL and answer.model_spec.version.value == 124
    np.testing.assert_allclose(outputs_of(answer)["y"], np.array(X) / 2 + 2)
    assert_same_prediction(answer, expected, same_proto=name == "grpc")


@pytest.mark.parametrize("name", UNPINNED)
@pytest.mark.parametrize(
    ("spec", "version"), [({"version": 123}, 123), ({"label": "stable"}, 123), ({}, 124)]
)
def test_a_version_or_label_in_model_spec_is_honoured_when_unpinned(
    tf_wrappers: dict[str, Microservice],
    backend: Backend,
    name: str,
    spec: dict[str, Any],
    version: int,
) -> None:
    with (
        tf_stubs(backend.grpc_endpoint) as direct,
        tf_stubs(tf_wrappers[name].grpc_endpoint) as via,
    ):
        expected = direct.prediction.Predict(predict_request(MODEL, X, **spec), timeout=30)
        answer = via.prediction.Predict(predict_request(CLIENTS_NAME, X, **spec), timeout=30)
        metadata = via.prediction.GetModelMetadata(metadata_request(CLIENTS_NAME, **spec))
    assert answer.model_spec.version.value == version
    assert_same_prediction(answer, expected, same_proto=name == "grpc")
    assert metadata.model_spec.version.value == version


@pytest.mark.parametrize(("name", "version"), [("pinned_grpc", 123), ("pinned_rest", 124)])
def test_a_pinned_wrapper_answers_with_its_pin(
    tf_wrappers: dict[str, Microservice], name: str, version: int
) -> None:
    request = predict_request(CLIENTS_NAME, X, signature_name="serving_default")
    with tf_stubs(tf_wrappers[name].grpc_endpoint) as via:
        answer = via.prediction.Predict(request, timeout=30)
    assert answer.model_spec.version.value == version
    np.testing.assert_allclose(outputs_of(answer)["y"], np.array(X) / 2 + 2)


@pytest.mark.parametrize(
    ("name", "spec", "asked", "pinned"),
    [
        ("pinned_grpc", {"version": 124}, "version 124", "version 123"),
        ("pinned_grpc", {"label": "canary"}, "label 'canary'", "version 123"),
        ("pinned_rest", {"version": 124}, "version 124", "label 'canary'"),
        ("pinned_rest", {"label": "stable"}, "label 'stable'", "label 'canary'"),
    ],
)
def test_a_model_spec_contradicting_the_pin_is_invalid_argument_naming_both(
    tf_wrappers: dict[str, Microservice], name: str, spec: dict[str, Any], asked: str, pinned: str
) -> None:
    with tf_stubs(tf_wrappers[name].grpc_endpoint) as via:
        for call, request in [
            (via.prediction.Predict, predict_request(CLIENTS_NAME, X, **spec)),
            (via.prediction.GetModelMetadata, metadata_request(CLIENTS_NAME, **spec)),
        ]:
            code, details = grpc_status(call, request)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
            assert asked in details and pinned in details, details


@pytest.mark.parametrize("name", UNPINNED)
def test_output_filter_and_signature_pass_through(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str
) -> None:
    request = predict_request(CLIENTS_NAME, X, signature_name="serving_default")
    request.output_filter.append("y")
    with tf_stubs(tf_wrappers[name].grpc_endpoint) as via:
        answer = via.prediction.Predict(request, timeout=30)
        code, details = grpc_status(
            via.prediction.Predict, predict_request(CLIENTS_NAME, X, signature_name="nope")
        )
    assert list(answer.outputs) == ["y"]
    assert answer.model_spec.signature_name == "serving_default"
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "nope" in details, details


@pytest.mark.parametrize("name", UNPINNED)
def test_classify_regress_and_multi_inference_answer_what_the_model_answers(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str
) -> None:
    with (
        tf_stubs(backend.grpc_endpoint) as direct,
        tf_stubs(tf_wrappers[name].grpc_endpoint) as via,
    ):
        for method, build in [
            ("Classify", classify_request),
            ("Regress", regress_request),
            ("MultiInference", multi_request),
        ]:
            expected = getattr(direct.prediction, method)(build(MODEL), timeout=30)
            answer = getattr(via.prediction, method)(build(CLIENTS_NAME), timeout=30)
            assert answer == expected, method


@pytest.mark.parametrize("name", UNPINNED)
def test_metadata_and_status_are_the_models(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str
) -> None:
    status = get_model_status_pb2.GetModelStatusRequest()
    with (
        tf_stubs(backend.grpc_endpoint) as direct,
        tf_stubs(tf_wrappers[name].grpc_endpoint) as via,
    ):
        expected = direct.prediction.GetModelMetadata(metadata_request(MODEL), timeout=30)
        answer = via.prediction.GetModelMetadata(metadata_request(CLIENTS_NAME), timeout=30)
        assert answer.model_spec == expected.model_spec
        assert signature_map(answer) == signature_map(expected)
        status.model_spec.name = MODEL
        expected_status = direct.models.GetModelStatus(status, timeout=30)
        status.model_spec.name = CLIENTS_NAME
        assert via.models.GetModelStatus(status, timeout=30) == expected_status
        status.model_spec.version.value = 123
        assert [s.version for s in via.models.GetModelStatus(status).model_version_status] == [123]


@pytest.mark.parametrize("name", ["pinned_grpc", "pinned_rest"])
def test_a_request_naming_no_signature_calls_the_wrappers_signature_name(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str
) -> None:
    """Both pinned wrappers are configured with signature_name classify_x_to_y."""
    with (
        tf_stubs(backend.grpc_endpoint) as direct,
        tf_stubs(tf_wrappers[name].grpc_endpoint) as via,
    ):
        answer = via.prediction.Classify(classify_request(CLIENTS_NAME, signature=""), timeout=30)
        expected = direct.prediction.Classify(
            classify_request(MODEL, version=answer.model_spec.version.value), timeout=30
        )
    assert answer.model_spec.signature_name == "classify_x_to_y"
    assert answer == expected


def test_a_config_reload_is_refused_naming_why(tf_wrappers: dict[str, Microservice]) -> None:
    with tf_stubs(tf_wrappers["grpc"].grpc_endpoint) as via:
        code, details = grpc_status(
            via.models.HandleReloadConfigRequest, model_management_pb2.ReloadConfigRequest()
        )
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert "HandleReloadConfigRequest" in details and "TF Serving itself" in details
