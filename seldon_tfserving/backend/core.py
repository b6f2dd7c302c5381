"""The one serving path both faces share: find the version, check the request, run it.

The REST and gRPC faces only translate their wire format to these calls and back (MLServer's
dataplane idea). Errors are ours (`seldon_tfserving.errors`) with TF Serving's status codes and
messages; each face maps them once, at its edge.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
)

from seldon_tfserving.backend.loader import Array, LoadedVersion
from seldon_tfserving.backend.repository import ModelRepository
from seldon_tfserving.codec.json_tensors import tf_type_name
from seldon_tfserving.codec.tensor_proto import numpy_to_dtype, tensor_proto_to_ndarray
from seldon_tfserving.errors import FailedPrecondition, InvalidInput, NotFound

LOG = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
SIGNATURE_DEF_FIELD = "signature_def"
#: TensorFlow numbers each reference type as its value type plus 100 (DT_FLOAT_REF = 101).
_REF_OFFSET = 100


@dataclass(frozen=True)
class ModelRef:
    """A request's ModelSpec: the model name and at most one of version and label."""

    name: str
    version: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class Answered:
    """Which model, version and signature answered a call (every response's ModelSpec)."""

    model: str
    version: int
    signature_name: str

    def fill_spec(self, spec: Any) -> None:
        """Write it into a response's `tensorflow.serving.ModelSpec`."""
        spec.name = self.model
        spec.version.value = self.version
        spec.signature_name = self.signature_name


@dataclass(frozen=True)
class Prediction(Answered):
    """What a predict call answered, and which version and signature answered it."""

    outputs: dict[str, Array]
    dtypes: dict[str, int]


