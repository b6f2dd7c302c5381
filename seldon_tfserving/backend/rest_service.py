"""TF Serving's REST API (`/v1/models/...`) over the shared core, served by rest_server.py.

Paths, bodies, status JSON, metadata JSON and `{"error": ...}` bodies are TF Serving's
(`http_rest_api_handler.cc`, `http_rest_api_util.cc`); the work is the shared core's. HTTP
itself (framing, keep-alive, limits, deadlines) is http_connection.py's. With monitoring on,
every `/v1/` call is counted as http_server.cc counts it, and the metrics page has its own path.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from seldon_tfserving.backend import example_methods
from seldon_tfserving.backend.core import SIGNATURE_DEF_FIELD, ModelRef, ServingCore
from seldon_tfserving.backend.http_connection import (
    IDLE_CONNECTION_TIMEOUT_S as IDLE_CONNECTION_TIMEOUT_S,
)
from seldon_tfserving.backend.http_connection import (
    JSON_CONTENT_TYPE,
    HttpLimits,
    RestAnswer,
)
from seldon_tfserving.backend.monitoring import REST_ENTRYPOINT, ServingMetrics, measured_call
from seldon_tfserving.backend.rest_server import RestServer
from seldon_tfserving.codec import tfserving_examples_json, tfserving_json
from seldon_tfserving.codec.proto_json import tfserving_print_options
from seldon_tfserving.codec.tfserving_paths import MODEL_ID
from seldon_tfserving.errors import InvalidInput, NotFound, ServingError

LOG = logging.getLogger(__name__)

PREDICTION_PATH = re.compile(rf"/v1/models/{MODEL_ID}:(classify|regress|predict)", re.I)
STATUS_PATH = re.compile(rf"/v1/models(?:/{MODEL_ID})?(?:/(metadata))?", re.I)
#: What ProcessPrometheusRequest answers with.
METRICS_CONTENT_TYPE = "text/plain"


def default_rest_threads() -> int:
    """TF Serving's `--rest_api_num_threads` default: four per schedulable CPU."""
    return 4 * len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class RestSettings:
    """What the REST face needs besides the core."""

    timeout_ms: int | None
    max_request_bytes: int
    #: where TF Serving's metrics page is served (None: monitoring off)
    metrics_path: str | None = None
    #: threads serving calls (--rest_api_num_threads)
    threads: int = field(default_factory=default_rest_threads)
    #: the connection deadlines (the body limit is `max_request_bytes`)
    idle_timeout_s: float = IDLE_CONNECTION_TIMEOUT_S

    def limits(self) -> HttpLimits:
        return HttpLimits(self.max_request_bytes, idle_timeout_s=self.idle_timeout_s)


