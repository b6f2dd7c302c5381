"""One small error hierarchy, and the one place that maps it to HTTP and gRPC status.

Every layer raises these; transports translate them with `http_status` / `grpc_code`, and
answer with `seldon_body` (Seldon's protocol) or `tfserving_body` (TF Serving's), never
inventing a status code or an error body of their own.
"""

from __future__ import annotations

import json

import grpc

# A wrong setting is refused at start-up, not answered with a status; it lives with the
# parameters so that reading settings imports no transport.
from seldon_tfserving.parameters import ConfigurationError as ConfigurationError

# TF Serving's own gRPC -> HTTP mapping (model_servers/http_server.cc ToHTTPStatusCode).
_HTTP_FOR_GRPC: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def http_status_for_grpc(code: grpc.StatusCode) -> int:
    """The HTTP status TF Serving's REST face answers for a gRPC status code."""
    return _HTTP_FOR_GRPC.get(code, 500)


class ServingError(Exception):
    """Base of every error this project raises on purpose; carries its own status."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    #: Seldon's `status.reason` string for this class of failure.
    seldon_reason: str = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def http_status(self) -> int:
        return http_status_for_grpc(self.grpc_code)

    def seldon_json(self) -> dict[str, object]:
        """Seldon Core's error body, as its microservice and executor write it."""
        return {
            "status": {
                "code": self.http_status,
                "info": self.message,
                "reason": self.seldon_reason,
                "status": "FAILURE",
            }
        }

    def seldon_body(self) -> tuple[bytes, str]:
        """The body and content type of Seldon's REST answer to this error."""
        return json.dumps(self.seldon_json()).encode(), "application/json"

    def tfserving_body(self) -> tuple[bytes, str]:
        """The body and content type of TF Serving's REST answer to this error:
        `{"error": "<message>"}` (`g3doc/api_rest.md`), under `http_status`."""
        return json.dumps({"error": self.message}).encode(), "application/json"


class InvalidInput(ServingError):
    """The request itself is wrong: bad JSON, shape, dtype, signature or parameter."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    seldon_reason = "MICROSERVICE_BAD_DATA"


class FailedPrecondition(ServingError):
    """The request is well formed but the model cannot take it in its current state."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    seldon_reason = "MICROSERVICE_BAD_DATA"


class NotFound(ServingError):
    """The model, version or route named does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    seldon_reason = "MICROSERVICE_NOT_FOUND"


class PayloadTooLarge(ServingError):
    """The body is over the configured limit; refused before it is parsed."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    seldon_reason = "MICROSERVICE_PAYLOAD_TOO_LARGE"

    @property
    def http_status(self) -> int:
        return 413


class Unavailable(ServingError):
    """The upstream (TF Serving or a graph component) cannot be reached or is not ready."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    seldon_reason = "MICROSERVICE_UNAVAILABLE"


class DeadlineExceeded(ServingError):
    """The upstream did not answer within the deadline."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    seldon_reason = "MICROSERVICE_TIMEOUT"


class Unimplemented(ServingError):
    """The method exists in the protocol but not for this model or component."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED
    seldon_reason = "MICROSERVICE_UNIMPLEMENTED"


class InternalError(ServingError):
    """A failure that is ours, not the caller's."""

    grpc_code = grpc.StatusCode.INTERNAL


class UpstreamFailure(ServingError):
    """An upstream answered with an error: its HTTP status and body are relayed as they came
    (Seldon's executor relays a component's); gRPC code and reason follow from the status."""

    def __init__(
        self,
        message: str,
        http_status: int,
        body: bytes,
        content_type: str,
        grpc_code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message)
        mapped = error_for_http(http_status, message)
        self.grpc_code = grpc_code or mapped.grpc_code
        self.seldon_reason = mapped.seldon_reason
        self.upstream_status = http_status
        self.body = body
        self.content_type = content_type

    @property
    def http_status(self) -> int:
        return self.upstream_status

    def seldon_body(self) -> tuple[bytes, str]:
        return self.body, self.content_type

    def tfserving_body(self) -> tuple[bytes, str]:
        return self.body, self.content_type


_ERROR_FOR_GRPC: dict[grpc.StatusCode, type[ServingError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInput,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.OUT_OF_RANGE: InvalidInput,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: PayloadTooLarge,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}


def error_for_grpc(code: grpc.StatusCode, message: str) -> ServingError:
    """The error of ours that stands for an upstream gRPC status."""
    return _ERROR_FOR_GRPC.get(code, InternalError)(message)


def error_for_http(status: int, message: str) -> ServingError:
    """The error of ours that stands for an upstream HTTP status (TF Serving REST)."""
    if status == 413:
        return PayloadTooLarge(message)
    for code, http in _HTTP_FOR_GRPC.items():
        if http == status and code in _ERROR_FOR_GRPC:
            return _ERROR_FOR_GRPC[code](message)
    return InternalError(message)
