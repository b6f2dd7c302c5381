"""TF Serving over its REST API: one pool of kept-alive connections per process, timeouts,
retries.

The pool is urllib3's own, called directly: `requests.Session` in front of it cost about 300
us more CPU per call (its settings merge, hooks, cookie jar and response model; 540-650
against 235-262 us a 1x4 :predict on this machine), for nothing a co-located TF Serving
needs. Like any direct connection it does not go through an `HTTP_PROXY` of the environment.
The pool is opened lazily and again after a fork. Only connection failures and HTTP 503 are
retried; TF's `{"error": ...}` text becomes the message of the error its status stands for.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import urllib3
from tensorflow.core.framework.tensor_pb2 import TensorProto
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from seldon_tfserving.codec import fast_json, tfserving_paths
from seldon_tfserving.codec.json_document import json_for_tf_serving
from seldon_tfserving.codec.tensor_proto import dtype_name
from seldon_tfserving.codec.tensors import as_ndarray
from seldon_tfserving.codec.tfserving_json import decode_predict_response, encode_predict_request
from seldon_tfserving.errors import (
    InternalError,
    InvalidInput,
    PayloadTooLarge,
    error_for_http,
)
from seldon_tfserving.tfserving import client
from seldon_tfserving.tfserving.signatures import signatures_from_json

logger = logging.getLogger(__name__)

#: Connections kept per process; enough for gunicorn's --threads and gRPC worker threads.
POOL_SIZE = 32
_JSON_HEADERS = {"Content-Type": "application/json"}


def model_path(target: client.ModelTarget) -> str:
    """The REST path of `target`'s servable."""
    return tfserving_paths.model_path(target.name, target.version, target.label)


class _Pool:
    """The connections of one process to the endpoint's host, and the endpoint's path prefix."""

    def __init__(self, endpoint: str) -> None:
        self.pid = os.getpid()
        url = urllib3.util.parse_url(endpoint)
        self.prefix = (url.path or "").rstrip("/")
        self.connections = urllib3.connection_from_url(
            f"{url.scheme or 'http'}://{url.netloc}", maxsize=POOL_SIZE, retries=False
        )


