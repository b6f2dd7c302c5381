"""TF Serving's REST API through the graph, for deployments with `spec.protocol: tensorflow`.

Exactly the executor's routes (rest/server.go), under `/seldon/<ns>/<name>/` and at the root,
matched as its gorilla/mux router matches them: in order, a path that matches with another
method moves on to later routes, no match is 404 `404 page not found`, a path matched only
with other methods is 405 with an empty body. Ours beyond the executor, after its routes:
`/versions/<n>` and `/labels/<l>`, `:classify` and `:regress`. Errors are TF Serving's
`{"error": ...}`; the routing taken comes back in the `Seldon-Routing` header.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from seldon_tfserving.codec.tfserving_paths import MODEL_ID, NAME, VERSION_OR_LABEL
from seldon_tfserving.errors import InvalidInput, NotFound, PayloadTooLarge, ServingError
from seldon_tfserving.gateway.context import (
    PUID_HEADER,
    SKIP_LOGGING_HEADER,
    RequestContext,
    skips_logging,
)
from seldon_tfserving.gateway.cors import CorsPolicy
from seldon_tfserving.gateway.dataplane import DeploymentService
from seldon_tfserving.gateway.protocols import TENSORFLOW_PROTOCOL
from seldon_tfserving.gateway.rest_api import forwarded_headers, request_body
from seldon_tfserving.gateway.tf_dataplane import TfDataPlane
from seldon_tfserving.gateway.tf_errors import JSON_CONTENT_TYPE, tf_error_answer
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget, TfVerb

#: Ours: the routing each node took, as JSON (a TF body has no `meta` to carry it).
ROUTING_HEADER = "Seldon-Routing"
NOT_FOUND_BODY = b"404 page not found\n"
#: Paths of the gateway itself, whatever the deployments' protocol.
_OWN_PATHS = frozenset({"/ready", "/live", "/metrics", "/prometheus"})
_INT64_MAX = 2**63 - 1

Operation = Literal["predict", "status", "metadata", "feedback"]


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    operation: Operation


def _route(pattern: str, methods: tuple[str, ...], operation: Operation) -> _Route:
    return _Route(re.compile(f"^{pattern}$"), frozenset(methods), operation)


_POST, _GET = ("POST", "OPTIONS"), ("GET", "OPTIONS")
_MODEL = r"(?P<name>[^/]+)"
ROUTES = (
    # the executor's, in its order (server.go:174-183)
    _route(rf"/v1/models/{_MODEL}/:predict", _POST, "predict"),
    _route(rf"/v1/models/{_MODEL}:predict", _POST, "predict"),
    _route(r"/v1/models/:predict", _POST, "predict"),
    _route(r"/v1/models:predict", _POST, "predict"),
    _route(rf"/v1/models/{_MODEL}", _GET, "status"),
    _route(rf"/v1/models/{_MODEL}/metadata", _GET, "metadata"),
    _route(r"/api/v1\.0/feedback", _POST, "feedback"),
    # ours: TF Serving's own paths that the executor has not
    _route(
        rf"/v1/models/{MODEL_ID}:(?P<verb>predict|classify|regress)",
        _POST,
        "predict",
    ),  # noqa: E501
    _route(rf"/v1/models/{NAME}{VERSION_OR_LABEL}", _GET, "status"),
    _route(rf"/v1/models/{NAME}{VERSION_OR_LABEL}/metadata", _GET, "metadata"),
)


def split_prefix(path: str) -> tuple[str | None, str | None, str]:
    """(namespace, name, the path the executor sees): the ingress's `/seldon/<ns>/<name>/`
    (or `/seldon/<name>/`) prefix is cut off, as Istio's and Ambassador's rewrite does."""
    parts = path.split("/")
    if len(parts) > 4 and parts[1] == "seldon" and parts[4] in ("v1", "api"):
        return parts[2], parts[3], "/" + "/".join(parts[4:])
    if len(parts) > 3 and parts[1] == "seldon" and parts[3] in ("v1", "api"):
        return None, parts[2], "/" + "/".join(parts[3:])
    return None, None, path


def match(path: str, method: str) -> tuple[_Route, dict[str, str]] | int:
    """The route and its variables, or 404 / 405 (mux's fall-through rule)."""
    path_matched = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if method in route.methods:
            return route, {k: v for k, v in found.groupdict().items() if v is not None}
        path_matched = True
    return 405 if path_matched else 404


def target_of(variables: Mapping[str, str]) -> TfTarget:
    """What the client called, from the path's variables."""
    version = variables.get("version")
    if version is not None and int(version) > _INT64_MAX:
        raise InvalidInput(f"version {version} is out of range")
    verb: TfVerb = "predict"
    if variables.get("verb") in ("classify", "regress"):
        verb = "classify" if variables["verb"] == "classify" else "regress"
    return TfTarget(
        model=unquote(variables.get("name", "")),
        verb=verb,
        version=int(version) if version is not None else None,
        label=unquote(label) if (label := variables.get("label")) is not None else None,
    )


class TfRestApi:
    """Answers the requests that reach a TF-protocol deployment; others are not its own."""

    def __init__(
        self,
        dataplane: TfDataPlane,
        max_body_bytes: int,
        cors: CorsPolicy,
    ) -> None:
        self._dataplane = dataplane
        self._max_body = max_body_bytes
        self._cors = cors

    def owns(self, request: Request) -> bool:
        """Whether the request names a TF-protocol deployment (or a TF path none serves)."""
        if request.path in _OWN_PATHS:
            return False
        namespace, name, path = split_prefix(request.path)
        try:
            service = self._dataplane.dataplane.find(
                name or request.headers.get("seldon"),
                namespace or request.headers.get("namespace"),
            )
        except NotFound:
            return path.startswith("/v1/")
        return service.protocol == TENSORFLOW_PROTOCOL

    def __call__(self, request: Request) -> Response | None:
        """The answer, or None when the request is not for a TF-protocol deployment."""
        if request.path in _OWN_PATHS:
            return None
        namespace, name, path = split_prefix(request.path)
        try:
            service = self._dataplane.dataplane.find(
                name or request.headers.get("seldon"),
                namespace or request.headers.get("namespace"),
            )
        except NotFound as unknown:
            if not path.startswith("/v1/"):
                return None  # a Seldon path: Seldon's face answers it
            answer = self.error(unknown)
            return self._with_headers(request, None, lambda _: answer)
        if service.protocol != TENSORFLOW_PROTOCOL:
            return None
        matched = match(path, request.method)
        if matched == 404:
            return Response(NOT_FOUND_BODY, 404, content_type="text/plain; charset=utf-8")
        if matched == 405 or isinstance(matched, int):
            return Response(b"", 405)
        route, variables = matched
        if request.method == "OPTIONS":
            preflight = Response(b"", 200)
            preflight.headers.update(
                self._cors.preflight_headers(request.headers.get("Origin"), route.methods)
            )
            return self._with_headers(request, service, lambda _: preflight)
        if request.method == "POST":
            try:
                self._cors.check_state_change(
                    request.headers.get("Origin"), request.headers.get("Content-Type")
                )
            except ServingError as refused:
                answer = self.error(refused)
                return self._with_headers(request, service, lambda _: answer)
        handler = self._handlers()[route.operation]
        return self._with_headers(
            request, service, lambda puid: handler(request, service, variables, puid)
        )

    def _handlers(
        self,
    ) -> dict[Operation, Callable[[Request, DeploymentService, dict[str, str], str], Response]]:
        return {
            "predict": self._predict,
            "status": self._status,
            "metadata": self._metadata,
            "feedback": self._feedback,
        }

    @staticmethod
    def error(error: ServingError) -> Response:
        """TF Serving's `{"error": ...}` answer to `error`."""
        status, body = tf_error_answer(error)
        response = Response(body, status, content_type=JSON_CONTENT_TYPE)
        if isinstance(error, PayloadTooLarge):
            # the unread body must not be taken for the next request on this connection
            response.headers["Connection"] = "close"
        return response

    def _with_headers(
        self,
        request: Request,
        service: DeploymentService | None,
        serve: Callable[[str], Response],
    ) -> Response:
        """`serve`'s answer (errors in TF's shape) with the executor's middleware headers."""
        puid = request.headers.get(PUID_HEADER) or str(uuid.uuid4())
        try:
            response = serve(puid)
        except ServingError as error:
            response = self.error(error)
        response.headers[PUID_HEADER] = puid
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.update(self._cors.headers(request.headers.get("Origin")))
        if service is not None and request.headers.get("Ce-Specversion"):
            deployment = service.deployment
            response.headers.update(
                {
                    "Ce-Id": puid,
                    "Ce-Specversion": "0.3",
                    "Ce-Path": request.path,
                    "Ce-Type": f"seldon.{deployment.name}.{deployment.namespace}.response",
                    "Ce-Source": f"seldon.{deployment.name}",
                }
            )
        return response

    def _context(self, request: Request, puid: str, target: TfTarget) -> RequestContext:
        return RequestContext(
            puid=puid,
            transport="rest",
            headers=forwarded_headers(request),
            skip_logging=skips_logging(request.headers.get(SKIP_LOGGING_HEADER)),
            tf_target=target,
        )

    def _body(self, request: Request) -> bytes:
        body = request_body(request, self._max_body)
        if not body or body.isspace():  # (strip would copy the whole body)
            raise InvalidInput("JSON Parse error: The document is empty")
        return body

    def _predict(
        self, request: Request, service: DeploymentService, variables: dict[str, str], puid: str
    ) -> Response:
        target = target_of(variables)
        payload = TfPayload.from_json(
            self._body(request), request.content_type or "", is_request=True
        )
        if not payload.leads_with_inputs() and not isinstance(payload.document(), dict):
            raise InvalidInput("the request body must be a JSON object")
        ctx = self._context(request, puid, target)
        result = self._dataplane.predict(service, payload, ctx, "predictions")
        response = Response(result.json_bytes(), 200, content_type=result.content_type)
        response.headers[ROUTING_HEADER] = json.dumps(ctx.routing, separators=(",", ":"))
        return response

    def _status(
        self, request: Request, service: DeploymentService, variables: dict[str, str], puid: str
    ) -> Response:
        target = target_of(variables)
        ctx = self._context(request, puid, target)
        answer = self._dataplane.model_status(service, target, None, ctx, "status")
        return Response(answer.json_bytes(), 200, content_type=answer.content_type)

    def _metadata(
        self, request: Request, service: DeploymentService, variables: dict[str, str], puid: str
    ) -> Response:
        target = target_of(variables)
        ctx = self._context(request, puid, target)
        answer = self._dataplane.model_metadata(service, target, None, ctx, "metadata")
        return Response(answer.json_bytes(), 200, content_type=answer.content_type)

    def _feedback(
        self, request: Request, service: DeploymentService, variables: dict[str, str], puid: str
    ) -> Response:
        body = self._body(request)
        ctx = self._context(request, puid, TfTarget())
        client_puid = request.headers.get(PUID_HEADER)
        self._dataplane.feedback(service, body, ctx, client_puid, "feedback")
        return Response(body, 200, content_type=request.content_type or JSON_CONTENT_TYPE)