class ServingCore:
    """The models being served, and the operations TF Serving's APIs offer on them."""

    def __init__(self, repository: ModelRepository) -> None:
        self.repository = repository

    @property
    def model_names(self) -> list[str]:
        return sorted(self.repository.models)

    def close(self) -> None:
        self.repository.close()

    # -- finding the servable -------------------------------------------------------------

    def servable(self, ref: ModelRef) -> LoadedVersion:
        """The version a ModelSpec asks for: the given one, the labelled one, or the latest."""
        model = self.repository.models.get(ref.name)
        if ref.version is not None and ref.label:
            raise InvalidInput(
                f"Both model version ({ref.version}) and model version label ({ref.label}) "
                "cannot be supplied."
            )
        if ref.label:
            if model is None or ref.label not in model.labels:
                raise InvalidInput(f"Unrecognized servable version label: {ref.label}")
            version = model.labels[ref.label]
        else:
            version = ref.version if ref.version is not None else -1
        if model is None or not model.versions:
            what = f"Specific({ref.name}, {version})" if version >= 0 else f"Latest({ref.name})"
            raise NotFound(f"Servable not found for request: {what}")
        if version < 0:
            version = max(model.versions)
        servable = model.versions.get(version)
        if servable is None:
            raise NotFound(f"Servable not found for request: Specific({ref.name}, {version})")
        return servable

    @staticmethod
    def signature(servable: LoadedVersion, name: str) -> tuple[str, Any]:
        """(resolved name, SignatureDef); FAILED_PRECONDITION when absent, as TF Serving."""
        resolved = name or DEFAULT_SIGNATURE
        signature = servable.signatures.get(resolved)
        if signature is None:
            raise FailedPrecondition(f'Serving signature key "{resolved}" not found.')
        return resolved, signature

    def input_dtypes(self, ref: ModelRef, signature_name: str) -> dict[str, int]:
        """The signature's input dtypes, for typing a JSON body (REST's GetInfoMap)."""
        servable = self.servable(ref)
        resolved = signature_name or DEFAULT_SIGNATURE
        signature = servable.signatures.get(resolved)
        if signature is None:
            raise InvalidInput(f'Serving signature name: "{resolved}" not found in signature def')
        return {alias: _value_dtype(info.dtype) for alias, info in signature.inputs.items()}

    # -- predict ----------------------------------------------------------------------------

    def predict(
        self,
        ref: ModelRef,
        signature_name: str,
        inputs: Mapping[str, Array],
        output_filter: Sequence[str] = (),
        timeout_ms: int | None = None,
    ) -> Prediction:
        """TF Serving's Predict: check inputs against the signature, run, name the outputs."""
        servable = self.servable(ref)
        resolved, signature = self.signature(servable, signature_name)
        feeds = _feeds(signature, inputs)
        aliases = _output_aliases(signature, output_filter)
        fetched = servable.run(
            feeds, [signature.outputs[a].name for a in aliases], timeout_ms=timeout_ms
        )
        outputs = dict(zip(aliases, fetched, strict=True))
        dtypes = {a: _value_dtype(signature.outputs[a].dtype) for a in aliases}
        return Prediction(ref.name, servable.version, resolved, outputs, dtypes)

    # -- metadata and status ----------------------------------------------------------------

    def metadata(
        self, ref: ModelRef, fields: Sequence[str] = (SIGNATURE_DEF_FIELD,)
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """GetModelMetadata: the version's SignatureDefMap packed in an Any under signature_def."""
        if not fields:
            raise InvalidInput("GetModelMetadataRequest must specify at least one metadata_field")
        for name in fields:
            if name != SIGNATURE_DEF_FIELD:
                raise InvalidInput(f"Metadata field {name} is not supported")
        servable = self.servable(ref)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = ref.name
        response.model_spec.version.value = servable.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in servable.signatures.items():
            signature_map.signature_def[key].CopyFrom(signature)
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response

    def status(
        self, name: str, version: int | None = None
    ) -> get_model_status_pb2.GetModelStatusResponse:
        """GetModelStatus: every served version (or the one asked for) and its state."""
        model = self.repository.models.get(name)
        response = get_model_status_pb2.GetModelStatusResponse()
        known = (
            sorted({*model.versions, *model.ended, *model.retrying}) if model is not None else []
        )
        if version is not None:
            if version not in known:
                raise NotFound(f"Could not find version {version} of model {name}")
            known = [version]
        elif not known:
            raise NotFound(f"Could not find any versions of model {name}")
        assert model is not None
        for number in known:
            entry = response.model_version_status.add()
            entry.version = number
            entry.status.SetInParent()  # OK, written out as {"error_code": "OK", ...}
            if number in model.retrying:
                entry.state = get_model_status_pb2.ModelVersionStatus.LOADING
            elif number in model.ended and number not in model.versions:
                entry.state = get_model_status_pb2.ModelVersionStatus.END
                entry.status.error_code, entry.status.error_message = model.ended[number]
            else:
                entry.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


def _feeds(signature: Any, inputs: Mapping[str, Array]) -> dict[str, Array]:
    """Feeds by tensor name: every input known, none missing (unless defaulted), dtypes right."""
    expected = set(signature.inputs)
    sent = set(inputs)
    defaults = set(signature.defaults)
    missing = expected - sent
    if len(sent) > len(expected) or (len(sent) < len(expected) and not defaults):
        raise InvalidInput(
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
            f"Missing but required: {{{','.join(sorted(missing))}}}."
        )
    for alias in sorted(sent - expected):
        raise InvalidInput(
            f"input tensor alias not found in signature: {alias}. Inputs expected to be in "
            f"the set {{{','.join(sorted(expected))}}}."
        )
    if not missing <= defaults:
        raise InvalidInput(
            f"Missing but required inputs: {{{','.join(sorted(missing - defaults))}}}."
        )
    feeds: dict[str, Array] = {}
    for position, alias in enumerate(sorted(expected)):
        info = signature.inputs[alias]
        if alias in inputs:
            array = inputs[alias]
        else:
            array = tensor_proto_to_ndarray(signature.defaults[alias])
        actual, wanted = numpy_to_dtype(array.dtype), _value_dtype(info.dtype)
        if actual != wanted:
            raise InvalidInput(
                f"Expects arg[{position}] to be {tf_type_name(wanted)} but "
                f"{tf_type_name(actual)} is provided"
            )
        if array.dtype.kind in "SU":
            array = np.asarray(array, dtype=object)
        feeds[info.name] = array
    return feeds


def _value_dtype(dtype: int) -> int:
    """The value type of a signature dtype: reference types (DT_FLOAT_REF) are their base."""
    return int(dtype) - _REF_OFFSET if int(dtype) > _REF_OFFSET else int(dtype)


def _output_aliases(signature: Any, output_filter: Sequence[str]) -> list[str]:
    """The outputs to fetch: the filter's, checked and without duplicates, else all of them."""
    if not output_filter:
        return sorted(signature.outputs)
    seen: set[str] = set()
    for alias in output_filter:
        if alias not in signature.outputs:
            raise InvalidInput(
                f"output tensor alias not found in signature: {alias} Outputs expected to be "
                f"in the set {{{','.join(sorted(signature.outputs))}}}."
            )
        if alias in seen:
            raise InvalidInput(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return list(output_filter)
