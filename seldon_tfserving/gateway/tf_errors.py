"""TF Serving's error answer for every failure under `protocol: tensorflow`.

TF Serving answers `{"error": "<message>"}` with the HTTP status of its gRPC code; so does the
gateway, with the status errors.py gives each error. A node's own TF Serving error body passes
through as it came; a node that answered in Seldon's shape has its message put in TF's.
"""

from __future__ import annotations

import json

from seldon_tfserving.errors import ServingError, UpstreamFailure

JSON_CONTENT_TYPE = "application/json"


def tf_error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def _upstream_message(error: UpstreamFailure) -> tuple[str, bool]:
    """The upstream's message, and whether its body already is TF's error shape."""
    try:
        document = json.loads(error.body)
    except ValueError:
        text = error.body.decode("utf-8", errors="replace").strip()
        return text or error.message, False
    if isinstance(document, dict):
        if isinstance(document.get("error"), str):
            return document["error"], True
        status = document.get("status")
        if isinstance(status, dict) and status.get("info"):
            return str(status["info"]), False
    return error.message, False


def tf_error_answer(error: ServingError) -> tuple[int, bytes]:
    """The HTTP status and `{"error": ...}` body of `error`."""
    if isinstance(error, UpstreamFailure):
        message, is_tf_shaped = _upstream_message(error)
        if is_tf_shaped:
            return error.http_status, error.body
        return error.http_status, tf_error_body(message)
    return error.http_status, tf_error_body(error.message)
