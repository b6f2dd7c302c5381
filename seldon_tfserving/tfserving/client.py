"""The one interface both TF Serving transports implement, and the values they exchange.

A tensor travels as whichever form it already has (a `TensorProto` from gRPC or a Seldon
tftensor, a numpy array from JSON); each transport converts only what it must, once.
"""

from __future__ import annotations

import abc
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from seldon_tfserving.codec.tensors import Tensor
from seldon_tfserving.settings import TfServingSettings


@dataclass(frozen=True)
class ModelTarget:
    """Which servable answers: a model, optionally pinned to a version or a version label."""

    name: str
    version: int | None = None
    label: str | None = None

    @classmethod
    def from_settings(cls, settings: TfServingSettings) -> ModelTarget:
        return cls(settings.model_name, settings.model_version, settings.version_label)

    def describe(self) -> str:
        if self.version is not None:
            return f"model {self.name!r} version {self.version}"
        if self.label is not None:
            return f"model {self.name!r} label {self.label!r}"
        return f"model {self.name!r}"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a SignatureDef: its key, graph tensor, DataType and shape.

    `shape` is None when the rank is unknown; an unknown dimension is -1.
    """

    name: str
    tensor_name: str
    dtype: int
    shape: tuple[int, ...] | None


@dataclass(frozen=True)
class Signature:
    """A SignatureDef, reduced to what a caller needs to build a request and read a reply."""

    name: str
    method_name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]


@dataclass(frozen=True)
class ModelSignatures:
    """Every SignatureDef of one loaded model version (GetModelMetadata's answer)."""

    model_name: str
    version: int
    signatures: Mapping[str, Signature]


@dataclass(frozen=True)
class VersionStatus:
    """One version's state as GetModelStatus reports it (`AVAILABLE`, `LOADING`, ...)."""

    version: int
    state: str
    error_message: str = ""


@dataclass(frozen=True)
class PredictCall:
    """One Predict: tensors by signature input key, and the outputs wanted (all if empty).

    `signature` types a JSON answer (REST); gRPC answers carry their own dtypes.
    """

    target: ModelTarget
    signature_name: str
    inputs: Mapping[str, Tensor]
    output_filter: tuple[str, ...] = ()
    signature: Signature | None = None


@dataclass(frozen=True)
class PredictResult:
    """TF Serving's answer, in the same shape whichever transport carried it."""

    outputs: Mapping[str, Tensor]
    model_name: str
    model_version: int | None
    signature_name: str
    duration_ms: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class JsonAnswer:
    """TF Serving's JSON answer to a REST predict body, and which version gave it if known."""

    body: Mapping[str, Any]
    model_version: int | None
    duration_ms: float = field(default=0.0, compare=False)


class TfServingClient(abc.ABC):
    """A TF Serving endpoint: Predict, GetModelMetadata, GetModelStatus, raw REST JSON.

    Implementations raise only `seldon_tfserving.errors.ServingError`s, keep one connection
    pool per process (re-created after a fork), bound every call by `timeout_ms`, and retry
    only what is safe to retry (UNAVAILABLE) with exponential backoff and jitter.
    """

    def __init__(self, settings: TfServingSettings) -> None:
        self.settings = settings

    @property
    @abc.abstractmethod
    def endpoint(self) -> str:
        """Where this client sends its calls (for messages and logs)."""

    @abc.abstractmethod
    def predict(self, call: PredictCall) -> PredictResult:
        """Run one Predict."""

    @abc.abstractmethod
    def metadata(self, target: ModelTarget) -> ModelSignatures:
        """The SignatureDefs of the version `target` resolves to (GetModelMetadata)."""

    @abc.abstractmethod
    def status(self, target: ModelTarget) -> list[VersionStatus]:
        """The state of each version of the model, or of the pinned version (GetModelStatus)."""

    @abc.abstractmethod
    def predict_json(
        self, target: ModelTarget, body: Mapping[str, Any], signature: Signature
    ) -> JsonAnswer:
        """Answer a TF Serving REST predict body (`instances`/`inputs`) with TF's JSON.

        `signature` is the one the body names (or the default); its dtypes type the JSON.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release this process's connection (a later call opens a new one)."""

    def backoff_delays(self) -> Iterator[float]:
        """Seconds to sleep before each retry: exponential from 50 ms, capped at 1 s, jittered."""
        for attempt in range(self.settings.max_retries):
            ceiling = min(1.0, 0.05 * 2**attempt)
            yield random.uniform(ceiling / 2, ceiling)


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading)."""
    return (time.perf_counter() - started) * 1000.0