def _json_options() -> dict[str, Any]:
    return tfserving_print_options()


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> bytes:
    """The metadata body TF Serving writes: model_spec and the unpacked SignatureDefMap."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    spec = json_format.MessageToJson(response.model_spec, **_json_options())
    signatures = json_format.MessageToJson(signature_map, **_json_options())
    return (
        '{\n"model_spec":' + spec + ',\n"metadata": {"signature_def": ' + signatures + "}\n}\n"
    ).encode("utf-8")


class TfServingRestApi:
    """TF Serving's REST API over the core: one call dispatched, (HTTP status, JSON body) back.

    (The gateway's `RestApi` is Seldon's external API; this one is TF Serving's.)"""

    def __init__(
        self, core: ServingCore, settings: RestSettings, metrics: ServingMetrics | None = None
    ) -> None:
        """`metrics` records every `/v1/` call; its page is served at `settings.metrics_path`."""
        self._core = core
        self._settings = settings
        self._metrics = metrics

    def handle(self, method: str, path: str, body: bytes) -> RestAnswer:
        bare_path = path.split("?", 1)[0]
        if self._metrics is not None and bare_path == self._settings.metrics_path:
            return 200, self._metrics.page().encode("utf-8"), METRICS_CONTENT_TYPE
        started = time.perf_counter()
        status_name = "OK"
        model_name, api = _call_labels(method, bare_path)
        try:
            with self._measured(model_name, api):
                status, answer = 200, self._dispatch(method, path, body)
        except ServingError as exc:
            status, answer = exc.http_status, tfserving_json.encode_error(exc.message)
            status_name = exc.grpc_code.name
        except Exception as exc:  # noqa: BLE001 - the edge: answer 500, keep serving
            LOG.exception("%s %s failed", method, path)
            status, answer = 500, tfserving_json.encode_error(f"{type(exc).__name__}: {exc}")
            status_name = "UNKNOWN"
        if self._metrics is not None and bare_path.lower().startswith("/v1/"):
            latency_us = (time.perf_counter() - started) * 1e6
            self._metrics.record_request(model_name, api, REST_ENTRYPOINT, status_name, latency_us)
        return status, answer, JSON_CONTENT_TYPE

    def _measured(self, model_name: str, api: str) -> AbstractContextManager[None]:
        """The call marked for the session's and the batches' metrics (its runs are timed
        under TF Serving's servable API name, `Predict` for a REST predict)."""
        if self._metrics is None or not api:
            return nullcontext()
        return measured_call(self._metrics, model_name, api.capitalize())

    def _dispatch(self, method: str, path: str, body: bytes) -> bytes:
        path = path.split("?", 1)[0]
        if not path.lower().startswith("/v1/"):
            raise NotFound(f"No handler for {method} {path}")
        if method == "POST":
            match = PREDICTION_PATH.fullmatch(path)
            if match:
                name, version, label, verb = match.groups()
                return self._predict_like(verb.lower(), _ref(name, version, label), body)
        elif method == "GET":
            match = STATUS_PATH.fullmatch(path)
            if match:
                name, version, label, subresource = match.groups()
                if not name:
                    raise InvalidInput("Missing model name in request.")
                ref = _ref(name, version, label)
                if subresource:
                    return metadata_json(self._core.metadata(ref))
                # Like TF Serving's GetModelStatus, a label does not narrow the answer.
                status = self._core.status(ref.name, ref.version)
                return json_format.MessageToJson(status, **_json_options()).encode("utf-8")
        raise InvalidInput(f"Malformed request: {method} {path}")

    def _predict_like(self, verb: str, ref: ModelRef, body: bytes) -> bytes:
        timeout = self._settings.timeout_ms
        if verb == "predict":
            request = tfserving_json.decode_predict_request(
                body, lambda signature: self._core.input_dtypes(ref, signature)
            )
            prediction = self._core.predict(
                ref, request.signature_name, request.inputs, timeout_ms=timeout
            )
            return tfserving_json.encode_predict_response(
                prediction.outputs, columnar=request.columnar, dtypes=prediction.dtypes
            )
        signature, request_input = tfserving_examples_json.decode_classify_regress_request(body)
        if verb == "classify":
            _, classes = example_methods.classify(
                self._core, ref, signature, request_input, timeout
            )
            return tfserving_examples_json.encode_classification_result(classes)
        _, values = example_methods.regress(self._core, ref, signature, request_input, timeout)
        return tfserving_examples_json.encode_regression_result(values)


_INT64_MAX = 2**63 - 1


def _call_labels(method: str, path: str) -> tuple[str, str]:
    """(model_name, API) as TF Serving's REST handler reports a call: the verb of a POST
    (none for a GET), both empty when the path is not one of its APIs."""
    if method == "POST":
        match = PREDICTION_PATH.fullmatch(path)
        if match:
            return unquote(match.group(1)), match.group(4).lower()
    elif method == "GET":
        match = STATUS_PATH.fullmatch(path)
        if match and match.group(1):
            return unquote(match.group(1)), ""
    return "", ""


def _ref(name: str, version: str | None, label: str | None) -> ModelRef:
    number = int(version) if version else None
    if number is not None and number > _INT64_MAX:
        raise InvalidInput(f"Failed to convert version: {version} to numeric.")
    return ModelRef(unquote(name), number, unquote(label) if label else None)


def build_rest_server(
    core: ServingCore,
    port: int,
    settings: RestSettings,
    host: str = "0.0.0.0",
    metrics: ServingMetrics | None = None,
) -> RestServer:
    """A bound (not yet serving) REST server for the core on `host:port` (recording into
    `metrics` when given); OSError naming the port when it cannot be bound."""
    api = TfServingRestApi(core, settings, metrics)
    try:
        return RestServer((host, port), api.handle, settings.limits(), settings.threads)
    except OSError as exc:
        raise OSError(f"cannot bind the REST port {host}:{port}: {exc.strerror or exc}") from exc
