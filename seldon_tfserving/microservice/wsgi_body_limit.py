"""The REST body limit where our door cannot stand (gunicorn 20.1, seldon-core 1.17.1's).

There Seldon's own gunicorn worker hands the app the socket's stream. This WSGI middleware
keeps the door's rule: a body over the limit is a 413 from its Content-Length before a byte
of it is read, and a chunked body is read only up to the limit. The refusal names the limit
and closes the connection, as the door's does.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

from seldon_tfserving.errors import PayloadTooLarge
from seldon_tfserving.microservice.rest_door import refusal_body, too_large

logger = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_READ_CHUNK = 64 * 1024


class WsgiBodyLimit:
    """A WSGI app that refuses bodies over `max_body_bytes` before `app` reads them."""

    def __init__(self, app: WsgiApp, max_body_bytes: int, limit_name: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limit_name = limit_name

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        refusal = self._refusal(environ)
        if refusal is None:
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        logger.warning("%s %s refused: %s", environ.get("REQUEST_METHOD"), path, refusal)
        body, content_type = refusal_body(path, refusal)
        start_response(
            "413 Request Entity Too Large",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        return [body]

    def _refusal(self, environ: dict[str, Any]) -> PayloadTooLarge | None:
        limit = self.max_body_bytes
        announced = environ.get("CONTENT_LENGTH")
        if announced:
            size = int(announced)  # gunicorn's parser refused a malformed one
            return too_large(size, limit, self.limit_name) if size > limit else None
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return None
        body = _read_at_most(environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            return too_large(len(body), limit, self.limit_name, streamed=True)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return None


def _read_at_most(stream: Any, count: int) -> bytes:
    parts: list[bytes] = []
    left = count
    while left > 0:
        chunk = stream.read(min(left, _READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
