"""SignatureDefs read from GetModelMetadata, and a cache of them keyed by model version.

The cache never outlives a model update: entries are keyed by (model, version), and the
version an unpinned or labelled target resolves to is forgotten as soon as a reply comes
from another version, so a new export's signature is read before it is used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import json_format
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from seldon_tfserving.errors import FailedPrecondition, InternalError
from seldon_tfserving.tfserving.client import ModelSignatures, ModelTarget, Signature, TensorSpec


def _tensor_spec(key: str, info: meta_graph_pb2.TensorInfo) -> TensorSpec:
    if info.tensor_shape.unknown_rank:
        shape: tuple[int, ...] | None = None
    else:
        shape = tuple(int(dim.size) for dim in info.tensor_shape.dim)
    return TensorSpec(name=key, tensor_name=info.name, dtype=int(info.dtype), shape=shape)


def signature_from_proto(name: str, proto: meta_graph_pb2.SignatureDef) -> Signature:
    """A Signature from a SignatureDef, inputs and outputs sorted by key (TF's own order)."""
    return Signature(
        name=name,
        method_name=proto.method_name,
        inputs={key: _tensor_spec(key, proto.inputs[key]) for key in sorted(proto.inputs)},
        outputs={key: _tensor_spec(key, proto.outputs[key]) for key in sorted(proto.outputs)},
    )


def signatures_from_map(
    model_name: str, version: int, signature_map: get_model_metadata_pb2.SignatureDefMap
) -> ModelSignatures:
    return ModelSignatures(
        model_name=model_name,
        version=version,
        signatures={
            key: signature_from_proto(key, signature_map.signature_def[key])
            for key in sorted(signature_map.signature_def)
        },
    )


def signatures_from_grpc(
    response: get_model_metadata_pb2.GetModelMetadataResponse,
) -> ModelSignatures:
    """Read GetModelMetadata's gRPC answer (the `signature_def` Any holds a SignatureDefMap)."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    packed = response.metadata.get("signature_def")
    if packed is None or not packed.Unpack(signature_map):
        raise InternalError("GetModelMetadata answered without a signature_def map")
    return signatures_from_map(
        response.model_spec.name, int(response.model_spec.version.value), signature_map
    )


def signatures_from_json(body: Mapping[str, Any]) -> ModelSignatures:
    """Read TF Serving's REST `/metadata` answer (the same map, in proto JSON form)."""
    try:
        spec = body["model_spec"]
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        json_format.ParseDict(body["metadata"]["signature_def"], signature_map)
        version = int(spec.get("version", 0))
    except (KeyError, TypeError, ValueError, json_format.ParseError) as exc:
        raise InternalError(f"unreadable model metadata from TF Serving: {exc}") from None
    return signatures_from_map(str(spec.get("name", "")), version, signature_map)


def select_signature(signatures: ModelSignatures, name: str) -> Signature:
    """The named signature; TF Serving's own status and words when the model lacks it."""
    try:
        return signatures.signatures[name]
    except KeyError:
        raise FailedPrecondition(
            f'Serving signature key "{name}" not found. Model {signatures.model_name!r} '
            f"version {signatures.version} has: {', '.join(signatures.signatures) or 'none'}"
        ) from None


class SignatureCache:
    """GetModelMetadata once per (model, version); thread-safe; `fetch` runs unlocked."""

    def __init__(self, fetch: Callable[[ModelTarget], ModelSignatures]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._by_version: dict[tuple[str, int], ModelSignatures] = {}
        self._resolved: dict[ModelTarget, int] = {}

    def get(self, target: ModelTarget) -> ModelSignatures:
        """The signatures of the version `target` resolves to, fetched on first use."""
        with self._lock:
            version = target.version if target.version is not None else self._resolved.get(target)
            if version is not None:
                cached = self._by_version.get((target.name, version))
                if cached is not None:
                    return cached
        fetched = self._fetch(target)
        with self._lock:
            self._by_version[(target.name, fetched.version)] = fetched
            if target.version is None:
                self._resolved[target] = fetched.version
        return fetched

    def observe(self, target: ModelTarget, version: int | None) -> None:
        """A reply for `target` came from `version`: forget a resolution that no longer holds."""
        if version is None or target.version is not None:
            return
        with self._lock:
            if self._resolved.get(target, version) != version:
                del self._resolved[target]

    def resolved_version(self, target: ModelTarget) -> int | None:
        """The version `target` was last seen to resolve to, if known."""
        if target.version is not None:
            return target.version
        with self._lock:
            return self._resolved.get(target)

    def clear(self) -> None:
        with self._lock:
            self._by_version.clear()
            self._resolved.clear()
