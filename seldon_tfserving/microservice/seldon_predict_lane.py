"""Seldon's REST predictions answered past Flask, for the requests where that changes nothing
but the cost.

Seldon's `Predict` view reads the JSON body, calls `seldon_methods.predict` with the class and
its metrics, jsonifies the answer (its `status.code`, if any, as the HTTP status), and
Flask-CORS adds `Access-Control-Allow-Origin: *`. In process, Flask's part of that (contexts,
werkzeug's request, the form and query reads, Flask-CORS) costs about three times the call
itself. The lane sits in the app's `wsgi_app`, in front of Flask's, and does the same steps
for a POST of a JSON body with a length, no query and no `Origin`, while the class says its
code reads nothing of Flask's request (`reads_flask_request = False`: our `SeldonComponent`s)
and the app's route, view and request hooks are the ones it reproduces (checked at the first
request, the verdict logged).

Everything else is Flask's. A body that does not parse goes to Flask as it came. Whatever
`seldon_methods.predict` gave that the lane does not write itself (an exception, an answer
with a `status`, one its JSON cannot hold) is replayed through Seldon's own view: that call of
`predict` returns (or raises) what the lane got, so the class is called once and Seldon's and
our error handlers answer as they would have (an error keeps its traceback, which they read).
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.http import parse_options_header
from werkzeug.utils import get_content_type

logger = logging.getLogger(__name__)

Environ = dict[str, Any]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]

#: Seldon's routes to its `Predict` view that take a POST (`seldon_core/wrapper.py`)
PREDICT_PATHS = frozenset({"/predict", "/api/v1.0/predictions", "/api/v0.1/predictions"})
#: Flask-CORS's header for a request without `Origin`, under Seldon's `CORS(app)` defaults
_CORS_HEADER = ("Access-Control-Allow-Origin", "*")
_EXTENSION = "seldon_tfserving.predict_lane"
#: the request hooks whose effect on a lane's request the lane reproduces: our refusal of a
#: body that is not JSON (a lane's body is JSON), and Flask-CORS's header
_REPRODUCED_BEFORE = frozenset(
    {
        "seldon_tfserving.microservice.seldon_errors:"
        "refuse_bodies_that_are_not_json.<locals>.refuse_a_body_that_is_not_json",
    }
)
_REPRODUCED_AFTER = (
    "flask_cors.extension:make_after_request_function.<locals>.cors_after_request",
)


class SeldonPredictLane:
    """The app's `wsgi_app`: the predictions Seldon's view would answer the same answered here,
    every other request handed to Flask's own (`flask`)."""

    def __init__(self, app: Flask, user_model: Any, seldon_metrics: Any) -> None:
        from seldon_core import seldon_methods, wrapper

        self.app = app
        self.flask: WsgiApp = app.wsgi_app
        self.user_model = user_model
        self.seldon_metrics = seldon_metrics
        self._predict = seldon_methods.predict
        self._seldon_logger = wrapper.logger
        self._passthrough = bool(getattr(wrapper, "PAYLOAD_PASSTHROUGH", False))
        mimetype: str = app.json.mimetype  # type: ignore[attr-defined]
        self._content_type = get_content_type(mimetype, "utf-8")
        self._open: bool | None = None  # decided at the first request, when the app is whole

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = self._length_if_taken(environ)
        if length is None:
            return self.flask(environ, start_response)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again if it answers
        try:
            message = self.app.json.loads(body)
        except Exception:  # Flask's get_json and Seldon's get_request refuse it their way
            message = None
        if message is None:
            return self.flask(environ, start_response)
        try:
            response = self._predict(self.user_model, message, self.seldon_metrics)
        except Exception as error:
            return self._replayed(environ, start_response, _Raised(error))
        if isinstance(response, dict) and "status" in response:
            return self._replayed(environ, start_response, response)  # the view's status rule
        try:
            text = self.app.json.dumps(response, separators=(",", ":"))
        except Exception:
            return self._replayed(environ, start_response, response)  # jsonify fails its way
        content = f"{text}\n".encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", self._content_type),
                ("Content-Length", str(len(content))),
                _CORS_HEADER,
            ],
        )
        return [content]

    def takes(self, environ: Environ) -> bool:
        """Whether the lane answers this request itself."""
        return self._length_if_taken(environ) is not None

    def _length_if_taken(self, environ: Environ) -> int | None:
        """The body's length, if this is a request the lane answers as Seldon's view would."""
        if environ["REQUEST_METHOD"] != "POST" or environ.get("PATH_INFO") not in PREDICT_PATHS:
            return None
        if environ.get("QUERY_STRING") or "HTTP_ORIGIN" in environ:
            return None  # a `json` query argument; Flask-CORS answers an Origin by name
        if "HTTP_TRANSFER_ENCODING" in environ:
            return None
        mimetype, _ = parse_options_header(environ.get("CONTENT_TYPE", ""))
        length = environ.get("CONTENT_LENGTH", "")
        if mimetype.lower() != "application/json" or not (length.isascii() and length.isdigit()):
            return None
        if self._seldon_logger.isEnabledFor(logging.DEBUG):
            return None  # Seldon's view logs every request and answer at debug
        if self._open is None:
            self._open = self._decide()
        return int(length) if self._open else None

    def _replayed(
        self, environ: Environ, start_response: Callable[..., Any], outcome: Any
    ) -> Iterable[bytes]:
        _replay.outcome = outcome
        try:
            return self.flask(environ, start_response)  # Flask's answer is whole when it returns
        finally:
            _replay.outcome = None

    def _decide(self) -> bool:
        reasons = self._what_differs()
        if reasons:
            logger.info("Seldon's REST predictions are answered by Flask: %s", "; ".join(reasons))
            return False
        logger.info("Seldon's REST predictions of JSON bodies are answered past Flask")
        return True

    def _what_differs(self) -> list[str]:
        """What in the app the lane would not reproduce (none: the lane is open)."""
        from seldon_core import seldon_methods

        app = self.app
        reasons: list[str] = []
        if getattr(self.user_model, "reads_flask_request", True):
            reasons.append(
                "the class does not declare reads_flask_request = False (its code may read"
                " Flask's request), as our SeldonComponent classes do"
            )
        if not getattr(seldon_methods.predict, _REPLAYS, False):  # what the view calls
            reasons.append("seldon_methods.predict is not the one that replays the lane's")
        if self._passthrough:
            reasons.append("PAYLOAD_PASSTHROUGH hands the view the raw body")
        if app.debug or app.json.compact is not None:  # type: ignore[attr-defined]
            reasons.append("Flask's debug or compact setting changes the JSON it writes")
        adapter = app.url_map.bind("localhost")
        for path in sorted(PREDICT_PATHS):
            if adapter.match(path, "POST") != ("Predict", {}):
                reasons.append(f"{path} is not Seldon's Predict route")
        view = app.view_functions.get("Predict")
        if getattr(view, "__module__", None) != "seldon_core.wrapper":
            reasons.append("the Predict view is not Seldon's")
        unknown = _unknown(app.before_request_funcs.get(None, ()), _REPRODUCED_BEFORE)
        if unknown:
            reasons.append(f"before-request hooks {unknown}")
        after = tuple(_hook_name(f) for f in app.after_request_funcs.get(None, ()))
        if after != _REPRODUCED_AFTER:
            reasons.append(f"after-request hooks {list(after)}")
        teardown = app.teardown_request_funcs.get(None, ())
        others = [*teardown, *app.url_value_preprocessors.get(None, ())]
        if others:
            reasons.append(f"request hooks {_unknown(others, frozenset())}")
        return reasons


