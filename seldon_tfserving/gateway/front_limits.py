"""The bounds of the gateway's HTTP front, read by the front and by each of its connections."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FrontLimits:
    """Every bound of the HTTP front (GatewaySettings holds them and their defaults)."""

    max_connections: int
    workers: int
    header_timeout_s: float
    body_timeout_s: float
    keepalive_timeout_s: float
    max_header_bytes: int
    max_body_bytes: int
