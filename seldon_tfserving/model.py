"""`seldon-core-microservice seldon_tfserving.TfServingModel`: Seldon in front, TF Serving behind.

The Seldon class contract only: parameters become `TfServingSettings`, every payload is read
with `codec.seldon`, the call goes through one `TfServingClient` (gRPC or REST), and the
answer goes back in the request's own form with tags and a latency metric. Failures are our
`ServingError`s, which `SeldonComponent` answers with their real HTTP and gRPC status.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from seldon_core.utils import get_request_path
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import model_pb2

from seldon_tfserving.codec.seldon import (
    SeldonRequest,
    build_response,
    custom_data_response,
    json_data_response,
    read_request,
    unpack_predict_request,
)
from seldon_tfserving.codec.seldon_inputs import (
    InputSpec,
    choose_inputs,
    data_inputs,
    scalar_string_input,
    split_columns,
)
from seldon_tfserving.codec.tensors import Tensor, as_ndarray
from seldon_tfserving.component import SeldonComponent
from seldon_tfserving.errors import InvalidInput, NotFound, ServingError, Unavailable
from seldon_tfserving.settings import TfServingSettings
from seldon_tfserving.tfserving import client_for
from seldon_tfserving.tfserving.client import (
    ModelSignatures,
    ModelTarget,
    PredictCall,
    PredictResult,
    Signature,
    TensorSpec,
)
from seldon_tfserving.tfserving.signatures import SignatureCache, select_signature

logger = logging.getLogger(__name__)

#: The Seldon `meta.tags` keys that say who answered.
TAG_MODEL = "tfserving_model"
TAG_VERSION = "tfserving_version"
TAG_SIGNATURE = "tfserving_signature"
#: The Seldon TIMER metric (milliseconds) timing each call to TF Serving.
METRIC_LATENCY = "tfserving_request_duration"

#: TF DataType -> the datatype names Seldon's metadata schema allows.
_SELDON_DATATYPE = {
    types_pb2.DT_BOOL: "BOOL",
    types_pb2.DT_UINT8: "UINT8",
    types_pb2.DT_UINT16: "UINT16",
    types_pb2.DT_UINT32: "UINT32",
    types_pb2.DT_UINT64: "UINT64",
    types_pb2.DT_INT8: "INT8",
    types_pb2.DT_INT16: "INT16",
    types_pb2.DT_INT32: "INT32",
    types_pb2.DT_INT64: "INT64",
    types_pb2.DT_HALF: "FP16",
    types_pb2.DT_FLOAT: "FP32",
    types_pb2.DT_DOUBLE: "FP64",
    types_pb2.DT_STRING: "BYTES",
}


class TfServingModel(SeldonComponent):
    """A Seldon MODEL that forwards every request to the TF Serving next to it."""

    settings_type = TfServingSettings

    def __init__(self, **parameters: Any) -> None:
        super().__init__()
        self.settings = TfServingSettings.from_parameters(**parameters)
        self.target = ModelTarget.from_settings(self.settings)
        self.client = client_for(self.settings)
        self.signatures = SignatureCache(self.client.metadata)

    # --- lifecycle -------------------------------------------------------------------------

    def load(self) -> None:
        """Warm the signature cache in this worker; never blocks past one call's deadline."""
        try:
            self.signatures.get(self.target)
        except ServingError as error:
            logger.warning("TF Serving not ready yet, requests will say so: %s", error.message)

    def init_metadata(self) -> dict[str, Any]:
        """Seldon's /metadata from the SignatureDef; waits up to ready_timeout_s for the model.

        Seldon calls this before gunicorn forks its workers, so the connection used here is
        closed before returning: no worker inherits it.
        """
        deadline = time.monotonic() + self.settings.ready_timeout_s
        try:
            while True:
                try:
                    self._require_available()
                    return self._metadata(self.signatures.get(self.target))
                except ServingError as error:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        logger.error(
                            "%s not ready after %ss; /metadata will lack its signature: %s",
                            self.target.describe(),
                            self.settings.ready_timeout_s,
                            error.message,
                        )
                        return self._metadata(None)
                    time.sleep(min(0.5, remaining))
        finally:
            self.client.close()

    def health_status(self) -> dict[str, Any]:
        """Healthy only when GetModelStatus says the pinned (or some) version is AVAILABLE."""
        version = self._require_available()
        return {"model": self.target.name, "version": version, "state": "AVAILABLE"}

    # --- prediction ------------------------------------------------------------------------

    def predict_raw(self, message: Any) -> Any:
        """Every Seldon payload kind, over REST (dict) and gRPC (SeldonMessage)."""
        if isinstance(message, bytes | str):  # PAYLOAD_PASSTHROUGH: Seldon left the body raw
            try:
                parsed = json.loads(message)
            except ValueError as exc:
                raise InvalidInput(f"the request is not JSON: {exc}") from None
            return json.dumps(self._predict(read_request(parsed)))
        return self._predict(read_request(message))

    def _predict(self, request: SeldonRequest) -> Any:
        if request.kind == "jsonData":
            return self._predict_json(request)
        if request.kind == "customData":
            return self._predict_custom(request)
        signature = self._signature(self.settings.signature_name)
        specs = choose_inputs(
            list(signature.inputs.values()), request.names, self.settings.model_input
        )
        output_filter = (self.settings.model_output,) if self.settings.model_output else ()
        result = self._call(
            PredictCall(
                self.target,
                signature.name,
                _inputs(request, specs),
                output_filter=output_filter,
                signature=signature,
            )
        )
        outputs = self._chosen_outputs(result, signature)
        return build_response(request, outputs, self._meta(request, result))

    def _predict_json(self, request: SeldonRequest) -> Any:
        body = request.value
        if "instances" not in body and "inputs" not in body:
            raise InvalidInput(
                "jsonData must hold a TF Serving predict body with 'instances' or 'inputs'"
            )
        name = body.get("signature_name") or self.settings.signature_name
        if not isinstance(name, str):
            raise InvalidInput("jsonData.signature_name must be a string")
        signature = self._signature(name)
        answer = self.client.predict_json(self.target, body, signature)
        self.signatures.observe(self.target, answer.model_version)
        version = answer.model_version or self.signatures.resolved_version(self.target)
        meta = self._meta_for(request, version, signature.name, answer.duration_ms)
        return json_data_response(request, answer.body, meta)

    def _predict_custom(self, request: SeldonRequest) -> Any:
        tf_request = unpack_predict_request(request)
        signature = self._signature(
            tf_request.model_spec.signature_name or self.settings.signature_name
        )
        result = self._call(
            PredictCall(
                self.target,
                signature.name,
                dict(tf_request.inputs),
                output_filter=tuple(tf_request.output_filter),
                signature=signature,
            )
        )
        spec = model_pb2.ModelSpec(name=result.model_name, signature_name=result.signature_name)
        if result.model_version is not None:
            spec.version.value = result.model_version
        return custom_data_response(result.outputs, spec, self._meta(request, result))

    # --- helpers ---------------------------------------------------------------------------

    def _signature(self, name: str) -> Signature:
        return select_signature(self.signatures.get(self.target), name)

    def _call(self, call: PredictCall) -> PredictResult:
        result = self.client.predict(call)
        self.signatures.observe(self.target, result.model_version)
        return result

    def _chosen_outputs(self, result: PredictResult, signature: Signature) -> dict[str, Tensor]:
        wanted = self.settings.model_output
        if wanted is None:
            return dict(result.outputs)
        if wanted not in result.outputs:
            raise InvalidInput(
                f"model_output {wanted!r} is not an output of signature {signature.name!r}; "
                f"its outputs are {', '.join(signature.outputs)}"
            )
        return {wanted: result.outputs[wanted]}

    def _meta(self, request: SeldonRequest, result: PredictResult) -> dict[str, Any]:
        version = result.model_version or self.signatures.resolved_version(self.target)
        return self._meta_for(request, version, result.signature_name, result.duration_ms)

    def _meta_for(
        self, request: SeldonRequest, version: int | None, signature: str, duration_ms: float
    ) -> dict[str, Any]:
        """Seldon's response meta: the request's tags and puid kept, ours and a timer added."""
        tags = dict(request.meta.get("tags") or {})
        tags.update(
            {
                TAG_MODEL: self.target.name,
                TAG_VERSION: "" if version is None else str(version),
                TAG_SIGNATURE: signature,
            }
        )
        meta: dict[str, Any] = {
            "tags": tags,
            "metrics": [{"type": "TIMER", "key": METRIC_LATENCY, "value": duration_ms}],
        }
        if request.puid:
            meta["puid"] = request.puid
        request_path = {**get_request_path(), **(request.meta.get("requestPath") or {})}
        if request_path:
            meta["requestPath"] = request_path
        return meta

    def _require_available(self) -> int:
        """The version that answers, or Unavailable when GetModelStatus says none is ready."""
        try:
            statuses = self.client.status(self.target)
        except NotFound as error:
            raise Unavailable(
                f"{self.target.describe()} is not available: {error.message}"
            ) from None
        if self.target.version is not None:
            statuses = [s for s in statuses if s.version == self.target.version]
        available = [s.version for s in statuses if s.state == "AVAILABLE"]
        if not available:
            states = ", ".join(f"{s.version}: {s.state}" for s in statuses) or "no versions"
            raise Unavailable(f"{self.target.describe()} is not available ({states})")
        if self.target.label is not None:
            return self.client.metadata(self.target).version
        return self.target.version or max(available)

    def _metadata(self, signatures: ModelSignatures | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": self.target.name,
            "platform": "tensorflow",
            "custom": {"signature_name": self.settings.signature_name},
        }
        if self.target.label is not None:
            metadata["custom"]["version_label"] = self.target.label
        if signatures is None:
            return metadata
        metadata["versions"] = [str(signatures.version)]
        signature = signatures.signatures.get(self.settings.signature_name)
        if signature is None:
            return metadata
        inputs, outputs = signature.inputs, signature.outputs
        chosen_input, chosen_output = self.settings.model_input, self.settings.model_output
        if chosen_input is not None and chosen_input in inputs:
            inputs = {chosen_input: inputs[chosen_input]}
        if chosen_output is not None and chosen_output in outputs:
            outputs = {chosen_output: outputs[chosen_output]}
        metadata["inputs"] = [_tensor_metadata(spec) for spec in inputs.values()]
        metadata["outputs"] = [_tensor_metadata(spec) for spec in outputs.values()]
        return metadata


def _tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": spec.name}
    if spec.dtype in _SELDON_DATATYPE:
        entry["datatype"] = _SELDON_DATATYPE[spec.dtype]
    if spec.shape is not None:
        entry["shape"] = list(spec.shape)
    return entry


def _inputs(request: SeldonRequest, specs: Sequence[InputSpec]) -> Mapping[str, Tensor]:
    """The PredictRequest inputs a Seldon payload stands for; a tftensor goes as it came."""
    if request.kind == "tftensor":
        if len(specs) == 1:
            return {specs[0].name: request.value}
        return split_columns(as_ndarray(request.value), specs)
    if request.kind in ("strData", "binData"):
        if len(specs) != 1:
            raise InvalidInput(f"{request.kind} feeds one input; set model_input")
        value = request.value
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return {specs[0].name: scalar_string_input(raw, specs[0])}
    return data_inputs(request.value, specs)
