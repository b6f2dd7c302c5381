"""Where each graph node's component listens: the contract between the runner and the gateway.

The runner starts components and fills this map; the gateway only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from seldon_tfserving.transport import Transport


@dataclass(frozen=True)
class ServerAddress:
    """Where one local server listens, HTTP and gRPC: the one address type of the runner, the
    bench and the tests (a TF Serving backend's `http_port` is its REST port)."""

    host: str
    http_port: int
    grpc_port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"


@dataclass(frozen=True)
class ComponentEndpoint(ServerAddress):
    """One running component (a `seldon-core-microservice`) of one graph node."""

    #: how the gateway talks to it: the node's `endpoint.type` (REST unless GRPC is declared),
    #: read by `transport.endpoint_transport`
    transport: Transport = "rest"
    #: the TF models readiness asks after when the node is TF Serving itself (every model its
    #: config serves); empty for a component, which answers for its own model by the node's name
    models: tuple[str, ...] = ()


def endpoint_key(deployment: str, predictor: str, node: str) -> str:
    """The key of a node's endpoint in the runner's map: `deployment/predictor/node`."""
    return f"{deployment}/{predictor}/{node}"
