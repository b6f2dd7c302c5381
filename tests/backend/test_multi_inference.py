"""MultiInference: several classify and regress signatures of one model over one input, in one
session run, each answered as its own Classify or Regress would be; TF Serving's checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from tests.servers import Backend

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


@pytest.fixture(scope="module")
def prediction(backend: Backend) -> Iterator[Any]:
    with grpc.insecure_channel(backend.grpc_endpoint) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def x_examples(*values: float) -> list[example_pb2.Example]:
    return [
        example_pb2.Example(
            features=feature_pb2.Features(
                feature={"x": feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[v]))}
            )
        )
        for v in values
    ]


def multi_request(*tasks: tuple[str, str, str], xs: tuple[float, ...] = (80.0, 2.0)) -> Any:
    """Tasks as (model, signature, method) over examples with feature x = each of `xs`."""
    request = inference_pb2.MultiInferenceRequest()
    for model, signature, method in tasks:
        task = request.tasks.add()
        task.model_spec.name = model
        task.model_spec.signature_name = signature
        task.method_name = method
    request.input.example_list.examples.extend(x_examples(*xs))
    return request


def test_each_task_answers_as_its_own_classify_or_regress_would(prediction: Any) -> None:
    request = multi_request(
        ("half_plus_two", "regress_x_to_y", REGRESS),
        ("half_plus_two", "regress_x_to_y2", REGRESS),
        ("half_plus_two", "classify_x_to_y", CLASSIFY),
    )
    response = prediction.MultiInference(request, timeout=30)
    regress_y, regress_y2, classify_y = response.results
    assert [r.value for r in regress_y.regression_result.regressions] == [42.0, 3.0]
    assert [r.value for r in regress_y2.regression_result.regressions] == [43.0, 4.0]
    scores = [
        [c.score for c in row.classes] for row in classify_y.classification_result.classifications
    ]
    assert scores == [[42.0], [3.0]]
    for result, signature in zip(
        response.results, ("regress_x_to_y", "regress_x_to_y2", "classify_x_to_y"), strict=True
    ):
        assert result.model_spec.name == "half_plus_two"
        assert result.model_spec.signature_name == signature
        assert result.model_spec.version.value == 123

    alone = regression_pb2.RegressionRequest(input=request.input)
    alone.model_spec.name, alone.model_spec.signature_name = "half_plus_two", "regress_x_to_y"
    assert prediction.Regress(alone, timeout=30).result == regress_y.regression_result
    one = classification_pb2.ClassificationRequest(input=request.input)
    one.model_spec.name, one.model_spec.signature_name = "half_plus_two", "classify_x_to_y"
    assert prediction.Classify(one, timeout=30).result == classify_y.classification_result


def test_the_version_comes_from_the_first_tasks_model_spec(prediction: Any) -> None:
    request = multi_request(("two_versions", "regress_x_to_y", REGRESS))
    request.tasks[0].model_spec.version_label = "stable"
    (result,) = prediction.MultiInference(request, timeout=30).results
    assert result.model_spec.version.value == 123


@pytest.mark.parametrize(
    ("tasks", "code", "says"),
    [
        (
            [("half_plus_two", "regress_x_to_y", REGRESS), ("half_plus_three", "", REGRESS)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "must access the same model name",
        ),
        (
            [("half_plus_two", "regress_x_to_y", REGRESS)] * 2,
            grpc.StatusCode.INVALID_ARGUMENT,
            "Duplicate evaluation of signature: regress_x_to_y",
        ),
        (
            [("half_plus_two", "nope", REGRESS)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Requested signature not found in model graph: nope",
        ),
        (
            [("half_plus_two", "serving_default", "tensorflow/serving/predict")],
            grpc.StatusCode.UNIMPLEMENTED,
            "Unsupported signature method_name: tensorflow/serving/predict",
        ),
        (
            [("half_plus_two", "classify_x_to_y", REGRESS)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected regression signature method_name",
        ),
        (
            [("half_plus_two", "regress_x_to_y", REGRESS), ("", "regress_x_to_y2", REGRESS)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Found ModelSpec with an empty model name.",
        ),
        ([], grpc.StatusCode.NOT_FOUND, "Servable not found"),
    ],
)
def test_tf_servings_checks_with_its_status_and_message(
    prediction: Any, tasks: list[tuple[str, str, str]], code: grpc.StatusCode, says: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        prediction.MultiInference(multi_request(*tasks), timeout=30)
    assert caught.value.code() == code
    assert says in (caught.value.details() or "")


def test_an_empty_input_is_refused(prediction: Any) -> None:
    request = multi_request(("half_plus_two", "regress_x_to_y", REGRESS), xs=())
    with pytest.raises(grpc.RpcError) as caught:
        prediction.MultiInference(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Input is empty" in (caught.value.details() or "")
