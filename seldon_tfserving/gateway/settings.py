"""The gateway's settings: one frozen object, validated once, defaults in one place.

The few settings the executor reads from its environment are read by `from_environment`,
once, where the gateway's settings are built; nothing reads the environment per request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from seldon_tfserving.errors import ConfigurationError

#: The executor's own default (`REQUEST_LOGGER_DEFAULT_ENDPOINT`) for loggers without a url.
REQUEST_LOGGER_DEFAULT_ENDPOINT = "REQUEST_LOGGER_DEFAULT_ENDPOINT"
#: The executor's CORS middleware settings. Its default origin is `*`; ours is none (any web
#: page in the user's browser could otherwise call the graph): origins are named to be allowed.
CORS_ALLOWED_ORIGINS = "CORS_ALLOWED_ORIGINS"
CORS_ALLOWED_HEADERS = "CORS_ALLOWED_HEADERS"
DEFAULT_CORS_ALLOWED_HEADERS = (
    "Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, X-CSRF-Token"
)


_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]+")


def origin_list(text: str) -> tuple[str, ...]:
    """`https://a.example, http://localhost:3000` -> the origins (CORS_ALLOWED_ORIGINS)."""
    return tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())


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
    #: under `protocol: tensorflow` (whose bodies carry no `meta`): the routing of this many
    #: recent predictions is kept by puid, for feedback that names the puid
    routing_memory_size: int = 10000
    #: request logger: queue bound (the executor's `log_work_buffer_size`), workers, timeout
    logger_queue_size: int = 10000
    logger_workers: int = 2
    logger_timeout_s: float = 5.0
    #: ... and the bytes of the bodies it holds at once (beyond: dropped and counted)
    logger_queue_bytes: int = 256 * 1024 * 1024
    #: where a logger without a url sends (the executor's REQUEST_LOGGER_DEFAULT_ENDPOINT)
    logger_default_url: str | None = None
    #: shadow predictors: copies in flight at most, beyond that copies are dropped
    shadow_queue_size: int = 100
    shadow_workers: int = 2
    #: the host name that goes into `Ce-Source` (the executor's --hostname)
    hostname: str = "localhost"
    #: the origins whose web pages may call the REST API (CORS); none by default, `*` only
    #: when named; Access-Control-Allow-Headers of the answers to them
    cors_allowed_origins: tuple[str, ...] = ()
    cors_allowed_headers: str = DEFAULT_CORS_ALLOWED_HEADERS
    #: the HTTP front: connections open at once (a full house drops its longest-idle one),
    #: threads running requests, and how long a client may take over each part
    max_connections: int = 1000
    http_workers: int = 64
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    #: idle keep-alive connections are closed after this (the executor's IdleTimeout)
    keepalive_timeout_s: float = 65.0
    #: the request line and header fields together
    max_header_bytes: int = 64 * 1024
    #: a Seldon message's `meta` (tags, routing, ...): more is refused with 413 before the
    #: graph runs (components echo it back, once per node)
    max_meta_bytes: int = 64 * 1024
    #: the graceful stop: answers in flight get this long before everything is closed
    drain_timeout_s: float = 4.0

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, **values: Any
    ) -> GatewaySettings:
        """Settings with the executor's environment variables read, once; `values` win."""
        env = os.environ if environ is None else environ
        read: dict[str, Any] = {
            "logger_default_url": env.get(REQUEST_LOGGER_DEFAULT_ENDPOINT) or None,
            "cors_allowed_origins": origin_list(env.get(CORS_ALLOWED_ORIGINS, "")),
            "cors_allowed_headers": env.get(CORS_ALLOWED_HEADERS, DEFAULT_CORS_ALLOWED_HEADERS),
        }
        return cls(**{**read, **values})

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
            "logger_queue_bytes": self.logger_queue_bytes,
            "shadow_queue_size": self.shadow_queue_size,
            "shadow_workers": self.shadow_workers,
            "routing_memory_size": self.routing_memory_size,
            "max_connections": self.max_connections,
            "http_workers": self.http_workers,
            "header_timeout_s": self.header_timeout_s,
            "body_timeout_s": self.body_timeout_s,
            "keepalive_timeout_s": self.keepalive_timeout_s,
            "max_header_bytes": self.max_header_bytes,
            "max_meta_bytes": self.max_meta_bytes,
            "drain_timeout_s": self.drain_timeout_s,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigurationError(name, f"must be positive, got {value!r}")
        if isinstance(self.cors_allowed_origins, str):
            raise ConfigurationError(
                "cors_allowed_origins", "must be a tuple of origins (origin_list parses a string)"
            )
        for origin in self.cors_allowed_origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ConfigurationError(
                    "cors_allowed_origins",
                    f"{origin!r} is not an origin: scheme://host[:port], or *",
                )
        if self.component_transport not in ("follow", "endpoint"):
            raise ConfigurationError(
                "component_transport",
                f"must be 'follow' or 'endpoint', got {self.component_transport!r}",
            )
