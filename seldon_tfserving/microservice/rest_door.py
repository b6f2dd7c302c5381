"""The door of a component's REST port: a whole request is read on the event loop, then Seldon's
Flask app (and our TF routes on it) runs on a bounded thread pool.

A slow or idle client therefore costs a buffer, never one of the app's threads. The body is
refused (413) from its Content-Length before a byte of it is read, and a chunked body is
counted as it streams; a body that does not arrive by its deadline is a 408. Refusals carry
TF Serving's error body under `/v1/` (our TF faces) and Seldon's error JSON elsewhere, and
close the connection (the unread rest of the body must not be taken as a next request).
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from seldon_tfserving.errors import InternalError, PayloadTooLarge, ServingError
from seldon_tfserving.parameters import DEFAULT_COMPONENT_BODY_BYTES

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: The headers that framed the body on the wire; the app is handed it whole, by its length.
_FRAMING = frozenset({"CONTENT_LENGTH", "TRANSFER_ENCODING"})
#: The prefix of TF Serving's REST API on our components (`tf_rest.py`).
TF_PREFIX = "/v1/"


#: the body limit of a class that declares none (our routers' and combiners' default too)
DEFAULT_MAX_BODY_BYTES = DEFAULT_COMPONENT_BODY_BYTES


class _DeclaresBodyLimit(Protocol):
    max_message_bytes: int


def body_limit_of(user_object: Any) -> int:
    """The REST body limit a class declares (its `max_message_bytes` setting), or ours."""
    settings: _DeclaresBodyLimit | None = getattr(user_object, "settings", None)
    limit = getattr(settings, "max_message_bytes", None)
    return limit if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_BODY_BYTES


class RequestTimeout(ServingError):
    """The body did not arrive by its deadline (HTTP 408, the client's fault)."""

    reason = "MICROSERVICE_BAD_DATA"

    @property
    def http_status(self) -> int:
        return 408


@dataclass(frozen=True)
class DoorLimits:
    """What one request may cost before the app sees it."""

    #: the largest body read, in bytes; beyond it the answer is 413
    max_body_bytes: int
    #: seconds from the end of the headers until the whole body is in
    body_timeout_s: float
    #: how many requests the app serves at once (Seldon's --threads)
    app_threads: int
    #: what sets `max_body_bytes`, named in a 413 (a class's parameter, or the port's own)
    limit_name: str = "max_message_bytes"


class _Refused(Exception):
    def __init__(self, error: ServingError) -> None:
        super().__init__(error.message)
        self.error = error


class _Gone(Exception):
    """The client went away before its body was in."""


class WsgiDoor:
    """An ASGI app that serves a WSGI app behind `DoorLimits`."""

    def __init__(self, app: WsgiApp, limits: DoorLimits) -> None:
        self.app = app
        self.limits = limits
        self._threads: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        # Made in the serving process, after gunicorn forked it (threads do not survive a fork).
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max_workers=self.limits.app_threads, thread_name_prefix="seldon-app"
            )
        return self._threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self)
            return
        if scope["type"] != "http":
            return
        try:
            body = await self._read_body(scope, receive)
        except _Refused as refused:
            logger.warning("%s %s refused: %s", scope["method"], scope["path"], refused)
            await _send_error(scope, send, refused.error)
            return
        except _Gone:
            return
        environ = wsgi_environ(scope, body)
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(
            self._pool(), _call_wsgi, self.app, environ
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.limits.max_body_bytes
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            raise _Refused(too_large(announced, limit, self.limits.limit_name))
        try:
            async with asyncio.timeout(self.limits.body_timeout_s):
                return await _body_within(receive, limit, self.limits.limit_name)
        except TimeoutError:
            raise _Refused(
                RequestTimeout(
                    f"the request body did not arrive within {self.limits.body_timeout_s:g} s"
                )
            ) from None

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)


async def _body_within(receive: Receive, limit: int, limit_name: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Refused(too_large(size, limit, limit_name, streamed=True))
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def too_large(size: int, limit: int, name: str, *, streamed: bool = False) -> PayloadTooLarge:
    """The 413 of a body over `limit` bytes, naming what sets the limit."""
    at_least = "at least " if streamed else ""
    return PayloadTooLarge(
        f"Request body of {at_least}{size} bytes exceeds the limit of {limit} bytes ({name})"
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            # gunicorn's parser already refused a malformed or repeated one
            return int(value)
    return None


def refusal_body(path: str, error: ServingError) -> tuple[bytes, str]:
    """TF Serving's error body under our TF faces' prefix, Seldon's error JSON elsewhere."""
    return error.tfserving_body() if path.startswith(TF_PREFIX) else error.seldon_body()


async def _send_error(scope: Scope, send: Send, error: ServingError) -> None:
    body, content_type = refusal_body(scope["path"], error)
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, door: WsgiDoor) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            door.close()  # requests in flight finish first
            await send({"type": "lifespan.shutdown.complete"})
            return


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """PEP 3333's environ for an ASGI HTTP scope whose whole body is `body`."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    path: str = scope["path"]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        # PEP 3333: the path's bytes, each one a latin-1 character
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name in _FRAMING:
            continue  # the body is whole now: its length is all the app needs
        key = "CONTENT_TYPE" if name == "CONTENT_TYPE" else f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _call_wsgi(
    app: WsgiApp, environ: dict[str, Any]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the WSGI app to the end of its answer (on an app thread)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None  # the legacy write(): Flask never calls it

    try:
        result = app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception as exc:  # the app's own handlers answer; this is a last resort
        logger.exception("the app failed outside its error handlers")
        error = InternalError(f"{type(exc).__name__}: {exc}")
        body, content_type = error.seldon_body()
        return error.http_status, [(b"content-type", content_type.encode("latin-1"))], body
    status, headers = started
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return int(status.split(" ", 1)[0]), encoded, content
