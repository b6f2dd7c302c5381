"""The HTTP-only refusals of the gateway's door, beside errors.py's hierarchy.

They carry their HTTP status as PayloadTooLarge does; they are the gateway's own (a request
that never reaches the graph), so no component or gRPC face raises them.
"""

from __future__ import annotations

import grpc

from seldon_tfserving.errors import ServingError


class RequestTimeout(ServingError):
    """The client did not send its request head or body within the gateway's timeout."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    seldon_reason = "MICROSERVICE_BAD_DATA"

    @property
    def http_status(self) -> int:
        return 408


class HeaderFieldsTooLarge(ServingError):
    """The request line and header fields are over the gateway's limit."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    seldon_reason = "MICROSERVICE_BAD_DATA"

    @property
    def http_status(self) -> int:
        return 431


class UnsupportedMediaType(ServingError):
    """A body whose content type the route does not take from this client."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    seldon_reason = "MICROSERVICE_BAD_DATA"

    @property
    def http_status(self) -> int:
        return 415


class ServerBusy(ServingError):
    """Every connection slot is taken by requests in progress."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    seldon_reason = "MICROSERVICE_UNAVAILABLE"
