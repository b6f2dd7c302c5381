"""Seldon's external REST API as the cluster's ingress exposes it.

`/seldon/<namespace>/<name>/api/v1.0/predictions|feedback` (Istio and Ambassador),
`/seldon/<name>/api/...`, and `/api/v1.0/...` directly (the deployment then comes from the
`seldon` / `namespace` headers, or is the only one served). Bodies pass to the components as
they came; a component's error comes back with its own status and body, as the executor does.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from google.protobuf import json_format
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from seldon_tfserving.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServingError,
    Unavailable,
)
from seldon_tfserving.gateway.context import (
    PUID_HEADER,
    SKIP_LOGGING_HEADER,
    RequestContext,
    skips_logging,
)
from seldon_tfserving.gateway.cors import CorsPolicy
from seldon_tfserving.gateway.dataplane import DataPlane, DeploymentService
from seldon_tfserving.gateway.json_meta import meta_size
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.payload import JSON_CONTENT_TYPE, Payload, PayloadKind
from seldon_tfserving.gateway.wsgi_bridge import REFUSAL_KEY, front_body

logger = logging.getLogger(__name__)

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
#: The same, as environ keys (`HTTP_` and upper case; the environ's own CONTENT_TYPE and
#: CONTENT_LENGTH never start with `HTTP_`).
_NOT_FORWARDED_KEYS = frozenset("HTTP_" + name.upper().replace("-", "_") for name in _NOT_FORWARDED)
_OPERATIONS = ("predictions", "feedback")
_API_VERSIONS = ("v0.1", "v1.0")
_POST, _GET = frozenset({"POST", "OPTIONS"}), frozenset({"GET", "OPTIONS"})
#: The methods of each route, as the executor's mux registers them (server.go:158-171); the
#: gateway's own paths (probes, metrics) take any method, as the executor's do.
_METHODS: dict[str, frozenset[str]] = {
    "status": _GET,
    "graph_metadata": _GET,
    "metadata": _GET,
    "api": _POST,
}
_SPACE = b" \t\r\n"
#: An endpoint and its path values, as matched.
Route = tuple[str, tuple[tuple[str, Any], ...]]
_MAX_ROUTES = 1024

_URLS = Map(
    [
        Rule("/seldon/<namespace>/<name>/api/<version>/health/status", endpoint="status"),
        Rule("/seldon/<name>/api/<version>/health/status", endpoint="status"),
        Rule("/api/<version>/health/status", endpoint="status"),
        Rule("/seldon/<namespace>/<name>/api/<version>/status", endpoint="status"),
        Rule("/seldon/<name>/api/<version>/status", endpoint="status"),
        Rule("/api/<version>/status", endpoint="status"),
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


def forwarded_headers(request: Request) -> dict[str, str]:
    """The request headers passed on to components (the executor passes them all), named as
    werkzeug names them; read from the environ at once (werkzeug's header view is a
    generator over the environ, slow on every request)."""
    forwarded: dict[str, str] = {}
    for key, value in request.environ.items():
        if key.startswith("HTTP_") and key not in _NOT_FORWARDED_KEYS:
            forwarded[key[5:].replace("_", "-").title()] = value
    return forwarded


class TfFace(Protocol):
    """TF Serving's face (tf_rest_api.py): its answer, or None for a request not its own."""

    def __call__(self, request: Request) -> Response | None: ...

    def owns(self, request: Request) -> bool: ...

    def error(self, error: ServingError) -> Response: ...


def _error_response(error: ServingError) -> Response:
    """Seldon's error answer; a component's own error comes back as the component gave it."""
    body, content_type = error.seldon_body()
    return Response(body, error.http_status, content_type=content_type)


def request_body(request: Request, max_body_bytes: int) -> bytes:
    """The request's body: the front's bytes as they are, else read from `wsgi.input` up to
    `max_body_bytes`; a declared length over it is refused before anything is read."""
    declared = request.content_length
    if declared is not None and declared > max_body_bytes:
        raise PayloadTooLarge(f"request body of {declared} bytes is over {max_body_bytes}")
    given = front_body(request.environ)
    if given is not None:
        return given
    # werkzeug stops a stream of no declared length at its maximum without a word, so one
    # byte more is asked for: a body that fills it is over the limit, never cut to fit (a
    # declared length over the maximum, werkzeug's one refusal, is refused above)
    request.max_content_length = max_body_bytes + 1
    body = request.get_data(cache=False)
    if len(body) > max_body_bytes:
        raise PayloadTooLarge(f"request body is over {max_body_bytes} bytes")
    return body


def check_message(body: bytes, kind: PayloadKind, max_meta_bytes: int) -> None:
    """A Seldon message or feedback is a JSON object, and its `meta` is bounded: refused here,
    before the graph runs (each node would echo a huge `meta.tags` back)."""
    start = 0
    while start < len(body) and body[start] in _SPACE:
        start += 1
    if body[start : start + 1] != b"{":
        raise InvalidInput(f"a Seldon {kind} is a JSON object")
    if len(body) > max_meta_bytes:
        size = meta_size(body)
        if size > max_meta_bytes:
            raise PayloadTooLarge(
                f"meta of {size} bytes is over the gateway's limit of {max_meta_bytes} bytes "
                "(max_meta_bytes)"
            )


