"""The one interface both TF Serving transports implement, and the values they exchange.

A client knows one endpoint (`EndpointSettings`), not the Seldon class that uses it. A tensor
travels as whichever form it already has (a `TensorProto` from gRPC or a Seldon tftensor, a
numpy array from JSON); each transport converts only what it must, once.
"""

from __future__ import annotations

import abc
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from seldon_tfserving.caller_deadline import remaining_s
from seldon_tfserving.codec.tensors import Tensor
from seldon_tfserving.errors import DeadlineExceeded, InvalidInput, Unavailable
from seldon_tfserving.settings import Transport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndpointSettings:
    """One TF Serving endpoint and how patiently to call it: all a transport needs to know."""

    #: `host:port` / `unix:path` (gRPC) or `http(s)://host:port[/prefix]` (REST)
    endpoint: str
    transport: Transport
    #: deadline of every call
    timeout_ms: int
    #: retries of a call that found TF Serving unavailable
    max_retries: int
    #: largest request or answer, either direction
    max_message_bytes: int

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000.0


@dataclass(frozen=True)
class ModelTarget:
    """Which servable answers: a model, optionally pinned to a version or a version label."""

    name: str
    version: int | None = None
    label: str | None = None

    def describe(self) -> str:
        if self.version is not None:
            return f"model {self.name!r} version {self.version}"
        if self.label is not None:
            return f"model {self.name!r} label {self.label!r}"
        return f"model {self.name!r}"

    def narrowed(self, version: int | None, label: str | None) -> ModelTarget:
        """This target with the version or label a caller asked for: taken when this one is
        unpinned, kept when it repeats the pin, refused (InvalidInput, naming both) otherwise."""
        if version is None and label is None:
            return self
        if self.version is None and self.label is None:
            return ModelTarget(self.name, version, None if version is not None else label)
        if version == self.version and (version is not None or label == self.label):
            return self
        asked = f"version {version}" if version is not None else f"label {label!r}"
        pinned = f"version {self.version}" if self.version is not None else f"label {self.label!r}"
        raise InvalidInput(
            f"the request asks for {asked} of model {self.name!r}, but this wrapper is pinned "
            f"to {pinned} (model_version / version_label): ask for {pinned} or for none"
        )


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


#: TF Serving's REST calls: the three inference verbs (POST), model status and metadata (GET).
RestVerb = Literal["predict", "classify", "regress", "status", "metadata"]
#: TF Serving's gRPC methods (PredictionService's, and ModelService's GetModelStatus).
GrpcMethod = Literal[
    "Predict", "Classify", "Regress", "MultiInference", "GetModelMetadata", "GetModelStatus"
]
#: The signature TF Serving calls when a request names none.
DEFAULT_SIGNATURE = "serving_default"


@dataclass(frozen=True)
class RestCall:
    """One call of TF Serving's REST API, its body (if any) as the caller wrote it.

    `default_signature` is the signature meant when the body names none (TF's own default
    unless the wrapper is configured for another).
    """

    verb: RestVerb
    target: ModelTarget
    body: bytes = b""
    default_signature: str = DEFAULT_SIGNATURE


@dataclass(frozen=True)
class RestAnswer:
    """TF Serving's JSON answer to a RestCall, and the version that gave it when known."""

    body: bytes
    model_version: int | None
    duration_ms: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class GrpcAnswer:
    """TF Serving's answer to one gRPC method, as the proto it sent."""

    response: Any
    duration_ms: float = field(default=0.0, compare=False)


#: The SignatureDefs of the version a target resolves to (a SignatureCache's `get`): what a
#: transport types JSON with when it answers one protocol's call over the other.
SignatureSource = Callable[[ModelTarget], ModelSignatures]


