"""What every Seldon class of ours shares: our errors answered with their real status.

`seldon-core-microservice` answers any exception from a user class as HTTP 500 and gRPC
UNKNOWN. Seldon offers a hook for REST (`model_error_handler`, a Flask blueprint); for gRPC
it offers none, so the first component constructed in a process swaps Seldon's servicer for a
subclass that aborts with the error's own gRPC code. Both use `errors.py` for the status.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import grpc
from flask import Blueprint, Response, jsonify

from seldon_tfserving.errors import InvalidInput, ServingError

logger = logging.getLogger(__name__)

_SERVICER_METHODS = (
    "Predict",
    "SendFeedback",
    "TransformInput",
    "TransformOutput",
    "Route",
    "Aggregate",
)
_install_lock = threading.Lock()


def _error_blueprint() -> Blueprint:
    blueprint = Blueprint("seldon_tfserving_errors", __name__)

    @blueprint.app_errorhandler(ServingError)
    def handle_serving_error(error: ServingError) -> tuple[Response, int]:
        logger.warning("request failed: %s", error.message)
        return jsonify(error.seldon_json()), error.http_status

    @blueprint.app_errorhandler(RecursionError)
    def handle_nesting_too_deep(error: RecursionError) -> tuple[Response, int]:
        # Seldon parses the body before our class sees it; JSON nested deeper than Python's
        # recursion limit fails there and would otherwise come back as a 500.
        refused = InvalidInput(f"the request cannot be decoded: {error}")
        return jsonify(refused.seldon_json()), refused.http_status

    return blueprint


def _aborting(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except ServingError as error:
            logger.warning("request failed: %s", error.message)
            context.abort(error.grpc_code, error.message)

    return call


def install_grpc_status_mapping() -> None:
    """Make Seldon's gRPC servicer answer our errors with their own status code (idempotent)."""
    with _install_lock:
        from seldon_core import wrapper

        base = wrapper.SeldonModelGRPC
        if getattr(base, "_maps_serving_errors", False):
            return
        namespace: dict[str, Any] = {"_maps_serving_errors": True}
        for name in _SERVICER_METHODS:
            namespace[name] = _aborting(getattr(base, name))
        wrapper.SeldonModelGRPC = type("StatusMappingSeldonModelGRPC", (base,), namespace)


class SeldonComponent:
    """Base of our Seldon classes: REST errors via Seldon's hook, gRPC errors via the servicer."""

    def __init__(self) -> None:
        self.model_error_handler = _error_blueprint()
        install_grpc_status_mapping()
