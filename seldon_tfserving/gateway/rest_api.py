"""Seldon's external REST API as the cluster's ingress exposes it.

`/seldon/<namespace>/<name>/api/v1.0/predictions|feedback` (Istio and Ambassador),
`/seldon/<name>/api/...`, and `/api/v1.0/...` directly (the deployment then comes from the
`seldon` / `namespace` headers, or is the only one served). Bodies pass to the components as
they came; a component's error comes back with its own status and body, as the executor does.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from seldon_tfserving.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServingError,
    Unavailable,
)
from seldon_tfserving.gateway.component_client import ComponentFailure
from seldon_tfserving.gateway.dataplane import DataPlane, DeploymentService
from seldon_tfserving.gateway.executor import RequestContext
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.payload import JSON_CONTENT_TYPE, Payload

logger = logging.getLogger(__name__)

PUID_HEADER = "Seldon-Puid"
SKIP_LOGGING_HEADER = "Seldon-Skip-Logging"
#: Request headers that describe this hop only and are not passed on to components.
_NOT_FORWARDED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "expect",
        "accept-encoding",
        "upgrade",
        "te",
        "seldon-puid",
    }
)
_OPERATIONS = ("predictions", "feedback")
_CORS_ALLOWED_HEADERS = (
    "Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, X-CSRF-Token"
)
_API_VERSIONS = ("v0.1", "v1.0")

_URLS = Map(
    [
        Rule("/seldon/<namespace>/<name>/api/<version>/health/status", endpoint="status"),
        Rule("/seldon/<name>/api/<version>/health/status", endpoint="status"),
        Rule("/api/<version>/health/status", endpoint="status"),
        Rule("/seldon/<namespace>/<name>/api/<version>/metadata", endpoint="graph_metadata"),
        Rule("/seldon/<name>/api/<version>/metadata", endpoint="graph_metadata"),
        Rule("/api/<version>/metadata", endpoint="graph_metadata"),
        Rule("/seldon/<namespace>/<name>/api/<version>/metadata/<model>", endpoint="metadata"),
        Rule("/seldon/<name>/api/<version>/metadata/<model>", endpoint="metadata"),
        Rule("/api/<version>/metadata/<model>", endpoint="metadata"),
        Rule("/seldon/<namespace>/<name>/api/<version>/<operation>", endpoint="api"),
        Rule("/seldon/<name>/api/<version>/<operation>", endpoint="api"),
        Rule("/api/<version>/<operation>", endpoint="api"),
        Rule("/prometheus", endpoint="metrics"),
        Rule("/metrics", endpoint="metrics"),
        Rule("/ready", endpoint="ready"),
        Rule("/live", endpoint="live"),
    ],
    strict_slashes=False,
)


def _error_response(error: ServingError) -> Response:
    if isinstance(error, ComponentFailure):
        return Response(error.body, error.status, content_type=error.content_type)
    return Response(
        json.dumps(error.seldon_json()), error.http_status, content_type=JSON_CONTENT_TYPE
    )


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "on", "1")


class RestApi:
    """The WSGI application of the gateway's REST port."""

    def __init__(self, dataplane: DataPlane, metrics: GatewayMetrics, max_body_bytes: int) -> None:
        self._dataplane = dataplane
        self._metrics = metrics
        self._max_body = max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self._max_body
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = _URLS.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except HTTPException:
            return _error_response(NotFound(f"no such path: {request.path}"))
        if endpoint == "metrics":
            return Response(self._metrics.exposition(), content_type="text/plain; version=0.0.4")
        if endpoint in ("ready", "live"):
            return Response("ok", content_type="text/plain")
        if endpoint == "status":
            return self._status(request, values)
        if endpoint == "metadata":
            return self._with_headers(request, lambda puid: self._metadata(request, values, puid))
        if endpoint == "graph_metadata":
            return self._with_headers(
                request, lambda puid: self._graph_metadata(request, values, puid)
            )
        return self._api(request, values)

    def _metadata(self, request: Request, values: Mapping[str, Any], puid: str) -> Response:
        ctx = RequestContext(puid=puid, transport="REST", headers=self._forwarded(request))
        service = self._find(request, values)
        document = self._dataplane.model_metadata(service, values["model"], ctx, "metadata")
        if not isinstance(document, dict | list):
            document = json_format.MessageToDict(document)
        return Response(json.dumps(document), 200, content_type=JSON_CONTENT_TYPE)

    def _graph_metadata(self, request: Request, values: Mapping[str, Any], puid: str) -> Response:
        if values["version"] != "v1.0":
            raise NotFound(f"no such path: {request.path}")
        ctx = RequestContext(puid=puid, transport="REST", headers=self._forwarded(request))
        document = self._dataplane.graph_metadata(self._find(request, values), ctx, "metadata")
        return Response(json.dumps(document), 200, content_type=JSON_CONTENT_TYPE)

    def _status(self, request: Request, values: Mapping[str, Any]) -> Response:
        """200 when every component of the deployment answers, else 503 (the executor's
        readiness check, per deployment)."""
        try:
            service = self._find(request, values)
            problems = self._dataplane.unready(service)
        except ServingError as error:
            return _error_response(error)
        if problems:
            return _error_response(Unavailable("; ".join(problems)))
        return Response("", 200)

    @staticmethod
    def _forwarded(request: Request) -> dict[str, str]:
        """The request headers passed on to components (the executor passes them all)."""
        return {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in _NOT_FORWARDED
        }

    def _find(self, request: Request, values: Mapping[str, Any]) -> DeploymentService:
        name = values.get("name") or request.headers.get("seldon")
        namespace = values.get("namespace") or request.headers.get("namespace")
        return self._dataplane.find(name, namespace)

    def _api(self, request: Request, values: Mapping[str, Any]) -> Response:
        return self._with_headers(request, lambda puid: self._serve(request, values, puid))

    def _with_headers(self, request: Request, serve: Callable[[str], Response]) -> Response:
        """Run `serve` with the request's puid; errors as Seldon JSON; the executor's headers."""
        puid = request.headers.get(PUID_HEADER) or str(uuid.uuid4())
        try:
            response = serve(puid)
        except ServingError as error:
            response = _error_response(error)
            if isinstance(error, PayloadTooLarge):
                # the unread body must not be taken for the next request on this connection
                response.headers["Connection"] = "close"
        response.headers[PUID_HEADER] = puid
        response.headers["X-Content-Type-Options"] = "nosniff"
        # the executor's CORS middleware
        response.headers["Access-Control-Allow-Origin"] = os.environ.get(
            "CORS_ALLOWED_ORIGINS", "*"
        )
        response.headers["Access-Control-Allow-Headers"] = os.environ.get(
            "CORS_ALLOWED_HEADERS", _CORS_ALLOWED_HEADERS
        )
        return response

    def _serve(self, request: Request, values: Mapping[str, Any], puid: str) -> Response:
        version, operation = values["version"], values["operation"]
        if version not in _API_VERSIONS or operation not in _OPERATIONS:
            raise NotFound(f"no such path: {request.path}")
        if request.method == "OPTIONS":
            return Response("", 200)  # a CORS preflight
        if request.method != "POST":
            raise InvalidInput(f"{request.path} takes POST, not {request.method}")
        service = self._find(request, values)
        if request.content_length is not None and request.content_length > self._max_body:
            raise PayloadTooLarge(
                f"request body of {request.content_length} bytes is over {self._max_body}"
            )
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            raise PayloadTooLarge(f"request body is over {self._max_body} bytes") from None
        if not body.strip():
            raise InvalidInput("empty request body: expected a Seldon JSON message")
        ctx = RequestContext(
            puid=puid,
            transport="REST",
            headers=self._forwarded(request),
            skip_logging=_true(request.headers.get(SKIP_LOGGING_HEADER)),
        )
        if operation == "predictions":
            result = self._dataplane.predict(
                service, Payload.from_json("message", body), ctx, "predictions"
            )
        else:
            result = self._dataplane.feedback(
                service, Payload.from_json("feedback", body), ctx, "feedback"
            )
        return Response(result.json_bytes(), 200, content_type=JSON_CONTENT_TYPE)
