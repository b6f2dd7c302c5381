"""What the gateway reads of one incoming gRPC call, once, for both its gRPC faces (Seldon's
and TF Serving's): the call's metadata, its puid (answered as `seldon-puid` with the answer),
the headers passed on to components, and the deployment Istio and Ambassador route it by."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import grpc

from seldon_tfserving.gateway.answer_headers import send_with_answer
from seldon_tfserving.gateway.context import SKIP_LOGGING_HEADER, RequestContext, skips_logging
from seldon_tfserving.gateway.tf_payload import TfTarget

PUID_METADATA = "seldon-puid"
#: Metadata of this hop (HTTP/2 and gRPC's own) that is not passed on to components.
_NOT_FORWARDED = frozenset({"user-agent", "content-type", "te", PUID_METADATA})
#: What a call of Seldon's protocol targets under TF Serving's (nothing: it names no model).
_NO_TF_TARGET = TfTarget()


@dataclass(frozen=True)
class GrpcCall:
    """One gRPC call as the graph walk needs it."""

    request: RequestContext
    #: the `seldon` and `namespace` metadata (None when the client sent none)
    deployment: str | None
    namespace: str | None


def open_grpc_call(context: grpc.ServicerContext, tf_target: TfTarget = _NO_TF_TARGET) -> GrpcCall:
    """Read the call's metadata and set its `seldon-puid` answer header (the caller's puid, or
    a new one), sent with the answer or its error status."""
    metadata: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            metadata[key] = value
    puid = metadata.get(PUID_METADATA) or str(uuid.uuid4())
    send_with_answer(context, ((PUID_METADATA, puid),))
    request = RequestContext(
        puid=puid,
        transport="grpc",
        headers={
            key: value
            for key, value in metadata.items()
            if key not in _NOT_FORWARDED and not key.startswith((":", "grpc-"))
        },
        skip_logging=skips_logging(metadata.get(SKIP_LOGGING_HEADER.lower())),
        tf_target=tf_target,
    )
    return GrpcCall(request, metadata.get("seldon"), metadata.get("namespace"))
