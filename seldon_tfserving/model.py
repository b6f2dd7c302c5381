"""`seldon-core-microservice seldon_tfserving.TfServingModel`: Seldon in front, TF Serving behind.

The Seldon class contract: parameters become `TfServingSettings`, every payload is read with
`codec.seldon`, the call goes through one `TfServingClient` (gRPC or REST) that knows only its
endpoint, and the answer goes back in the request's own form with tags and a latency metric.
Failures are our `ServingError`s, which `SeldonComponent` answers with their real HTTP and
gRPC status. TF Serving's own API is its TF face (`tf_faces`, `model_tf_face.py`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from seldon_core.user_model import SeldonNotImplementedError
from seldon_core.utils import extract_feedback_request_parts, get_request_path
from tensorflow.core.framework import types_pb2

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
    check_column_names,
    choose_inputs,
    data_inputs,
    names_pick_inputs,
    scalar_string_input,
    split_columns,
)
from seldon_tfserving.codec.tensor_cast import conformed_tensor, converted_array
from seldon_tfserving.codec.tensors import Tensor, as_ndarray, tensor_shape
from seldon_tfserving.errors import InvalidInput, NotFound, ServingError, Unavailable
from seldon_tfserving.microservice.component import SeldonComponent
from seldon_tfserving.microservice.tf_faces import TfFaces
from seldon_tfserving.model_tags import METRIC_LATENCY, TAG_MODEL, TAG_SIGNATURE, TAG_VERSION
from seldon_tfserving.settings import TfServingSettings
from seldon_tfserving.tfserving import client_for
from seldon_tfserving.tfserving.client import (
    EndpointSettings,
    ModelSignatures,
    ModelTarget,
    PredictCall,
    PredictResult,
    Signature,
    TensorSpec,
)
from seldon_tfserving.tfserving.model_spec import model_spec
from seldon_tfserving.tfserving.signatures import SignatureCache, select_signature

logger = logging.getLogger(__name__)


#: What Seldon's decoding of a feedback's request and truth raises on a payload it cannot read
#: (numpy's reshape and frombuffer, tf.make_ndarray's dtype lookup; our codec's InvalidInput
#: where it stands in for tf.make_ndarray, in a process with TensorFlow's protos only).
_UNDECODABLE = (ValueError, TypeError, KeyError, IndexError, OverflowError, InvalidInput)

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
        self.target = ModelTarget(
            self.settings.model_name, self.settings.model_version, self.settings.version_label
        )
        self.client = client_for(tfserving_endpoint(self.settings))
        self.signatures = SignatureCache(self.client.metadata)
        #: Seldon's requestPath entry for this unit, read from the pod's environment once
        #: (Seldon reads it on every request; it cannot change while the process runs)
        self.request_path: dict[str, str] = get_request_path()

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

    def tf_faces(self) -> TfFaces:
        """TF Serving's own REST and gRPC API beside Seldon's (rules: `model_tf_face.py`)."""
        from seldon_tfserving.model_tf_face import TfServingModelFace

        return TfFaces(
            model=TfServingModelFace(
                self.target, self.client, self.signatures, self.settings.signature_name
            ),
            max_request_bytes=self.settings.max_message_bytes,
        )

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
        inputs = list(signature.inputs.values())
        specs = choose_inputs(inputs, request.names, self.settings.model_input)
        picked = names_pick_inputs(inputs, request.names, self.settings.model_input)
        output_filter = (self.settings.model_output,) if self.settings.model_output else ()
        result = self._call(
            PredictCall(
                self.target,
                signature.name,
                _inputs(request, specs, () if picked else request.names),
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
        answered = ModelTarget(result.model_name, result.model_version)
        spec = model_spec(answered, result.signature_name)
        return custom_data_response(result.outputs, spec, self._meta(request, result))

    # --- feedback --------------------------------------------------------------------------

    def send_feedback_raw(self, feedback: Any) -> Any:
        """A model learns nothing from feedback and Seldon answers it; its payloads are first
        decoded as Seldon then will, so that one it cannot decode is a 400 (as our routers
        answer), not a 500 from inside Seldon."""
        try:
            extract_feedback_request_parts(feedback)
        except _UNDECODABLE as error:
            raise InvalidInput(f"feedback cannot be decoded: {error}") from None
        raise SeldonNotImplementedError("feedback decoded; Seldon's own path answers it")

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
        request_path = {**self.request_path, **(request.meta.get("requestPath") or {})}
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


def tfserving_endpoint(settings: TfServingSettings) -> EndpointSettings:
    """The one TF Serving endpoint `settings.transport` calls, and how patiently."""
    endpoint = settings.rest_endpoint if settings.transport == "rest" else settings.grpc_endpoint
    return EndpointSettings(
        endpoint=endpoint,
        transport=settings.transport,
        timeout_ms=settings.timeout_ms,
        max_retries=settings.max_retries,
        max_message_bytes=settings.max_message_bytes,
    )


def _tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": spec.name}
    if spec.dtype in _SELDON_DATATYPE:
        entry["datatype"] = _SELDON_DATATYPE[spec.dtype]
    if spec.shape is not None:
        entry["shape"] = list(spec.shape)
    return entry


def _inputs(
    request: SeldonRequest, specs: Sequence[InputSpec], column_names: Sequence[str]
) -> Mapping[str, Tensor]:
    """The PredictRequest inputs a Seldon payload stands for; a tftensor of the input's dtype
    goes as it came, one of another dtype is converted only where no value is lost."""
    if request.kind == "tftensor":
        if column_names:  # the shape is read only to check them
            check_column_names(column_names, tensor_shape(request.value))
        if len(specs) == 1:
            spec = specs[0]
            return {spec.name: conformed_tensor(request.value, spec.dtype, f"input {spec.name!r}")}
        return split_columns(as_ndarray(request.value), specs, cast=converted_array)
    if request.kind in ("strData", "binData"):
        if len(specs) != 1:
            raise InvalidInput(f"{request.kind} feeds one input; set model_input")
        value = request.value
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return {specs[0].name: scalar_string_input(raw, specs[0])}
    inputs = data_inputs(request.value, specs)
    for tensor in inputs.values() if column_names else ():
        check_column_names(column_names, tensor_shape(tensor))
    return inputs
