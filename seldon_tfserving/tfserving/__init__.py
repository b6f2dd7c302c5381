"""Clients for one TF Serving endpoint: one interface, a gRPC and a REST implementation.

`client_for(settings)` picks the transport; both hand results back in the same shape, so the
Seldon class above never asks which one it talks to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seldon_tfserving.tfserving.client import EndpointSettings, TfServingClient


def client_for(settings: EndpointSettings) -> TfServingClient:
    """The client for `settings.transport`; it opens its connection lazily, per process."""
    if settings.transport == "rest":
        from seldon_tfserving.tfserving.rest_client import TfServingRestClient

        return TfServingRestClient(settings)
    from seldon_tfserving.tfserving.grpc_client import TfServingGrpcClient

    return TfServingGrpcClient(settings)
