"""TF Serving's gRPC calls answered over its REST API, with TF Serving's own JSON rules.

A PredictRequest goes as a columnar body (its TensorProtos refused when mistyped, as TF's
gRPC face would) and the JSON answer is typed back by the signature; tf.Example requests go
to `:classify` / `:regress` (MultiInference as one call per task, which TF's REST API lacks);
status and metadata are read back from TF's JSON into its response protos.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from seldon_tfserving.codec.tensors import as_ndarray
from seldon_tfserving.codec.tfserving_examples_json import (
    decode_classification_result,
    decode_regression_result,
    encode_classify_regress_request,
)
from seldon_tfserving.codec.tfserving_model_json import (
    SIGNATURE_DEF_FIELD,
    metadata_from_json,
    status_from_json,
)
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.tfserving.client import (
    DEFAULT_SIGNATURE,
    GrpcAnswer,
    GrpcMethod,
    ModelTarget,
    PredictCall,
    RestCall,
    RestVerb,
    SignatureSource,
    TfServingClient,
    elapsed_ms,
)
from seldon_tfserving.tfserving.model_spec import model_spec
from seldon_tfserving.tfserving.signatures import select_signature

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


def target_of(spec: model_pb2.ModelSpec) -> ModelTarget:
    """The servable a ModelSpec names (version and label are one choice in TF's proto)."""
    version = int(spec.version.value) if spec.HasField("version") else None
    return ModelTarget(spec.name, version, spec.version_label or None)


def _answering_spec(
    target: ModelTarget, signature_name: str, signatures: SignatureSource
) -> model_pb2.ModelSpec:
    """The model_spec TF Serving would answer with; REST replies name no version, so it is the
    one the target resolves to (the signature cache's, fetched once per version)."""
    version = target.version or signatures(target).version
    return model_spec(ModelTarget(target.name, version), signature_name)


def _predict(client: TfServingClient, request: Any, signatures: SignatureSource) -> Any:
    target = target_of(request.model_spec)
    name = request.model_spec.signature_name or DEFAULT_SIGNATURE
    signature = select_signature(signatures(target), name)
    result = client.predict(
        PredictCall(
            target,
            signature.name,
            dict(request.inputs),
            output_filter=tuple(request.output_filter),
            signature=signature,
        )
    )
    response = predict_pb2.PredictResponse(
        model_spec=_answering_spec(target, signature.name, signatures)
    )
    for output, tensor in result.outputs.items():
        spec = signature.outputs.get(output)
        response.outputs[output].CopyFrom(
            ndarray_to_tensor_proto(as_ndarray(tensor), None if spec is None else spec.dtype)
        )
    return response


def _examples_call(
    client: TfServingClient,
    verb: str,
    spec: model_pb2.ModelSpec,
    request_input: Any,
    signatures: SignatureSource,
) -> tuple[Any, model_pb2.ModelSpec]:
    """One classify or regress over REST: its result proto and the answering model_spec."""
    target = target_of(spec)
    name = spec.signature_name or DEFAULT_SIGNATURE
    body = encode_classify_regress_request(name, request_input)
    rest_verb: RestVerb = "classify" if verb == CLASSIFY_METHOD else "regress"
    answer = client.forward_rest(RestCall(rest_verb, target, body), signatures)
    if rest_verb == "classify":
        result: Any = decode_classification_result(answer.body)
    else:
        result = decode_regression_result(answer.body)
    return result, _answering_spec(target, name, signatures)


def _classify(client: TfServingClient, request: Any, signatures: SignatureSource) -> Any:
    result, spec = _examples_call(
        client, CLASSIFY_METHOD, request.model_spec, request.input, signatures
    )
    return classification_pb2.ClassificationResponse(model_spec=spec, result=result)


def _regress(client: TfServingClient, request: Any, signatures: SignatureSource) -> Any:
    result, spec = _examples_call(
        client, REGRESS_METHOD, request.model_spec, request.input, signatures
    )
    return regression_pb2.RegressionResponse(model_spec=spec, result=result)


def _multi_inference(client: TfServingClient, request: Any, signatures: SignatureSource) -> Any:
    if not request.tasks:
        raise InvalidInput("MultiInferenceRequest must contain at least one task")
    response = inference_pb2.MultiInferenceResponse()
    for task in request.tasks:
        if task.method_name not in (CLASSIFY_METHOD, REGRESS_METHOD):
            raise InvalidInput(f"Unsupported signature method_name: {task.method_name}")
        result, spec = _examples_call(
            client, task.method_name, task.model_spec, request.input, signatures
        )
        answered = response.results.add(model_spec=spec)
        if task.method_name == CLASSIFY_METHOD:
            answered.classification_result.CopyFrom(result)
        else:
            answered.regression_result.CopyFrom(result)
    return response


def _model_metadata(client: TfServingClient, request: Any, signatures: SignatureSource) -> Any:
    fields = list(request.metadata_field)
    if not fields:
        raise InvalidInput("GetModelMetadataRequest must specify at least one metadata_field")
    for field in fields:
        if field != SIGNATURE_DEF_FIELD:
            raise InvalidInput(f"Metadata field {field} is not supported")
    answer = client.forward_rest(RestCall("metadata", target_of(request.model_spec)), signatures)
    response: get_model_metadata_pb2.GetModelMetadataResponse = metadata_from_json(answer.body)
    return response


def _model_status(client: TfServingClient, request: Any, signatures: SignatureSource) -> Any:
    answer = client.forward_rest(RestCall("status", target_of(request.model_spec)), signatures)
    return status_from_json(answer.body)


_ANSWERS: dict[str, Callable[[TfServingClient, Any, SignatureSource], Any]] = {
    "Predict": _predict,
    "Classify": _classify,
    "Regress": _regress,
    "MultiInference": _multi_inference,
    "GetModelMetadata": _model_metadata,
    "GetModelStatus": _model_status,
}


def forward_grpc_over_rest(
    client: TfServingClient, method: GrpcMethod, request: Any, signatures: SignatureSource
) -> GrpcAnswer:
    """Answer a gRPC call as TF Serving's gRPC face would, making the REST calls it stands for."""
    started = time.perf_counter()
    response = _ANSWERS[method](client, request, signatures)
    return GrpcAnswer(response, elapsed_ms(started))