def _hook_name(function: Callable[..., Any]) -> str:
    return f"{function.__module__}:{function.__qualname__}"


def _unknown(hooks: Iterable[Callable[..., Any]], known: frozenset[str]) -> list[str]:
    return [name for name in map(_hook_name, hooks) if name not in known]


@dataclass(frozen=True)
class _Raised:
    """What `seldon_methods.predict` raised in the lane, to be raised again in the view."""

    error: Exception


#: the outcome of `seldon_methods.predict` in the lane, while its view replays it (per thread)
_replay = threading.local()
_REPLAYS = "_replays_the_predict_lane"


def _replaying(seldon_predict: Callable[..., Any]) -> Callable[..., Any]:
    """Seldon's `predict`, or, inside a replay, the outcome the lane already had."""

    @functools.wraps(seldon_predict)
    def predict(user_model: Any, request: Any, seldon_metrics: Any) -> Any:
        outcome = getattr(_replay, "outcome", None)
        if outcome is None:
            return seldon_predict(user_model, request, seldon_metrics)
        _replay.outcome = None
        if isinstance(outcome, _Raised):
            raise outcome.error  # its traceback still ends where it was raised
        return outcome

    setattr(predict, _REPLAYS, True)
    return predict


_install_lock = threading.Lock()


def install_predict_lane(app: Flask, user_model: Any, seldon_metrics: Any) -> SeldonPredictLane:
    """Put the lane in front of Flask's `wsgi_app`, and make Seldon's `predict` able to replay
    the lane's outcomes (once a process)."""
    from seldon_core import seldon_methods

    with _install_lock:
        if not getattr(seldon_methods.predict, _REPLAYS, False):
            seldon_methods.predict = _replaying(seldon_methods.predict)
    lane = SeldonPredictLane(app, user_model, seldon_metrics)
    app.wsgi_app = lane  # type: ignore[method-assign]
    app.extensions[_EXTENSION] = lane  # found there whatever wraps it later (the body limit)
    return lane


def predict_lane_of(app: Flask) -> SeldonPredictLane | None:
    """The lane `install_predict_lane` put in this app, if any."""
    lane = app.extensions.get(_EXTENSION)
    return lane if isinstance(lane, SeldonPredictLane) else None
