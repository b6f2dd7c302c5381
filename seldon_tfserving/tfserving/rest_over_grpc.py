"""TF Serving's REST calls answered over its gRPC API, with TF Serving's own JSON rules.

A predict body is typed by the signature it names (or the call's default), sent as a
PredictRequest, and the outputs written back as TF Serving's REST face writes them; classify
and regress bodies become tf.Example requests; status and metadata come back as TF's JSON.
Each body is parsed once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    regression_pb2,
)

from seldon_tfserving.codec.tensors import Array, as_ndarray
from seldon_tfserving.codec.tfserving_examples_json import (
    decode_classify_regress_request,
    encode_classification_result,
    encode_regression_result,
)
from seldon_tfserving.codec.tfserving_json import decode_predict_request, encode_predict_response
from seldon_tfserving.codec.tfserving_model_json import (
    SIGNATURE_DEF_FIELD,
    metadata_json,
    status_json,
)
from seldon_tfserving.tfserving.client import (
    ModelTarget,
    PredictCall,
    PredictResult,
    RestAnswer,
    RestCall,
    Signature,
    SignatureSource,
    TfServingClient,
    elapsed_ms,
)
from seldon_tfserving.tfserving.model_spec import model_spec
from seldon_tfserving.tfserving.signatures import select_signature


@dataclass(frozen=True)
class PredictedBody:
    """A predict body's outputs from TF Serving, with what TF's JSON answer needs to write them."""

    outputs: dict[str, Array]
    columnar: bool
    dtypes: dict[str, int]
    result: PredictResult


def predict_body(
    client: TfServingClient,
    target: ModelTarget,
    body: bytes | Mapping[str, Any],
    signature_for: Callable[[str], Signature],
) -> PredictedBody:
    """Decode a predict body with its signature's dtypes and Predict it through `client`.

    `signature_for(name)` is the signature the body names ("" when it names none).
    """
    chosen: list[Signature] = []

    def input_dtypes(name: str) -> dict[str, int]:
        chosen.append(signature_for(name))
        return {key: spec.dtype for key, spec in chosen[-1].inputs.items()}

    request = decode_predict_request(body, input_dtypes)
    signature = chosen[-1]
    result = client.predict(
        PredictCall(target, signature.name, request.inputs, signature=signature)
    )
    outputs = {name: as_ndarray(tensor) for name, tensor in result.outputs.items()}
    dtypes = {name: spec.dtype for name, spec in signature.outputs.items()}
    return PredictedBody(outputs, request.columnar, dtypes, result)


def answer_predict_body(
    client: TfServingClient,
    target: ModelTarget,
    body: bytes | Mapping[str, Any],
    signature_for: Callable[[str], Signature],
) -> tuple[bytes, PredictResult]:
    """TF Serving's JSON answer to a predict body, through `client.predict`."""
    predicted = predict_body(client, target, body, signature_for)
    encoded = encode_predict_response(
        predicted.outputs, columnar=predicted.columnar, dtypes=predicted.dtypes
    )
    return encoded, predicted.result


def _version(spec: Any) -> int | None:
    return int(spec.version.value) if spec.HasField("version") else None


def forward_rest_over_grpc(
    client: TfServingClient, call: RestCall, signatures: SignatureSource
) -> RestAnswer:
    """Answer `call` as TF Serving's REST face would, making the gRPC call it stands for."""
    started = time.perf_counter()
    target = call.target
    if call.verb == "predict":

        def signature_for(name: str) -> Signature:
            return select_signature(signatures(target), name or call.default_signature)

        body, result = answer_predict_body(client, target, call.body, signature_for)
        return RestAnswer(body, result.model_version, elapsed_ms(started))
    if call.verb in ("classify", "regress"):
        signature_name, request_input = decode_classify_regress_request(call.body)
        spec = model_spec(target, signature_name or call.default_signature)
        if call.verb == "classify":
            classify = classification_pb2.ClassificationRequest(
                model_spec=spec, input=request_input
            )
            answer = client.forward_grpc("Classify", classify, signatures)
            body = encode_classification_result(answer.response.result)
        else:
            regress = regression_pb2.RegressionRequest(model_spec=spec, input=request_input)
            answer = client.forward_grpc("Regress", regress, signatures)
            body = encode_regression_result(answer.response.result)
        return RestAnswer(body, _version(answer.response.model_spec), elapsed_ms(started))
    if call.verb == "metadata":
        metadata = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=model_spec(target), metadata_field=[SIGNATURE_DEF_FIELD]
        )
        answer = client.forward_grpc("GetModelMetadata", metadata, signatures)
        body = metadata_json(answer.response)
        return RestAnswer(body, _version(answer.response.model_spec), elapsed_ms(started))
    status = get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(target))
    answer = client.forward_grpc("GetModelStatus", status, signatures)
    return RestAnswer(status_json(answer.response), target.version, elapsed_ms(started))
