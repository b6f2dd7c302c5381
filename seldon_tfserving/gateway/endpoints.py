"""Where each graph node's component listens: the contract between the runner and the gateway.

The runner starts components and fills this map; the gateway only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ComponentEndpoint:
    """One running component (a `seldon-core-microservice`) of one graph node."""

    host: str
    http_port: int
    grpc_port: int
    #: how the gateway talks to it: the node's `endpoint.type` (REST unless GRPC is declared)
    transport: Literal["REST", "GRPC"] = "REST"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"


def endpoint_key(deployment: str, predictor: str, node: str) -> str:
    """The key of a node's endpoint in the runner's map: `deployment/predictor/node`."""
    return f"{deployment}/{predictor}/{node}"
