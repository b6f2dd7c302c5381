"""One external request as the graph walk carries it: the faces build it, every hop reads it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from seldon_tfserving.gateway.tf_payload import TfTarget
from seldon_tfserving.transport import Transport

PUID_HEADER = "Seldon-Puid"
SKIP_LOGGING_HEADER = "Seldon-Skip-Logging"


def skips_logging(value: str | None) -> bool:
    """Whether a `Seldon-Skip-Logging` value keeps the request out of the request log (the
    executor's true, on or 1, any case)."""
    return (value or "").strip().lower() in ("true", "on", "1")


@dataclass
class RequestContext:
    """One external request: its puid, the headers passed on, and the routing it records."""

    puid: str
    transport: Transport
    headers: Mapping[str, str] = field(default_factory=dict)
    skip_logging: bool = False
    #: under `protocol: tensorflow`: the model, verb and version the client called
    tf_target: TfTarget = field(default_factory=TfTarget)
    routing: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_route(self, node: str, route: int) -> None:
        with self._lock:
            self.routing[node] = route

    def component_headers(self) -> dict[str, str]:
        """What every component call carries: the request's forwarded headers and its puid."""
        return {**self.headers, PUID_HEADER: self.puid}