class RestApi:
    """The WSGI application of the gateway's REST port."""

    def __init__(
        self,
        dataplane: DataPlane,
        metrics: GatewayMetrics,
        max_body_bytes: int,
        *,
        cors: CorsPolicy,
        max_meta_bytes: int,
        tf_face: TfFace | None = None,
        readiness: Callable[[], list[str]] | None = None,
    ) -> None:
        self._dataplane = dataplane
        #: TF Serving's API for `protocol: tensorflow` deployments (tf_rest_api.py)
        self._tf_face = tf_face
        #: what keeps `/ready` at 503 (TF models not yet AVAILABLE)
        self._readiness = readiness
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._max_meta = max_meta_bytes
        # the executor's CORS middleware, off unless origins are named
        self._cors = cors
        #: paths already matched (bounded: a client naming endless paths is matched afresh)
        self._routes: dict[str, Route | None] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self._max_body
        refusal = environ.get(REFUSAL_KEY)
        if isinstance(refusal, ServingError):
            response = self._refusal(request, refusal)
        else:
            response = self._dispatch(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Route | None:
        """The endpoint and path values of the request's path, matched once per path (the
        match depends on the path alone: no rule names a host or a method)."""
        path = request.environ.get("PATH_INFO", "")
        if path in self._routes:
            return self._routes[path]
        try:
            endpoint, values = _URLS.bind_to_environ(request.environ).match()
            route: Route | None = (endpoint, tuple(values.items()))
        except HTTPException:
            route = None
        if len(self._routes) < _MAX_ROUTES:
            self._routes[path] = route
        return route

    def _refusal(self, request: Request, error: ServingError) -> Response:
        """A request the door refused (framing, size, time): in the shape of its protocol."""
        if self._tf_face is not None and self._tf_face.owns(request):
            response = self._tf_face.error(error)
        else:
            response = _error_response(error)
        response.headers["Connection"] = "close"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.update(self._cors.headers(request.headers.get("Origin")))
        return response

    def _dispatch(self, request: Request) -> Response:
        if self._tf_face is not None:
            answer = self._tf_face(request)
            if answer is not None:
                return answer
        route = self._route(request)
        if route is None:
            return _error_response(NotFound(f"no such path: {request.path}"))
        endpoint, values = route[0], dict(route[1])
        if endpoint == "metrics":
            return Response(self._metrics.exposition(), content_type="text/plain; version=0.0.4")
        if endpoint == "ready" and self._readiness is not None:
            problems = self._readiness()
            if problems:
                return Response("; ".join(problems), 503, content_type="text/plain")
        if endpoint in ("ready", "live"):
            return Response("ok", content_type="text/plain")
        if endpoint == "api" and (
            values["version"] not in _API_VERSIONS or values["operation"] not in _OPERATIONS
        ):
            return _error_response(NotFound(f"no such path: {request.path}"))
        methods = _METHODS[endpoint]
        if request.method not in methods:
            return Response(b"", 405)  # mux's answer: no body, no middleware headers
        if request.method == "OPTIONS":
            response = Response("", 200)  # a CORS preflight: the executor answers it itself
            response.headers.update(
                self._cors.preflight_headers(request.headers.get("Origin"), methods)
            )
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
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
        ctx = RequestContext(puid=puid, transport="rest", headers=self._forwarded(request))
        service = self._find(request, values)
        document = self._dataplane.model_metadata(service, values["model"], ctx, "metadata")
        if not isinstance(document, dict | list):
            document = json_format.MessageToDict(document)
        return Response(json.dumps(document), 200, content_type=JSON_CONTENT_TYPE)

    def _graph_metadata(self, request: Request, values: Mapping[str, Any], puid: str) -> Response:
        if values["version"] != "v1.0":
            raise NotFound(f"no such path: {request.path}")
        ctx = RequestContext(puid=puid, transport="rest", headers=self._forwarded(request))
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
            return self._cors_answer(request, _error_response(Unavailable("; ".join(problems))))
        return self._cors_answer(request, Response("", 200))

    def _cors_answer(self, request: Request, response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.update(self._cors.headers(request.headers.get("Origin")))
        return response

    @staticmethod
    def _forwarded(request: Request) -> dict[str, str]:
        return forwarded_headers(request)

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
        return self._cors_answer(request, response)

    def _serve(self, request: Request, values: Mapping[str, Any], puid: str) -> Response:
        operation = values["operation"]
        self._cors.check_state_change(
            request.headers.get("Origin"), request.headers.get("Content-Type")
        )
        service = self._find(request, values)
        body = request_body(request, self._max_body)
        if not body or body.isspace():  # (strip would copy the whole body)
            raise InvalidInput("empty request body: expected a Seldon JSON message")
        kind: PayloadKind = "message" if operation == "predictions" else "feedback"
        check_message(body, kind, self._max_meta)
        ctx = RequestContext(
            puid=puid,
            transport="rest",
            headers=self._forwarded(request),
            skip_logging=skips_logging(request.headers.get(SKIP_LOGGING_HEADER)),
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
