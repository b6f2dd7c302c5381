"""Seldon's REST routes answer bad requests with a 4xx and Seldon's error JSON, never a 500.

seldon-core's app answers every exception it did not raise itself as a 500: Flask 3's 415
for a body that is not JSON, werkzeug's 404 and 405, and any ValueError a user class raises
for input it cannot take. A body that is not JSON is refused before Seldon's view reads it, so
the answer is a 415 on both seldon-core releases (on Flask 2.2, 1.17.1's, Seldon made it a 400
saying "Can't find JSON in data"). These handlers are more specific than Seldon's catch-all,
so Flask picks them; the status stays the one the error means. An error seldon-core's own
code raises while it decodes a request (a tensor without `values`: KeyError) is a 400 too;
one raised in a user class's code stays Seldon's 500.
"""

from __future__ import annotations

import logging
import sysconfig
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import seldon_core
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from seldon_tfserving.errors import InvalidInput, ServingError

logger = logging.getLogger(__name__)


class HttpRefusal(ServingError):
    """A request refused by the HTTP layer (werkzeug), under the status it chose."""

    seldon_reason = "MICROSERVICE_BAD_DATA"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status


_SELDON_CORE = str(Path(seldon_core.__file__).parent)
_OURS = str(Path(__file__).resolve().parent.parent)
_LIBRARIES = tuple(
    {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib", "platstdlib")}
)


def raised_by_seldon_core(traceback: TracebackType | None) -> bool:
    """Whether the deepest frame that is not a library's (numpy, protobuf, ...) is in
    seldon-core's code: seldon-core failed on the request it decodes, not a class on it."""
    deepest = None
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        if filename.startswith((_SELDON_CORE, _OURS)) or not filename.startswith(_LIBRARIES):
            deepest = filename
        traceback = traceback.tb_next
    return deepest is not None and deepest.startswith(_SELDON_CORE)


def is_seldon_json_body() -> bool:
    """Whether the request carries its message the ways seldon-core's `get_request` reads:
    a JSON body, a multipart form, or a `json` form field or query argument."""
    if request.is_json or request.mimetype == "multipart/form-data":
        return True
    return bool(request.args.get("json") or request.form.get("json"))


def refuse_bodies_that_are_not_json(app: Flask) -> None:
    """A POST to one of Seldon's own routes whose body is not JSON is a 415 (the TF faces'
    routes, added later, take TF Serving's rule: any content type)."""
    from seldon_core import wrapper

    seldon_endpoints = frozenset(app.view_functions)
    raw_endpoints = {"Predict"} if getattr(wrapper, "PAYLOAD_PASSTHROUGH", False) else set()

    @app.before_request
    def refuse_a_body_that_is_not_json() -> None:
        endpoint = request.endpoint
        if request.method != "POST" or endpoint not in seldon_endpoints:
            return
        if endpoint in raw_endpoints or is_seldon_json_body():
            return
        raise UnsupportedMediaType(
            f"a Seldon message is JSON: Content-Type {request.mimetype or '(none)'} is not"
            " application/json"
        )


def answer_bad_requests_as_seldon(app: Flask) -> None:
    """Register the handlers on Seldon's app (once, when our hooks build it, before the TF
    faces' routes)."""
    refuse_bodies_that_are_not_json(app)
    seldon_catch_all: Callable[[Exception], Any] | None = app.error_handler_spec[None][None].get(
        Exception
    )

    @app.errorhandler(Exception)
    def seldon_could_not_decode(error: Exception) -> Any:
        if raised_by_seldon_core(error.__traceback__):
            refused = InvalidInput(
                f"the request cannot be decoded: {type(error).__name__}: {error}"
            )
            logger.warning("request refused: %s", refused.message)
            return jsonify(refused.seldon_json()), refused.http_status
        if seldon_catch_all is None:
            raise error
        return seldon_catch_all(error)

    @app.errorhandler(HTTPException)
    def http_refusal(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 400
        refusal = HttpRefusal(f"{status} {error.name}: {error.description}", status)
        logger.warning("request refused: %s", refusal.message)
        return jsonify(refusal.seldon_json()), status

    @app.errorhandler(ValueError)
    def value_refused(error: ValueError) -> tuple[Response, int]:
        # a user class's word that the input is wrong (also json's JSONDecodeError)
        refused = InvalidInput(str(error) or type(error).__name__)
        logger.warning("request failed: %s", refused.message)
        return jsonify(refused.seldon_json()), refused.http_status
