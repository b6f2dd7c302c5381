"""The two wire protocols a call travels by, spelled once for the whole package.

TfServingModel's `transport` parameter takes these values, and the gateway's hops use them.
Seldon spells a graph node's `endpoint.type` in capitals (REST, GRPC); `endpoint_transport`
reads that spelling at the edge.
"""

from __future__ import annotations

from typing import Literal

Transport = Literal["grpc", "rest"]

#: Every transport, each once.
TRANSPORTS: tuple[Transport, ...] = ("rest", "grpc")


def endpoint_transport(endpoint_type: str | None) -> Transport:
    """The transport of a node's `endpoint.type`: gRPC when GRPC is declared, else REST (the
    operator's default)."""
    return "grpc" if (endpoint_type or "").upper() == "GRPC" else "rest"
