"""From a parsed request to a WSGI environ, and from the app's answer to response bytes.

The front reads whole requests itself, so the app gets the body as a buffer (chunked bodies
decoded, their length set) and never touches the socket. A refusal found at the door (a
framing error, a body over the limit) travels in the environ under `REFUSAL_KEY`, for the app
to word in the protocol of the deployment the path names.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

from seldon_tfserving.errors import InternalError, ServingError
from seldon_tfserving.gateway.http1 import RequestHead

logger = logging.getLogger(__name__)

REFUSAL_KEY = "seldon_tfserving.refusal"
#: The whole body as the front read it: the app takes these bytes as they are instead of
#: copying them once more out of `wsgi.input` (3 MB bodies paid that copy on every request).
BODY_KEY = "seldon_tfserving.body"

StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: Fields the front sets itself, whatever the app says.
_FRONT_FIELDS = frozenset({"connection", "keep-alive", "transfer-encoding", "date"})
_NO_BODY_STATUSES = (204, 304)


def build_environ(
    head: RequestHead,
    body: bytes,
    client: tuple[str, int],
    server: tuple[str, int],
    refusal: ServingError | None = None,
) -> dict[str, Any]:
    """The PEP 3333 environ of `head` with its (already decoded) body."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": head.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(head.path).decode("latin-1"),
        "QUERY_STRING": head.query,
        "REQUEST_URI": head.target,
        "RAW_URI": head.target,
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{head.version[0]}.{head.version[1]}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in head.fields:
        if "_" in name:
            continue  # `X_Puid` would pass for `X-Puid` in the environ: dropped, as werkzeug does
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is decoded: its length is the buffer's
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if refusal is not None:
        environ[REFUSAL_KEY] = refusal
    environ[BODY_KEY] = body
    return environ


def front_body(environ: dict[str, Any]) -> bytes | None:
    """The body the front read whole, or None when the app runs under another WSGI server
    (the tests' client, a debugging server): it then reads `wsgi.input`."""
    body = environ.get(BODY_KEY)
    return body if isinstance(body, bytes) else None


class AppAnswer:
    """What the app answered: status line, header fields, body bytes."""

    __slots__ = ("status", "fields", "body")

    def __init__(self, status: str, fields: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.fields = fields
        self.body = body

    @property
    def asks_close(self) -> bool:
        return any(
            name.lower() == "connection" and "close" in value.lower() for name, value in self.fields
        )


def call_app(app: WsgiApp, environ: dict[str, Any]) -> AppAnswer:
    """Run the app to the end of its body; a failure of ours is a 500 in Seldon's shape."""
    started: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(
        status: str, fields: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        started["status"], started["fields"] = status, list(fields)
        return written.append

    try:
        result = app(environ, start_response)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return AppAnswer(started["status"], started["fields"], b"".join(written))
    except Exception:
        logger.exception(
            "the gateway failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"]
        )
        body, content_type = InternalError("the gateway failed on this request").seldon_body()
        return AppAnswer("500 Internal Server Error", [("Content-Type", content_type)], body)


class _DateField:
    """The Date field, formatted once a second (it is on every answer)."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def value(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._value, self._second = formatdate(now, usegmt=True), now
        return self._value


_DATE = _DateField()


def serialize(method: str, answer: AppAnswer, keep_alive: bool) -> bytes:
    """The response bytes: the app's fields, a Content-Length, and our connection fields."""
    code = int(answer.status.split(" ", 1)[0])
    lines = [f"HTTP/1.1 {answer.status}"]
    has_length = False
    for name, value in answer.fields:
        lowered = name.lower()
        if lowered in _FRONT_FIELDS:
            continue
        has_length = has_length or lowered == "content-length"
        lines.append(f"{name}: {value}")
    if not has_length and code not in _NO_BODY_STATUSES and code >= 200:
        lines.append(f"Content-Length: {len(answer.body)}")
    lines.append(f"Date: {_DATE.value()}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if method == "HEAD" or code in _NO_BODY_STATUSES:
        return head
    return head + answer.body


def error_bytes(error: ServingError) -> bytes:
    """A refusal worded by the front itself (before a path is known): Seldon's error JSON."""
    body, content_type = error.seldon_body()
    reason = _REASONS.get(error.http_status, "Error")
    answer = AppAnswer(f"{error.http_status} {reason}", [("Content-Type", content_type)], body)
    return serialize("GET", answer, keep_alive=False)


_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    503: "Service Unavailable",
}
