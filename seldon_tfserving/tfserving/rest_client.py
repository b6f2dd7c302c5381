"""TF Serving over its REST API: one pooled HTTP session per process, timeouts, retries.

Connections are kept alive in a `requests.Session` opened lazily and re-opened after a fork.
Only connection failures and HTTP 503 are retried; TF's `{"error": ...}` text becomes the
message of the error its status stands for.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from tensorflow.core.framework.tensor_pb2 import TensorProto

from seldon_tfserving.codec.json_document import whole_doubles_as_ints
from seldon_tfserving.codec.tensor_proto import dtype_name
from seldon_tfserving.codec.tensors import as_ndarray
from seldon_tfserving.codec.tfserving_json import decode_predict_response, encode_predict_request
from seldon_tfserving.errors import (
    DeadlineExceeded,
    InternalError,
    InvalidInput,
    PayloadTooLarge,
    ServingError,
    Unavailable,
    error_for_http,
)
from seldon_tfserving.settings import TfServingSettings
from seldon_tfserving.tfserving.client import (
    JsonAnswer,
    ModelSignatures,
    ModelTarget,
    PredictCall,
    PredictResult,
    Signature,
    TfServingClient,
    VersionStatus,
    elapsed_ms,
)
from seldon_tfserving.tfserving.signatures import signatures_from_json

logger = logging.getLogger(__name__)

#: Connections kept per process; enough for gunicorn's --threads and gRPC worker threads.
POOL_SIZE = 32


def model_path(target: ModelTarget) -> str:
    """`/v1/models/<name>[/versions/<v>|/labels/<l>]`, as TF Serving's REST API routes it."""
    path = f"/v1/models/{quote(target.name, safe='')}"
    if target.version is not None:
        return f"{path}/versions/{target.version}"
    if target.label is not None:
        return f"{path}/labels/{quote(target.label, safe='')}"
    return path


class _Session:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)


class TfServingRestClient(TfServingClient):
    """TF Serving's REST API at `settings.rest_endpoint`."""

    def __init__(self, settings: TfServingSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._current: _Session | None = None

    @property
    def endpoint(self) -> str:
        return self.settings.rest_endpoint

    def _session(self) -> requests.Session:
        current = self._current
        if current is None or current.pid != os.getpid():
            with self._lock:
                current = self._current
                if current is None or current.pid != os.getpid():
                    current = _Session()
                    self._current = current
        return current.session

    def close(self) -> None:
        with self._lock:
            current, self._current = self._current, None
        if current is not None and current.pid == os.getpid():
            current.session.close()

    def _request(self, method: str, path: str, what: str, body: bytes | None = None) -> Any:
        """One HTTP call with the timeout; connection errors and 503 retried, then mapped."""
        url = self.endpoint + path
        limit = self.settings.max_message_bytes
        if body is not None and len(body) > limit:
            raise PayloadTooLarge(
                f"{what} request of {len(body)} bytes is over max_message_bytes ({limit})"
            )
        delays = self.backoff_delays()
        headers = {"Content-Type": "application/json"} if body is not None else None
        while True:
            problem: str
            try:
                reply = self._session().request(
                    method, url, data=body, headers=headers, timeout=self.settings.timeout_s
                )
            except requests.exceptions.ConnectionError as exc:
                if isinstance(exc, requests.exceptions.ReadTimeout):
                    raise self._deadline(what) from None
                problem = f"cannot connect: {exc}"
            except requests.exceptions.Timeout:
                raise self._deadline(what) from None
            else:
                if reply.status_code == 200:
                    if len(reply.content) > limit:
                        raise PayloadTooLarge(
                            f"{what} answer of {len(reply.content)} bytes is over "
                            f"max_message_bytes ({limit})"
                        )
                    return reply.content
                message = _error_text(reply)
                if reply.status_code != 503:
                    raise error_for_http(reply.status_code, message)
                problem = message
            delay = next(delays, None)
            if delay is None:
                raise Unavailable(
                    f"TF Serving at {self.endpoint} is unavailable ({what}, after "
                    f"{self.settings.max_retries} retries): {problem}"
                )
            logger.info("%s: TF Serving unavailable, retrying in %.3fs", what, delay)
            time.sleep(delay)

    def _deadline(self, what: str) -> ServingError:
        return DeadlineExceeded(
            f"TF Serving at {self.endpoint} did not answer {what} within "
            f"{self.settings.timeout_ms} ms"
        )

    def predict(self, call: PredictCall) -> PredictResult:
        _refuse_mistyped_protos(call)
        arrays = {name: as_ndarray(tensor) for name, tensor in call.inputs.items()}
        body = encode_predict_request(arrays, call.signature_name, columnar=True)
        started = time.perf_counter()
        content = self._request("POST", model_path(call.target) + ":predict", "Predict", body)
        duration = elapsed_ms(started)
        dtypes = (
            {name: spec.dtype for name, spec in call.signature.outputs.items()}
            if call.signature is not None
            else None
        )
        outputs = decode_predict_response(content, dtypes)
        if call.output_filter:
            outputs = {name: outputs[name] for name in call.output_filter if name in outputs}
        return PredictResult(
            outputs=outputs,
            model_name=call.target.name,
            model_version=call.target.version,
            signature_name=call.signature_name,
            duration_ms=duration,
        )

    def metadata(self, target: ModelTarget) -> ModelSignatures:
        content = self._request("GET", model_path(target) + "/metadata", "GetModelMetadata")
        return signatures_from_json(_json_object(content))

    def status(self, target: ModelTarget) -> list[VersionStatus]:
        content = self._request(
            "GET", model_path(ModelTarget(target.name, target.version)), "GetModelStatus"
        )
        return [
            VersionStatus(
                version=int(item.get("version", 0)),
                state=str(item.get("state", "UNKNOWN")),
                error_message=str((item.get("status") or {}).get("error_message", "")),
            )
            for item in _json_object(content).get("model_version_status", [])
        ]

    def predict_json(
        self, target: ModelTarget, body: Mapping[str, Any], signature: Signature
    ) -> JsonAnswer:
        """The body goes to TF Serving as the caller wrote it; TF's JSON comes back as is.

        Only a missing `signature_name` is filled in, when the configured one is not TF's default,
        and whole numbers a Struct turned into doubles are written as the integers they were.
        """
        if "signature_name" not in body and signature.name != "serving_default":
            body = {**body, "signature_name": signature.name}
        encoded = json.dumps(whole_doubles_as_ints(dict(body))).encode("utf-8")
        started = time.perf_counter()
        content = self._request("POST", model_path(target) + ":predict", "Predict", encoded)
        return JsonAnswer(_json_object(content), target.version, elapsed_ms(started))


def _refuse_mistyped_protos(call: PredictCall) -> None:
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


def _error_text(reply: requests.Response) -> str:
    """TF Serving's `{"error": msg}` text, or the body (or status) when it is not that."""
    try:
        body = reply.json()
    except ValueError:
        return reply.text.strip() or f"HTTP {reply.status_code}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return reply.text.strip()


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError as exc:
        raise InternalError(f"TF Serving answered something that is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InternalError("TF Serving answered JSON that is not an object")
    return value
