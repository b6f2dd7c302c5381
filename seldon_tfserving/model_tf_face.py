"""TF Serving's own API on a TfServingModel: each call forwarded to its TF Serving with all the
wrapper adds (pinning, deadline, retries on UNAVAILABLE, message limit, TF's statuses).

The rules (README, "TF Serving's API on the wrapper"):
- the wrapper's `model_name` decides which TF model answers; the name in the URL or
  model_spec is the client's, which Seldon's executor puts into every node's URL;
- a version or label in the URL (or model_spec) is honoured when the wrapper is not pinned;
  one that contradicts a pinned version or label is a 400 / INVALID_ARGUMENT naming both;
- a request naming no signature calls the wrapper's `signature_name`;
- REST -> REST the body passes unparsed (only the URL is rewritten), gRPC -> gRPC the proto
  passes with only its model_spec rewritten; across transports it is converted once.
"""

from __future__ import annotations

from typing import Any

from seldon_tfserving.errors import ServingError
from seldon_tfserving.microservice.tf_faces import InferenceVerb, Metric, ModelPath, TfAnswer
from seldon_tfserving.model_tags import METRIC_LATENCY, TAG_MODEL, TAG_VERSION
from seldon_tfserving.tfserving.client import (
    DEFAULT_SIGNATURE,
    GrpcMethod,
    ModelTarget,
    RestCall,
    TfServingClient,
)
from seldon_tfserving.tfserving.signatures import SignatureCache

#: gRPC methods whose requests call a signature (metadata and status name none).
_SIGNED_METHODS = frozenset({"Predict", "Classify", "Regress", "MultiInference"})
_GRPC_METHODS: dict[str, GrpcMethod] = {
    "Predict": "Predict",
    "Classify": "Classify",
    "Regress": "Regress",
    "MultiInference": "MultiInference",
    "GetModelMetadata": "GetModelMetadata",
    "GetModelStatus": "GetModelStatus",
}
#: Seldon's metrics `method` tag of each gRPC inference call (a REST call's is its verb).
_METRIC_METHOD = {
    "Predict": "predict",
    "Classify": "classify",
    "Regress": "regress",
    "MultiInference": "multi_inference",
}


class TfServingModelFace:
    """The `ModelFace` of one TfServingModel: its client, pins and signature cache, shared
    with its Seldon face (one connection, one cache per process)."""

    def __init__(
        self,
        pinned: ModelTarget,
        client: TfServingClient,
        signatures: SignatureCache,
        default_signature: str,
    ) -> None:
        self._pinned = pinned
        self._client = client
        self._signatures = signatures
        self._default_signature = default_signature

    # --- REST -----------------------------------------------------------------------------

    def rest_infer(self, verb: InferenceVerb, path: ModelPath, body: bytes) -> TfAnswer:
        target = self._pinned.narrowed(path.version, path.label)
        call = RestCall(verb, target, body, self._default_signature)
        answer = self._client.forward_rest(call, self._signatures.get)
        version = self._answering_version(target, answer.model_version)
        return TfAnswer(answer.body, verb, self._latency(version, answer.duration_ms))

    def rest_status(self, path: ModelPath) -> TfAnswer:
        target = self._pinned.narrowed(path.version, path.label)
        answer = self._client.forward_rest(RestCall("status", target), self._signatures.get)
        return TfAnswer(answer.body, "status")

    def rest_metadata(self, path: ModelPath) -> TfAnswer:
        target = self._pinned.narrowed(path.version, path.label)
        answer = self._client.forward_rest(RestCall("metadata", target), self._signatures.get)
        return TfAnswer(answer.body, "metadata")

    # --- gRPC -----------------------------------------------------------------------------

    def grpc(self, method: str, request: Any) -> TfAnswer:
        grpc_method = _GRPC_METHODS[method]
        if grpc_method == "MultiInference":
            specs = [task.model_spec for task in request.tasks]
        else:
            specs = [request.model_spec]
        target = self._pinned
        for spec in specs:
            target = self._pin(spec, signed=grpc_method in _SIGNED_METHODS)
        answer = self._client.forward_grpc(grpc_method, request, self._signatures.get)
        metric_method = _METRIC_METHOD.get(grpc_method)
        if metric_method is None:  # metadata, status
            return TfAnswer(answer.response, grpc_method)
        version = self._answering_version(target, _response_version(grpc_method, answer.response))
        return TfAnswer(answer.response, metric_method, self._latency(version, answer.duration_ms))

    def _pin(self, spec: Any, signed: bool) -> ModelTarget:
        """Rewrite a request's model_spec to the servable this wrapper calls."""
        asked_version = int(spec.version.value) if spec.HasField("version") else None
        target = self._pinned.narrowed(asked_version, spec.version_label or None)
        spec.name = target.name
        if target.version is not None:
            spec.version.value = target.version
        elif target.label is not None:
            spec.version_label = target.label
        if signed and not spec.signature_name and self._default_signature != DEFAULT_SIGNATURE:
            spec.signature_name = self._default_signature
        return target

    # --- what was answered ------------------------------------------------------------------

    def _answering_version(self, target: ModelTarget, answered: int | None) -> int | None:
        """The version that answered: as TF Serving said, else as pinned or last resolved."""
        if answered is not None:
            self._signatures.observe(target, answered)
            return answered
        known = self._signatures.resolved_version(target)
        if known is not None:
            return known
        try:
            return self._signatures.get(target).version
        except ServingError:
            return None  # the answer stands; only its version label stays empty

    def _latency(self, version: int | None, duration_ms: float) -> list[Metric]:
        """The TIMER of the call to TF Serving, per model and answering version."""
        tags = {TAG_MODEL: self._pinned.name, TAG_VERSION: "" if version is None else str(version)}
        return [{"type": "TIMER", "key": METRIC_LATENCY, "value": duration_ms, "tags": tags}]


def _response_version(method: GrpcMethod, response: Any) -> int | None:
    if method == "MultiInference":
        if not response.results:
            return None
        spec = response.results[0].model_spec
    else:
        spec = response.model_spec
    return int(spec.version.value) if spec.HasField("version") else None
