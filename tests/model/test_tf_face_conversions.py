"""The pure pieces under TfServingModel's TF face: the pin rule, and the conversions a face
needs when it answers one TF protocol over the other, each read back to what it was."""

from __future__ import annotations

import json
import math

import pytest
from google.protobuf import json_format
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    regression_pb2,
)

from seldon_tfserving.codec.tfserving_examples_json import (
    decode_classification_result,
    decode_classify_regress_request,
    decode_regression_result,
    encode_classification_result,
    encode_classify_regress_request,
    encode_regression_result,
)
from seldon_tfserving.codec.tfserving_model_json import (
    metadata_from_json,
    metadata_json,
    status_from_json,
    status_json,
)
from seldon_tfserving.errors import InternalError, InvalidInput
from seldon_tfserving.tfserving.client import ModelTarget
from tests.servers import TFSERVING_TESTDATA

UNPINNED = ModelTarget("m")
BY_VERSION = ModelTarget("m", 123)
BY_LABEL = ModelTarget("m", None, "canary")


@pytest.mark.parametrize(
    ("pinned", "version", "label", "expected"),
    [
        (UNPINNED, None, None, UNPINNED),
        (UNPINNED, 124, None, ModelTarget("m", 124)),
        (UNPINNED, None, "stable", ModelTarget("m", None, "stable")),
        (BY_VERSION, None, None, BY_VERSION),
        (BY_VERSION, 123, None, BY_VERSION),
        (BY_LABEL, None, None, BY_LABEL),
        (BY_LABEL, None, "canary", BY_LABEL),
    ],
)
def test_a_caller_narrows_an_unpinned_target_and_may_repeat_a_pin(
    pinned: ModelTarget, version: int | None, label: str | None, expected: ModelTarget
) -> None:
    assert pinned.narrowed(version, label) == expected


@pytest.mark.parametrize(
    ("pinned", "version", "label", "asked", "pin"),
    [
        (BY_VERSION, 124, None, "version 124", "version 123"),
        (BY_VERSION, None, "stable", "label 'stable'", "version 123"),
        (BY_LABEL, 124, None, "version 124", "label 'canary'"),
        (BY_LABEL, None, "stable", "label 'stable'", "label 'canary'"),
    ],
)
def test_a_caller_contradicting_a_pin_is_refused_naming_both(
    pinned: ModelTarget, version: int | None, label: str | None, asked: str, pin: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        pinned.narrowed(version, label)
    assert asked in refused.value.message and pin in refused.value.message


def test_status_json_reads_back_to_the_same_proto() -> None:
    response = get_model_status_pb2.GetModelStatusResponse()
    entry = response.model_version_status.add(version=124, state=30)
    entry.status.error_message = "ok"
    text = status_json(response)
    assert json.loads(text)["model_version_status"][0] == {
        "version": "124",
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": "ok"},
    }
    assert status_from_json(text) == response


def test_metadata_json_is_tf_servings_and_reads_back() -> None:
    """TF Serving's own metadata JSON of its test model is read, and written back alike."""
    path = TFSERVING_TESTDATA / "saved_model_half_plus_two_2_versions_metadata.json"
    document = json.loads(path.read_text())
    response = metadata_from_json(path.read_bytes())
    assert response.model_spec.version.value == 123
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert "classify_x_to_y" in signatures.signature_def
    written = json.loads(metadata_json(response))
    assert written["model_spec"] == document["model_spec"]
    assert json_format.ParseDict(
        written["metadata"]["signature_def"], get_model_metadata_pb2.SignatureDefMap()
    ) == json_format.ParseDict(
        document["metadata"]["signature_def"], get_model_metadata_pb2.SignatureDefMap()
    )
    with pytest.raises(InternalError):
        metadata_from_json(b'{"model_spec": {}}')
    with pytest.raises(InternalError):
        metadata_json(get_model_metadata_pb2.GetModelMetadataResponse())


def example(**features: object) -> example_pb2.Example:
    proto = example_pb2.Example()
    for name, values in features.items():
        feature = proto.features.feature[name]
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, bytes):
                feature.bytes_list.value.append(value)
            elif isinstance(value, float):
                feature.float_list.value.append(value)
            else:
                assert isinstance(value, int)
                feature.int64_list.value.append(value)
    return proto


def test_examples_requests_read_back_to_the_same_input() -> None:
    plain = input_pb2.Input()
    plain.example_list.examples.extend(
        [example(x=1.0, n=[3, -(2**63)], s=b"text"), example(b=b"\xff\x00", w=[2.0, 0.5])]
    )
    with_context = input_pb2.Input()
    with_context.example_list_with_context.context.CopyFrom(example(c=7))
    with_context.example_list_with_context.examples.append(example(x=[0.1]))
    for request_input, signature in [(plain, "classify_x_to_y"), (with_context, "")]:
        body = encode_classify_regress_request(signature, request_input)
        assert decode_classify_regress_request(body) == (signature, request_input)
    assert json.loads(encode_classify_regress_request("", plain))["examples"][1]["b"] == [
        {"b64": "/wA="}
    ]
    with pytest.raises(InvalidInput, match="Input is empty"):
        encode_classify_regress_request("", input_pb2.Input())


def test_results_read_back_to_the_same_protos() -> None:
    classified = classification_pb2.ClassificationResult()
    row = classified.classifications.add()
    row.classes.add(label="a", score=0.25)
    row.classes.add(label="", score=float("nan"))
    decoded = decode_classification_result(encode_classification_result(classified))
    assert decoded.classifications[0].classes[0] == classified.classifications[0].classes[0]
    assert math.isnan(decoded.classifications[0].classes[1].score)
    regressed = regression_pb2.RegressionResult()
    regressed.regressions.add(value=2.5)
    regressed.regressions.add(value=-1.0)
    assert decode_regression_result(encode_regression_result(regressed)) == regressed
    for body in (b"{}", b'{"results": [["x"]]}', b'{"results": [[[1, 2]]]}', b"nope"):
        with pytest.raises(InternalError):
            decode_classification_result(body)
    for body in (b"{}", b'{"results": [true]}', b'{"results": ["2"]}', b"nope"):
        with pytest.raises(InternalError):
            decode_regression_result(body)
