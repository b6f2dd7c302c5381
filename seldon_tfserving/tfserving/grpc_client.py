"""TF Serving over gRPC: one channel per process, per-call deadlines, retries on UNAVAILABLE.

The channel is opened on first use and re-opened in a forked child, so a client built before
gunicorn forks its workers never shares a channel across processes. A channel
inherited from a parent is dropped, not closed: closing it in the child could block on the
parent's threads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from seldon_tfserving.codec.tensors import as_tensor_proto
from seldon_tfserving.errors import ServingError, error_for_grpc
from seldon_tfserving.tfserving import client
from seldon_tfserving.tfserving.model_spec import model_spec
from seldon_tfserving.tfserving.signatures import signatures_from_grpc

logger = logging.getLogger(__name__)

_STATE_NAMES = {
    state.number: state.name
    for state in get_model_status_pb2.ModelVersionStatus.State.DESCRIPTOR.values
}


def build_predict_request(call: client.PredictCall) -> predict_pb2.PredictRequest:
    """A PredictRequest; TensorProto inputs are copied in as they came (no numpy round trip)."""
    request = predict_pb2.PredictRequest(
        model_spec=model_spec(call.target, call.signature_name),
        output_filter=list(call.output_filter),
    )
    for name, tensor in call.inputs.items():
        request.inputs[name].CopyFrom(as_tensor_proto(tensor))
    return request


#: How many forks this process is removed from the one that imported us: compared on every
#: call instead of os.getpid(), a system call (1% of a wrapper's busy GIL time under load).
_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)


class _Channel:
    """A channel and its stubs, remembering the process that opened them."""

    def __init__(self, endpoint: str, options: list[tuple[str, Any]]) -> None:
        self.forks = _forks
        self.channel = grpc.insecure_channel(endpoint, options=options)
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)


class TfServingGrpcClient(client.TfServingClient):
    """TF Serving's PredictionService and ModelService at `settings.endpoint` (host:port)."""

    def __init__(self, settings: client.EndpointSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._current: _Channel | None = None

    def _channel_options(self) -> list[tuple[str, Any]]:
        size = self.settings.max_message_bytes
        return [
            ("grpc.max_send_message_length", size),
            ("grpc.max_receive_message_length", size),
            # Reconnect quickly after TF Serving restarts (gRPC's default backs off to 120 s).
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            # Not grpc.min_reconnect_backoff_ms: it is also the time a connection attempt may
            # take, so a small one fails every call to a hung TF Serving (TCP accepted, no
            # HTTP/2 handshake) with UNAVAILABLE at once instead of letting it wait for its
            # deadline (gRPC's default, 20 s, waits).
            ("grpc.enable_retries", 0),
        ]

    def _open(self) -> _Channel:
        current = self._current
        if current is not None and current.forks == _forks:
            return current
        with self._lock:
            current = self._current
            if current is None or current.forks != _forks:
                if current is not None:
                    logger.info("process forked: opening a new gRPC channel to %s", self.endpoint)
                current = _Channel(self.endpoint, self._channel_options())
                self._current = current
            return current

    def close(self) -> None:
        with self._lock:
            current, self._current = self._current, None
        if current is not None and current.forks == _forks:
            current.channel.close()

    def _call(self, method: Callable[..., Any], request: Any, what: str) -> Any:
        """One unary call within the call's deadline (timeout_ms, or the caller's when
        sooner); UNAVAILABLE retried with backoff while the deadline allows, then mapped."""
        budget = self.budget(what)
        while True:
            left = budget.remaining_s()
            if left <= 0:  # spent before this attempt: gRPC might answer UNAVAILABLE first
                raise self.deadline_exceeded(what, budget)
            try:
                return method(request, timeout=left)
            except grpc.RpcError as error:
                code = error.code()
                if code == grpc.StatusCode.UNAVAILABLE and budget.wait_to_retry(what):
                    continue
                raise self._error(code, error.details() or "", what, budget) from None

    def _error(
        self, code: grpc.StatusCode, details: str, what: str, budget: client.CallBudget
    ) -> ServingError:
        if code == grpc.StatusCode.UNAVAILABLE:
            return self.unavailable(what, details, budget.retries)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return self.deadline_exceeded(what, budget)
        return error_for_grpc(code, details or f"{what} failed with {code.name}")

    def predict(self, call: client.PredictCall) -> client.PredictResult:
        request = build_predict_request(call)
        stubs = self._open()
        started = time.perf_counter()
        response = self._call(stubs.prediction.Predict, request, "Predict")
        duration = client.elapsed_ms(started)
        spec = response.model_spec
        return client.PredictResult(
            outputs=dict(response.outputs),
            model_name=spec.name or call.target.name,
            model_version=int(spec.version.value) if spec.HasField("version") else None,
            signature_name=spec.signature_name or call.signature_name,
            duration_ms=duration,
        )

    def metadata(self, target: client.ModelTarget) -> client.ModelSignatures:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=model_spec(target), metadata_field=["signature_def"]
        )
        response = self._call(self._open().prediction.GetModelMetadata, request, "GetModelMetadata")
        return signatures_from_grpc(response)

    def status(self, target: client.ModelTarget) -> list[client.VersionStatus]:
        # Labels are resolved by metadata(); GetModelStatus is asked by name (and version).
        request = get_model_status_pb2.GetModelStatusRequest(
            model_spec=model_spec(client.ModelTarget(target.name, target.version))
        )
        response = self._call(self._open().models.GetModelStatus, request, "GetModelStatus")
        return [
            client.VersionStatus(
                version=int(item.version),
                state=_STATE_NAMES.get(item.state, str(item.state)),
                error_message=item.status.error_message,
            )
            for item in response.model_version_status
        ]

    def forward_grpc(
        self, method: client.GrpcMethod, request: Any, signatures: client.SignatureSource
    ) -> client.GrpcAnswer:
        """The request goes to TF Serving as it is, and its response comes back as it came."""
        stubs = self._open()
        service = stubs.models if method == "GetModelStatus" else stubs.prediction
        started = time.perf_counter()
        response = self._call(getattr(service, method), request, method)
        return client.GrpcAnswer(response, client.elapsed_ms(started))

    def forward_rest(
        self, call: client.RestCall, signatures: client.SignatureSource
    ) -> client.RestAnswer:
        from seldon_tfserving.tfserving.rest_over_grpc import forward_rest_over_grpc

        return forward_rest_over_grpc(self, call, signatures)

    def predict_json(
        self, target: client.ModelTarget, body: Mapping[str, Any], signature: client.Signature
    ) -> client.JsonAnswer:
        from seldon_tfserving.tfserving.json_bridge import predict_json_over

        return predict_json_over(self, target, body, signature)
