"""The gateway's initial metadata leaves with the answer (Go's SetHeader), not before it.

Each test runs a real grpcio server on loopback whose handler sends its metadata with
`send_with_answer`, called by a real grpcio client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from seldon_tfserving.gateway import answer_headers

METHOD = "/test.Echo/Call"
PUID = (("seldon-puid", "p-1"),)

Handler = Callable[[bytes, grpc.ServicerContext], bytes]


class _Generic(grpc.GenericRpcHandler):
    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != METHOD:
            return None
        return grpc.unary_unary_rpc_method_handler(self._handler)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    """Starts a server for one handler; returns its address."""
    servers: list[grpc.Server] = []

    def start(handler: Handler) -> str:
        assert answer_headers.install()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers((_Generic(handler),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(grace=None)


def _call(address: str, body: bytes = b"x") -> tuple[bytes, Any]:
    with grpc.insecure_channel(address) as channel:
        answer, call = channel.unary_unary(METHOD).with_call(body, timeout=10)
        return answer, call


def test_this_grpcio_lets_metadata_wait_for_the_answer() -> None:
    # If a grpcio upgrade changes its server, this fails here rather than the gateway
    # quietly going back to a write of its own per call.
    assert answer_headers.deferred_supported()
    assert answer_headers.install()


def test_the_metadata_arrives_as_initial_metadata_with_the_answer(
    serve: Callable[[Handler], str],
) -> None:
    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        answer_headers.send_with_answer(context, PUID)
        return request.upper()

    answer, call = _call(serve(handler), b"abc")

    assert answer == b"ABC"
    assert ("seldon-puid", "p-1") in list(call.initial_metadata())


def test_an_aborted_call_carries_the_metadata_too(serve: Callable[[Handler], str]) -> None:
    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        answer_headers.send_with_answer(context, PUID)
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no")
        raise AssertionError("abort raises")

    with pytest.raises(grpc.RpcError) as raised:
        _call(serve(handler))

    error: Any = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("seldon-puid", "p-1") in list(error.initial_metadata())


def test_calls_that_send_nothing_get_nothing_from_other_calls(
    serve: Callable[[Handler], str],
) -> None:
    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        if request == b"tag":
            answer_headers.send_with_answer(context, PUID)
        return request

    address = serve(handler)
    _call(address, b"tag")
    _, call = _call(address, b"plain")

    assert "seldon-puid" not in dict(call.initial_metadata())


def test_trailing_metadata_and_status_are_untouched(serve: Callable[[Handler], str]) -> None:
    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        answer_headers.send_with_answer(context, PUID)
        context.set_trailing_metadata((("x-routing", "{}"),))
        return request

    _, call = _call(serve(handler))

    assert call.code() == grpc.StatusCode.OK
    assert ("x-routing", "{}") in list(call.trailing_metadata())
    assert "seldon-puid" not in dict(call.trailing_metadata())


def _initial_metadata_before_release(address: str, released: threading.Event) -> bool:
    """Whether a client sees the call's initial metadata while its handler still waits.

    The client calls the unary method as a server stream (the same frames on the wire): a
    unary call's client reads its initial metadata with the answer, whenever it was sent.
    """

    async def probe() -> bool:
        async with grpc.aio.insecure_channel(address) as channel:
            call = channel.unary_stream(METHOD)(b"x", timeout=10)
            try:
                await asyncio.wait_for(asyncio.shield(call.initial_metadata()), 1.0)
                early = True
            except TimeoutError:
                early = False
            released.set()
            assert [answer async for answer in call] == [b"x"]
            return early

    return asyncio.run(probe())


def test_the_metadata_is_not_written_before_the_answer(serve: Callable[[Handler], str]) -> None:
    released = threading.Event()

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        answer_headers.send_with_answer(context, PUID)
        released.wait(10)
        return request

    assert not _initial_metadata_before_release(serve(handler), released)


def test_send_initial_metadata_itself_is_written_at_once(serve: Callable[[Handler], str]) -> None:
    # the contrast that shows the probe above can see an early write
    released = threading.Event()

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.send_initial_metadata(PUID)
        released.wait(10)
        return request

    assert _initial_metadata_before_release(serve(handler), released)
