"""TF Serving's REST face (`/v1/models/...`), on a threaded HTTP/1.1 server with keep-alive.

Paths, bodies, status JSON, metadata JSON and `{"error": ...}` bodies are TF Serving's
(`http_rest_api_handler.cc`, `http_rest_api_util.cc`); the work is the shared core's. A body
over the limit is refused from its Content-Length, before it is read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from seldon_tfserving.backend import example_methods
from seldon_tfserving.backend.core import SIGNATURE_DEF_FIELD, ModelRef, ServingCore
from seldon_tfserving.codec import tfserving_examples_json, tfserving_json
from seldon_tfserving.errors import InvalidInput, NotFound, PayloadTooLarge, ServingError

LOG = logging.getLogger(__name__)

_MODEL_ID = r"([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
PREDICTION_PATH = re.compile(rf"/v1/models/{_MODEL_ID}:(classify|regress|predict)", re.I)
STATUS_PATH = re.compile(rf"/v1/models(?:/{_MODEL_ID})?(?:/(metadata))?", re.I)
_IDLE_CONNECTION_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RestSettings:
    """What the REST face needs besides the core."""

    timeout_ms: int | None
    max_request_bytes: int


def _json_options() -> dict[str, Any]:
    return {"preserving_proto_field_name": True, "always_print_fields_with_no_presence": True}


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> bytes:
    """The metadata body TF Serving writes: model_spec and the unpacked SignatureDefMap."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    spec = json_format.MessageToJson(response.model_spec, **_json_options())
    signatures = json_format.MessageToJson(signature_map, **_json_options())
    return (
        '{\n"model_spec":' + spec + ',\n"metadata": {"signature_def": ' + signatures + "}\n}\n"
    ).encode("utf-8")


class RestApi:
    """Dispatch of one REST call to the core; returns (HTTP status, JSON body)."""

    def __init__(self, core: ServingCore, settings: RestSettings) -> None:
        self._core = core
        self._settings = settings

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            return 200, self._dispatch(method, path, body)
        except ServingError as exc:
            return exc.http_status, tfserving_json.encode_error(exc.message)
        except Exception as exc:  # noqa: BLE001 - the edge: answer 500, keep serving
            LOG.exception("%s %s failed", method, path)
            return 500, tfserving_json.encode_error(f"{type(exc).__name__}: {exc}")

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


def _ref(name: str, version: str | None, label: str | None) -> ModelRef:
    number = int(version) if version else None
    if number is not None and number > _INT64_MAX:
        raise InvalidInput(f"Failed to convert version: {version} to numeric.")
    return ModelRef(unquote(name), number, unquote(label) if label else None)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every answer carries Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: RestServer
    timeout = _IDLE_CONNECTION_TIMEOUT_S

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(*self.server.api.handle("GET", self.path, b""))

    def do_POST(self) -> None:  # noqa: N802
        self._with_body("POST")

    def do_PUT(self) -> None:  # noqa: N802 - answered as TF Serving does: malformed request
        self._with_body("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._with_body("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._with_body("PATCH")

    def _with_body(self, method: str) -> None:
        try:
            body = self._read_body()
        except PayloadTooLarge as exc:
            self.close_connection = True
            self._answer(exc.http_status, tfserving_json.encode_error(exc.message))
            return
        except InvalidInput as exc:
            self.close_connection = True
            self._answer(exc.http_status, tfserving_json.encode_error(exc.message))
            return
        self._answer(*self.server.api.handle(method, self.path, body))

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it, instead of `100 Continue`."""
        try:
            self._check_length()
        except ServingError as exc:
            self.close_connection = True
            self._answer(exc.http_status, tfserving_json.encode_error(exc.message))
            return False
        return super().handle_expect_100()

    def _check_length(self) -> int:
        """The announced Content-Length, checked against the limit (0 when absent)."""
        limit = self.server.settings.max_request_bytes
        length_text = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(length_text)
        except ValueError:
            raise InvalidInput(f"bad Content-Length: {length_text!r}") from None
        if length < 0:
            raise InvalidInput(f"bad Content-Length: {length_text!r}")
        if length > limit:
            raise PayloadTooLarge(f"Request body of {length} bytes exceeds the limit of {limit}")
        return length

    def _read_body(self) -> bytes:
        limit = self.server.settings.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        return self.rfile.read(self._check_length())

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise InvalidInput("malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        LOG.debug("%s - %s", self.address_string(), format % args)


class RestServer(ThreadingHTTPServer):
    """A thread per connection; daemon threads so shutdown never waits on idle clients."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: RestApi, settings: RestSettings) -> None:
        self.api = api
        self.settings = settings
        super().__init__(address, _Handler)


def build_rest_server(
    core: ServingCore, port: int, settings: RestSettings, host: str = "0.0.0.0"
) -> RestServer:
    """A bound (not yet serving) REST server for the core on `host:port`."""
    return RestServer((host, port), RestApi(core, settings), settings)
