"""The component clients the data plane gives each executor: Seldon's internal API or TF
Serving's protocol, REST on pooled connections, gRPC on the shared channels."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc

from seldon_tfserving.gateway.component_client import (
    GrpcChannels,
    GrpcComponentClient,
    RestComponentClient,
)
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.graph_plan import NodePlan
from seldon_tfserving.gateway.seldon_calls import ClientFactory
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.gateway.tf_calls import TfClientFactory
from seldon_tfserving.gateway.tf_component_client import (
    TfGrpcComponentClient,
    TfRestComponentClient,
)
from seldon_tfserving.transport import Transport

Client = TypeVar("Client")


def seldon_client_factory(
    settings: GatewaySettings, channels: GrpcChannels, rest_timeout_s: float, grpc_timeout_s: float
) -> ClientFactory:
    """Clients of the microservices' internal Seldon API (`/predict`, `seldon.protos.Model`)."""
    return _factory(
        settings,
        channels,
        (RestComponentClient, rest_timeout_s),
        (GrpcComponentClient, grpc_timeout_s),
    )


def tf_client_factory(
    settings: GatewaySettings, channels: GrpcChannels, rest_timeout_s: float, grpc_timeout_s: float
) -> TfClientFactory:
    """Clients speaking TF Serving's REST and gRPC protocol to each node."""
    return _factory(
        settings,
        channels,
        (TfRestComponentClient, rest_timeout_s),
        (TfGrpcComponentClient, grpc_timeout_s),
    )


def _factory(
    settings: GatewaySettings,
    channels: GrpcChannels,
    over_rest: tuple[Callable[[str, ComponentEndpoint, float, int], Client], float],
    over_grpc: tuple[Callable[[str, grpc.Channel, float], Client], float],
) -> Callable[[NodePlan, ComponentEndpoint, Transport], Client]:
    """A node's client by the transport the walk chose: REST on pooled connections of the
    node's endpoint, gRPC on the channel shared by every client of that target."""
    (rest_client, rest_timeout_s), (grpc_client, grpc_timeout_s) = over_rest, over_grpc

    def client_for(plan: NodePlan, endpoint: ComponentEndpoint, transport: Transport) -> Client:
        if transport == "rest":
            return rest_client(
                plan.node.name, endpoint, rest_timeout_s, settings.connections_per_component
            )
        return grpc_client(plan.node.name, channels.channel(endpoint.grpc_target), grpc_timeout_s)

    return client_for