class TfServingClient(abc.ABC):
    """A TF Serving endpoint: Predict, GetModelMetadata, GetModelStatus, raw REST JSON.

    Implementations raise only `seldon_tfserving.errors.ServingError`s, keep one connection
    pool per process (re-created after a fork), bound every call by `timeout_ms`, and retry
    only what is safe to retry (UNAVAILABLE) with exponential backoff and jitter.
    """

    def __init__(self, settings: EndpointSettings) -> None:
        self.settings = settings

    @property
    def endpoint(self) -> str:
        """Where this client sends its calls (for messages and logs)."""
        return self.settings.endpoint

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
    def forward_rest(self, call: RestCall, signatures: SignatureSource) -> RestAnswer:
        """Answer a call of TF Serving's REST API with TF Serving's JSON.

        The REST client passes the body through unparsed; the gRPC client converts it with
        TF Serving's JSON rules, typed by `signatures`.
        """

    @abc.abstractmethod
    def forward_grpc(
        self, method: GrpcMethod, request: Any, signatures: SignatureSource
    ) -> GrpcAnswer:
        """Answer a call of TF Serving's gRPC API (its request's model_spec already says
        which servable) with TF Serving's response proto.

        The gRPC client sends the request as it is; the REST client converts it.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release this process's connection (a later call opens a new one)."""

    def backoff_delays(self) -> Iterator[float]:
        """Seconds to sleep before each retry: exponential from 50 ms, capped at 1 s, jittered."""
        for attempt in range(self.settings.max_retries):
            ceiling = min(1.0, 0.05 * 2**attempt)
            yield random.uniform(ceiling / 2, ceiling)

    def budget(self, what: str) -> CallBudget:
        """The deadline and retries of one call, starting now: `timeout_ms`, or the caller's
        deadline when it comes sooner (`caller_deadline`); DeadlineExceeded at once when the
        caller has already given up."""
        now = time.monotonic()
        own = now + self.settings.timeout_s
        left = remaining_s()
        if left is None or now + left >= own:
            return CallBudget(own, self.backoff_delays())
        budget = CallBudget(now + left, self.backoff_delays(), by_caller=True)
        if left <= 0:
            raise self.deadline_exceeded(what, budget)
        return budget

    def unavailable(self, what: str, problem: str, retries: int | None = None) -> Unavailable:
        """The error for a call still unavailable once every retry it could make is spent."""
        made = self.settings.max_retries if retries is None else retries
        return Unavailable(
            f"TF Serving at {self.endpoint} is unavailable ({what}, after {made} "
            f"retr{'y' if made == 1 else 'ies'}): {problem}"
        )

    def deadline_exceeded(self, what: str, budget: CallBudget | None = None) -> DeadlineExceeded:
        """The error for a call that outlived its deadline (`timeout_ms` or the caller's)."""
        if budget is not None and budget.by_caller:
            return DeadlineExceeded(
                f"TF Serving at {self.endpoint} did not answer {what} within the caller's "
                f"deadline ({budget.granted_s * 1000:.0f} ms left of it when {what} was sent)"
            )
        return DeadlineExceeded(
            f"TF Serving at {self.endpoint} did not answer {what} within "
            f"{self.settings.timeout_ms} ms"
        )


class CallBudget:
    """One call's deadline (timeout_ms from its start, or its caller's when sooner) and its
    retries.

    Every attempt is given only the time left, and a retry waits its backoff only while both
    max_retries and the deadline allow it, so a call ends by its deadline however its
    attempts fail: a hung TF Serving is a DeadlineExceeded at the deadline, never later.
    """

    def __init__(self, deadline: float, delays: Iterator[float], by_caller: bool = False) -> None:
        self.deadline = deadline
        self.by_caller = by_caller
        self.granted_s = self.remaining_s()
        self.retries = 0
        self._delays = delays

    def remaining_s(self) -> float:
        """Seconds left before the deadline (0 when it has passed)."""
        return max(0.0, self.deadline - time.monotonic())

    def wait_to_retry(self, what: str) -> bool:
        """Sleep the next backoff and say True, or say False when no retry fits any more:
        also when the sleep itself overran the deadline (a loaded machine), so a call that
        spent its time retrying an unavailable server ends with that server's problem."""
        delay = next(self._delays, None)
        if delay is None or delay >= self.remaining_s():
            return False
        logger.info("%s: TF Serving unavailable, retrying in %.3fs", what, delay)
        time.sleep(delay)
        if self.remaining_s() <= 0:
            return False
        self.retries += 1
        return True


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading)."""
    return (time.perf_counter() - started) * 1000.0
