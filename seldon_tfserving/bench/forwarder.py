"""The floor under any Python gRPC hop: a forwarder that passes bytes through, nothing else.

The wrapper is a second gRPC hop served by Python (`seldon-core-microservice` is Python, and
so is grpcio's server). This process measures what such a hop costs before any Seldon or
codec work: it registers every method generically, never parses a message, and forwards the
request bytes to the backend over one channel, answering with the backend's bytes or status.
The bench reports it beside the direct call, so the wrapper's gRPC tftensor hop can be read
as (the floor) + (what the wrapper itself adds).

Usage: python -m seldon_tfserving.bench.forwarder LISTEN_PORT BACKEND_HOST:PORT
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures
from typing import Any

import grpc

#: The same message limits as the bench's clients and the wrapper's channel.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: The same worker count the bench gives each component's gRPC server.
WORKERS = 8


class _ForwardEveryMethod:
    """A grpc generic handler (grpc asks only for `service`): every method goes to `channel`."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._channel = channel

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        forward = self._channel.unary_unary(method)

        def handle(request: bytes, context: grpc.ServicerContext) -> Any:
            try:
                return forward(request, timeout=context.time_remaining())
            except grpc.RpcError as error:
                context.abort(error.code(), error.details() or "")

        return grpc.unary_unary_rpc_method_handler(handle)


def main(argv: list[str]) -> int:
    listen_port, backend = int(argv[0]), argv[1]
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    channel = grpc.insecure_channel(backend, options=options)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=WORKERS),
        handlers=[_ForwardEveryMethod(channel)],
        options=options,
    )
    if server.add_insecure_port(f"127.0.0.1:{listen_port}") == 0:
        print(f"forwarder: cannot listen on port {listen_port}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    server.start()
    stopping.wait()
    server.stop(grace=1).wait(timeout=5)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
