"""TF Serving's REST routes on the Flask app seldon-core builds, beside Seldon's own.

Everything under `/v1/` is ours, as TF Serving dispatches it (`http_rest_api_util.cc`):
`POST /v1/models/<m>[/versions/<n>|/labels/<l>]:<verb>` (also the executor's `/:<verb>`
spelling), `GET /v1/models/<m>[...]` and `.../metadata`; any other path or method there is
TF Serving's 400 "Malformed request". Every error is TF Serving's `{"error": ...}` body with
its status (`errors.py`), never Seldon's JSON, and a body is read once, as bytes.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, request

from seldon_tfserving.codec.tfserving_paths import MODEL_ID
from seldon_tfserving.errors import InternalError, InvalidInput, PayloadTooLarge, ServingError
from seldon_tfserving.microservice.tf_faces import (
    CallerContext,
    InferenceVerb,
    MetricsSink,
    ModelPath,
    TfAnswer,
    TfFaces,
)

logger = logging.getLogger(__name__)

#: TF Serving's POST path, with the `/` before `:` that Seldon's executor also accepts.
POST_PATH = re.compile(rf"/v1/models/{MODEL_ID}/?:(?P<verb>[A-Za-z]+)")
#: TF Serving's GET path: status, or metadata with `/metadata`.
GET_PATH = re.compile(rf"/v1/models(?:/{MODEL_ID})?(?P<metadata>/metadata)?")
PUID_HEADER = "Seldon-Puid"
JSON = "application/json"
_INT64_MAX = 2**63 - 1
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
_INFERENCE_VERBS: dict[str, InferenceVerb] = {
    "predict": "predict",
    "classify": "classify",
    "regress": "regress",
}


def model_path(match: re.Match[str]) -> ModelPath:
    """The servable a matched TF Serving path names; a version past int64 is TF's 400."""
    version = match["version"]
    number = int(version) if version else None
    if number is not None and number > _INT64_MAX:
        raise InvalidInput(f"Failed to convert version: {version} to numeric.")
    return ModelPath(match["name"], number, match["label"])


class TfRestHost:
    """Dispatches one `/v1/...` request to the faces a class declared, and answers."""

    def __init__(self, faces: TfFaces, metrics: MetricsSink) -> None:
        self.faces = faces
        self.metrics = metrics

    def view(self, subpath: str = "") -> Response:
        method, path = request.method, request.path
        try:
            answer = self.dispatch(method, path)
        except ServingError as error:
            logger.warning("%s %s failed: %s", method, path, error.message)
            return _error_response(error)
        except RecursionError:
            return _error_response(InvalidInput("JSON Parse error: nesting too deep"))
        except Exception as exc:  # the edge: TF's body and a 500, never Seldon's error JSON
            logger.exception("%s %s failed", method, path)
            return _error_response(InternalError(f"{type(exc).__name__}: {exc}"))
        if answer.metrics:
            self.metrics.update(list(answer.metrics), answer.method)
        return Response(answer.body, status=200, content_type=JSON)

    def dispatch(self, method: str, path: str) -> TfAnswer:
        faces = self.faces
        if method == "POST" and (match := POST_PATH.fullmatch(path)):
            verb = match["verb"].lower()
            inference = _INFERENCE_VERBS.get(verb)
            if faces.model is not None and inference is not None:
                return faces.model.rest_infer(inference, model_path(match), self._body())
            if faces.router is not None and verb == "route":
                caller = CallerContext(puid=request.headers.get(PUID_HEADER) or None)
                return faces.router.rest_route(model_path(match), self._body(), caller)
            if faces.combiner is not None and verb == "aggregate":
                return faces.combiner.rest_aggregate(model_path(match), self._body())
        elif method == "GET" and faces.model is not None and (match := GET_PATH.fullmatch(path)):
            if not match["name"]:
                raise InvalidInput("Missing model name in request.")
            if match["metadata"]:
                return faces.model.rest_metadata(model_path(match))
            return faces.model.rest_status(model_path(match))
        raise InvalidInput(f"Malformed request: {method} {path}")

    def _body(self) -> bytes:
        """The body as bytes, refused (413) from its Content-Length when over the limit."""
        limit = self.faces.max_request_bytes
        length = request.content_length
        if limit is not None and length is not None and length > limit:
            raise PayloadTooLarge(
                f"Request body of {length} bytes exceeds the limit of {limit} (max_message_bytes)"
            )
        body = request.get_data(cache=False)
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge(
                f"Request body of {len(body)} bytes exceeds the limit of {limit} "
                "(max_message_bytes)"
            )
        return body


def _error_response(error: ServingError) -> Response:
    body, content_type = error.tfserving_body()
    return Response(body, status=error.http_status, content_type=content_type)


def add_tf_rest_routes(app: Flask, faces: TfFaces, metrics: MetricsSink) -> None:
    """Serve `faces` under `/v1/` on Seldon's app (its other routes are left as they are)."""
    host = TfRestHost(faces, metrics)
    app.add_url_rule("/v1/", "tfserving_v1_root", host.view, methods=_METHODS)
    app.add_url_rule("/v1/<path:subpath>", "tfserving_v1", host.view, methods=_METHODS)