class TfServingRestClient(client.TfServingClient):
    """TF Serving's REST API at `settings.endpoint` (http(s)://host:port[/prefix])."""

    def __init__(self, settings: client.EndpointSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._current: _Pool | None = None

    def _pool(self) -> _Pool:
        current = self._current
        if current is None or current.pid != os.getpid():
            with self._lock:
                current = self._current
                if current is None or current.pid != os.getpid():
                    current = _Pool(self.endpoint)
                    self._current = current
        return current

    def close(self) -> None:
        with self._lock:
            current, self._current = self._current, None
        if current is not None and current.pid == os.getpid():
            current.connections.close()

    def _request(self, method: str, path: str, what: str, body: bytes | None = None) -> Any:
        """One HTTP call within the call's deadline; a connection refused or lost (also in
        the middle of the answer) and HTTP 503 retried while the deadline allows, then
        mapped: the deadline passing is a DeadlineExceeded, the rest Unavailable."""
        limit = self.settings.max_message_bytes
        if body is not None and len(body) > limit:
            raise PayloadTooLarge(
                f"{what} request of {len(body)} bytes is over max_message_bytes ({limit})"
            )
        budget = self.budget(what)
        headers = _JSON_HEADERS if body is not None else None
        while True:
            problem: str
            left = budget.remaining_s()
            if left <= 0:  # spent before this attempt (a loaded machine, a retry's backoff)
                raise self.deadline_exceeded(what, budget)
            pool = self._pool()
            try:
                reply = pool.connections.urlopen(
                    method,
                    pool.prefix + path,
                    body=body,
                    headers=headers,
                    timeout=urllib3.Timeout(total=left),
                    retries=False,
                    redirect=False,
                )
            except NewConnectionError as exc:  # before the timeouts: urllib3 files it under them
                problem = f"cannot connect: {exc}"
            except Urllib3Timeout:  # connect or read (ReadTimeoutError is one)
                raise self.deadline_exceeded(what, budget) from None
            except ProtocolError as exc:
                problem = f"the connection was lost in the middle of the answer: {exc}"
            except HTTPError as exc:
                problem = f"the answer could not be read: {exc}"
            else:
                content: bytes = reply.data
                if reply.status == 200:
                    if len(content) > limit:
                        raise PayloadTooLarge(
                            f"{what} answer of {len(content)} bytes is over "
                            f"max_message_bytes ({limit})"
                        )
                    return content
                message = _error_text(reply.status, content)
                if reply.status != 503:
                    raise error_for_http(reply.status, message)
                problem = message
            if not budget.wait_to_retry(what):
                raise self.unavailable(what, problem, budget.retries)

    def predict(self, call: client.PredictCall) -> client.PredictResult:
        _refuse_mistyped_protos(call)
        arrays = {name: as_ndarray(tensor) for name, tensor in call.inputs.items()}
        body = encode_predict_request(arrays, call.signature_name, columnar=True)
        started = time.perf_counter()
        content = self._request("POST", model_path(call.target) + ":predict", "Predict", body)
        duration = client.elapsed_ms(started)
        dtypes = (
            {name: spec.dtype for name, spec in call.signature.outputs.items()}
            if call.signature is not None
            else None
        )
        outputs = decode_predict_response(content, dtypes)
        if call.output_filter:
            outputs = {name: outputs[name] for name in call.output_filter if name in outputs}
        return client.PredictResult(
            outputs=outputs,
            model_name=call.target.name,
            model_version=call.target.version,
            signature_name=call.signature_name,
            duration_ms=duration,
        )

    def metadata(self, target: client.ModelTarget) -> client.ModelSignatures:
        content = self._request("GET", model_path(target) + "/metadata", "GetModelMetadata")
        return signatures_from_json(_json_object(content))

    def status(self, target: client.ModelTarget) -> list[client.VersionStatus]:
        content = self._request(
            "GET", model_path(client.ModelTarget(target.name, target.version)), "GetModelStatus"
        )
        return [
            client.VersionStatus(
                version=int(item.get("version", 0)),
                state=str(item.get("state", "UNKNOWN")),
                error_message=str((item.get("status") or {}).get("error_message", "")),
            )
            for item in _json_object(content).get("model_version_status", [])
        ]

    def forward_rest(
        self, call: client.RestCall, signatures: client.SignatureSource
    ) -> client.RestAnswer:
        """The body goes to TF Serving's own path for the call as it came, and TF's answer
        comes back unread; only a wrapper-configured default signature is written in when the
        body names none (the one case a body is parsed)."""
        what = _REST_WHAT[call.verb]
        started = time.perf_counter()
        if call.verb == "status":
            content = self._request("GET", model_path(call.target), what)
        elif call.verb == "metadata":
            content = self._request("GET", model_path(call.target) + "/metadata", what)
        else:
            body = _with_default_signature(call.body, call.default_signature)
            path = f"{model_path(call.target)}:{call.verb}"
            content = self._request("POST", path, what, body)
        return client.RestAnswer(content, call.target.version, client.elapsed_ms(started))

    def forward_grpc(
        self, method: client.GrpcMethod, request: Any, signatures: client.SignatureSource
    ) -> client.GrpcAnswer:
        from seldon_tfserving.tfserving.grpc_over_rest import forward_grpc_over_rest

        return forward_grpc_over_rest(self, method, request, signatures)

    def predict_json(
        self, target: client.ModelTarget, body: Mapping[str, Any], signature: client.Signature
    ) -> client.JsonAnswer:
        """The body goes to TF Serving as the caller wrote it; TF's JSON comes back as is.

        Only a missing `signature_name` is filled in, when the configured one is not TF's default,
        and whole numbers a Struct turned into doubles are written as the integers they were.
        """
        if "signature_name" not in body and signature.name != "serving_default":
            body = {**body, "signature_name": signature.name}
        encoded = json_for_tf_serving(body)
        started = time.perf_counter()
        content = self._request("POST", model_path(target) + ":predict", "Predict", encoded)
        return client.JsonAnswer(_json_object(content), target.version, client.elapsed_ms(started))


_REST_WHAT: dict[str, str] = {
    "predict": "Predict",
    "classify": "Classify",
    "regress": "Regress",
    "status": "GetModelStatus",
    "metadata": "GetModelMetadata",
}


def _with_default_signature(body: bytes, signature_name: str) -> bytes:
    """`body` unchanged when the default is TF's own; else with `signature_name` written in
    when the body names none (TF Serving then finds it as if the caller had)."""
    if signature_name == client.DEFAULT_SIGNATURE:
        return body
    try:
        document = fast_json.loads(body)
    except (ValueError, RecursionError):
        return body  # TF Serving answers the malformed body with its own words
    if not isinstance(document, dict) or "signature_name" in document:
        return body
    return json.dumps({"signature_name": signature_name, **document}).encode("utf-8")


def _refuse_mistyped_protos(call: client.PredictCall) -> None:
    """JSON carries no dtype, so refuse here what TF Serving's gRPC face would refuse.

    A TensorProto (a tftensor) of another dtype than its input would otherwise be retyped
    silently by the JSON round trip; over gRPC TF Serving answers INVALID_ARGUMENT.
    """
    if call.signature is None:
        return
    for name, tensor in call.inputs.items():
        spec = call.signature.inputs.get(name)
        if isinstance(tensor, TensorProto) and spec is not None and tensor.dtype != spec.dtype:
            raise InvalidInput(
                f"input {name!r} expects {dtype_name(spec.dtype)} but "
                f"{dtype_name(tensor.dtype)} is provided"
            )


def _error_text(status: int, content: bytes) -> str:
    """TF Serving's `{"error": msg}` text, or the body (or status) when it is not that."""
    text = content.decode("utf-8", errors="replace").strip()
    try:
        body = fast_json.loads(content)
    except (ValueError, RecursionError):
        return text or f"HTTP {status}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return text


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        value = fast_json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise InternalError(f"TF Serving answered something that is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InternalError("TF Serving answered JSON that is not an object")
    return value
