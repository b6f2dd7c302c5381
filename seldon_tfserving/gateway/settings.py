"""The gateway's settings: one frozen object, validated once, defaults in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from seldon_tfserving.errors import ConfigurationError

#: The executor's own default (`REQUEST_LOGGER_DEFAULT_ENDPOINT`) for loggers without a url.
REQUEST_LOGGER_DEFAULT_ENDPOINT = "REQUEST_LOGGER_DEFAULT_ENDPOINT"


def _default_logger_url() -> str | None:
    return os.environ.get(REQUEST_LOGGER_DEFAULT_ENDPOINT) or None


@dataclass(frozen=True)
class GatewaySettings:
    """Timeouts, limits and the few behaviours where the executor itself is configurable."""

    #: per component call, unless the predictor's `seldon.io/rest-timeout` /
    #: `seldon.io/grpc-timeout` annotation (milliseconds) says otherwise
    component_timeout_s: float = 60.0
    #: REST request bodies above this are refused with 413 before they are read
    max_body_bytes: int = 64 * 1024 * 1024
    #: gRPC messages, both directions
    grpc_max_message_bytes: int = 64 * 1024 * 1024
    #: threads answering gRPC calls
    grpc_workers: int = 16
    #: "follow": REST requests call components over REST and gRPC requests over gRPC, as the
    #: executor does; "endpoint": each component's declared `ComponentEndpoint.transport`
    component_transport: Literal["follow", "endpoint"] = "follow"
    #: idle keep-alive connections kept per component (REST)
    connections_per_component: int = 16
    #: write `meta.routing` into responses (the executor's SELDON_ENABLE_ROUTING_INJECTION);
    #: on by default locally so that feedback finds its way back down to the routers
    inject_routing: bool = True
    #: write the request's puid into `meta.puid` of responses (the header carries it anyway)
    inject_puid: bool = True
    #: request logger: queue bound (the executor's `log_work_buffer_size`), workers, timeout
    logger_queue_size: int = 10000
    logger_workers: int = 2
    logger_timeout_s: float = 5.0
    logger_default_url: str | None = field(default_factory=_default_logger_url)
    #: shadow predictors: copies in flight at most, beyond that copies are dropped
    shadow_queue_size: int = 100
    shadow_workers: int = 2
    #: the host name that goes into `Ce-Source` (the executor's --hostname)
    hostname: str = "localhost"

    def __post_init__(self) -> None:
        positive = {
            "component_timeout_s": self.component_timeout_s,
            "max_body_bytes": self.max_body_bytes,
            "grpc_max_message_bytes": self.grpc_max_message_bytes,
            "grpc_workers": self.grpc_workers,
            "connections_per_component": self.connections_per_component,
            "logger_queue_size": self.logger_queue_size,
            "logger_workers": self.logger_workers,
            "logger_timeout_s": self.logger_timeout_s,
            "shadow_queue_size": self.shadow_queue_size,
            "shadow_workers": self.shadow_workers,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigurationError(name, f"must be positive, got {value!r}")
        if self.component_transport not in ("follow", "endpoint"):
            raise ConfigurationError(
                "component_transport",
                f"must be 'follow' or 'endpoint', got {self.component_transport!r}",
            )
