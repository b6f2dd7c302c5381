"""The process-wide hooks that make `seldon-core-microservice` host our classes well.

Seldon answers any exception from a user class as gRPC UNKNOWN and offers no gRPC error hook,
so the first component constructed in a process swaps Seldon's servicer for a subclass that
aborts with the error's own code (`errors.py`; a ValueError is INVALID_ARGUMENT) and runs each
call under the caller's deadline (`caller_deadline.py`: a TF Serving call made for it ends by
then too). That servicer and Seldon's REST app also get Seldon's metrics behind
`BufferedSeldonMetrics`; the REST app parses bodies fast, answers bad requests with their
4xx (`seldon_errors.py`) and answers JSON predictions past Flask (`seldon_predict_lane.py`).
A class that declares TF faces (`tf_faces.py`) gets TF Serving's routes on the REST app and
its services on the gRPC server, before either starts. The servers themselves get our REST
worker and graceful stop (`serve.py`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import grpc

from seldon_tfserving.caller_deadline import caller_deadline
from seldon_tfserving.errors import InvalidInput, ServingError
from seldon_tfserving.microservice.json_provider import FastJsonProvider
from seldon_tfserving.microservice.metrics_buffer import buffered
from seldon_tfserving.microservice.seldon_version import (
    SERVICER_METHODS,
    bounded_rest_port_missing,
    hosting_release,
)
from seldon_tfserving.microservice.tf_faces import tf_faces_of

logger = logging.getLogger(__name__)

_install_lock = threading.Lock()


def _aborting(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` run under the caller's deadline, a ServingError aborting with its own code."""

    @functools.wraps(method)
    def call(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with caller_deadline(context.time_remaining()):
                return method(self, request, context)
        except ServingError as error:
            logger.warning("request failed: %s", error.message)
            context.abort(error.grpc_code, error.message)
        except ValueError as error:  # a user class's word that the input is wrong
            refused = InvalidInput(str(error) or type(error).__name__)
            logger.warning("request failed: %s", refused.message)
            context.abort(refused.grpc_code, refused.message)

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


def _with_buffered_metrics(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def construct(self: Any, user_model: Any, seldon_metrics: Any) -> None:
        init(self, user_model, buffered(seldon_metrics))

    return construct


def install_seldon_hooks() -> None:
    """Make Seldon's gRPC servicer answer our errors with their own status code, let its gRPC
    servicer and REST app record metrics through a buffering front, let its REST app parse
    bodies with `fast_json`, and serve the TF faces a class declares (idempotent). A
    seldon-core they do not fit is refused here, at start-up (`seldon_version.py`)."""
    with _install_lock:
        hosting_release()
        from seldon_core import wrapper

        base = wrapper.SeldonModelGRPC
        if getattr(base, "_maps_serving_errors", False):
            return
        namespace: dict[str, Any] = {
            "_maps_serving_errors": True,
            "__init__": _with_buffered_metrics(base.__init__),
        }
        for name in SERVICER_METHODS:
            namespace[name] = _aborting(getattr(base, name))
        namespace["Predict"] = _aborting(_predict_raw_first(base.Predict))
        wrapper.SeldonModelGRPC = type("SeldonTfServingModelGRPC", (base,), namespace)

        make_rest_app = wrapper.get_rest_microservice

        @functools.wraps(make_rest_app)
        def rest_app_with_our_hooks(user_model: Any, seldon_metrics: Any) -> Any:
            metrics = buffered(seldon_metrics)
            app = make_rest_app(user_model, metrics)
            app.json = FastJsonProvider(app)
            # imported here: it reads seldon-core, which the settings' readers must not pay for
            from seldon_tfserving.microservice.seldon_errors import answer_bad_requests_as_seldon

            answer_bad_requests_as_seldon(app)
            from seldon_tfserving.microservice.seldon_predict_lane import install_predict_lane

            install_predict_lane(app, user_model, metrics)
            if bounded_rest_port_missing() is not None:
                # no door in front (gunicorn 20.1): the body limit stands in the app instead
                from seldon_tfserving.microservice.rest_door import body_limit_of
                from seldon_tfserving.microservice.wsgi_body_limit import WsgiBodyLimit

                app.wsgi_app = WsgiBodyLimit(
                    app.wsgi_app, body_limit_of(user_model), "max_message_bytes"
                )
            faces = tf_faces_of(user_model)
            if faces is not None:
                from seldon_tfserving.microservice.tf_rest import add_tf_rest_routes

                add_tf_rest_routes(app, faces, metrics)
            return app

        wrapper.get_rest_microservice = rest_app_with_our_hooks

        make_grpc_server = wrapper.get_grpc_server

        @functools.wraps(make_grpc_server)
        def grpc_server_with_our_services(
            user_model: Any, seldon_metrics: Any, *args: Any, **kwargs: Any
        ) -> Any:
            server = make_grpc_server(user_model, seldon_metrics, *args, **kwargs)
            faces = tf_faces_of(user_model)
            if faces is not None:
                from seldon_tfserving.microservice.tf_grpc import add_tf_grpc_services

                add_tf_grpc_services(server, faces, buffered(seldon_metrics))
            return server

        wrapper.get_grpc_server = grpc_server_with_our_services

    from seldon_tfserving.microservice.serve import install_server_hooks

    install_server_hooks()
