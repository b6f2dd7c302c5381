"""What every Seldon class of ours shares: real error statuses and metrics off the hot path.

`seldon-core-microservice` answers any exception from a user class as HTTP 500 and gRPC
UNKNOWN. Seldon offers a hook for REST (`model_error_handler`, a Flask blueprint); for gRPC
it offers none, so the first component constructed in a process swaps Seldon's servicer for a
subclass that aborts with the error's own gRPC code. Both use `errors.py` for the status.

The same servicer subclass, and Seldon's REST app factory, are handed Seldon's metrics object
behind `metrics_batching.BatchedSeldonMetrics`, so recording a request's metrics costs no
round trip to Seldon's metrics manager process while the client waits; Seldon's REST app also
parses request bodies with `fast_json`.
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
from seldon_tfserving.fast_json import FastJsonProvider
from seldon_tfserving.metrics_batching import batched

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


def _predict_raw_first(seldon_predict: Callable[..., Any]) -> Callable[..., Any]:
    """Seldon's gRPC Predict for a class with `predict_raw`, minus its `json_format` detour.

    Seldon reads a raw answer's metrics by printing the whole Meta to JSON and parsing it back
    (pure Python, about as long as the rest of our handler); this reads the Metric protos
    directly, then does what Seldon does with them. Anything else goes to Seldon's own path.
    Called when the hooks are installed, so seldon-core is imported then, not per request.
    """
    from seldon_core import seldon_methods
    from seldon_core.metrics import PREDICT_METRIC_METHOD_TAG
    from seldon_core.proto import prediction_pb2
    from seldon_core.user_model import SeldonNotImplementedError

    from seldon_tfserving.codec.seldon_meta import metrics_of

    @functools.wraps(seldon_predict)
    def predict(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        model = self.user_model
        if not hasattr(model, "predict_raw") or hasattr(model, "predict_grpc"):
            return seldon_predict(self, request, context)
        try:
            response = model.predict_raw(request)
        except SeldonNotImplementedError:
            return seldon_predict(self, request, context)
        if not isinstance(response, prediction_pb2.SeldonMessage):
            is_proto = isinstance(request, prediction_pb2.SeldonMessage)
            seldon_methods.handle_raw_custom_metrics(
                response, self.seldon_metrics, is_proto, PREDICT_METRIC_METHOD_TAG
            )
            return response
        metrics = metrics_of(response.meta)
        if metrics and not seldon_methods.INCLUDE_METRICS_IN_CLIENT_RESPONSE:
            del response.meta.metrics[:]
        self.seldon_metrics.update(metrics, PREDICT_METRIC_METHOD_TAG)
        return response

    return predict


def _with_batched_metrics(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def construct(self: Any, user_model: Any, seldon_metrics: Any) -> None:
        init(self, user_model, batched(seldon_metrics))

    return construct


def install_seldon_hooks() -> None:
    """Make Seldon's gRPC servicer answer our errors with their own status code, let its gRPC
    servicer and REST app record metrics through a batching front, and let its REST app parse
    bodies with `fast_json` (idempotent)."""
    with _install_lock:
        from seldon_core import wrapper

        base = wrapper.SeldonModelGRPC
        if getattr(base, "_maps_serving_errors", False):
            return
        namespace: dict[str, Any] = {
            "_maps_serving_errors": True,
            "__init__": _with_batched_metrics(base.__init__),
        }
        for name in _SERVICER_METHODS:
            namespace[name] = _aborting(getattr(base, name))
        namespace["Predict"] = _aborting(_predict_raw_first(base.Predict))
        wrapper.SeldonModelGRPC = type("SeldonTfServingModelGRPC", (base,), namespace)

        make_rest_app = wrapper.get_rest_microservice

        @functools.wraps(make_rest_app)
        def rest_app_with_our_hooks(user_model: Any, seldon_metrics: Any) -> Any:
            app = make_rest_app(user_model, batched(seldon_metrics))
            app.json = FastJsonProvider(app)
            return app

        wrapper.get_rest_microservice = rest_app_with_our_hooks


class SeldonComponent:
    """Base of our Seldon classes: REST errors via Seldon's hook, gRPC errors via the servicer,
    metrics recorded in batches."""

    def __init__(self) -> None:
        self.model_error_handler = _error_blueprint()
        install_seldon_hooks()
