"""A TF Serving container's readinessProbe, run locally as the kubelet would run it.

The runner's own checks (gRPC port open, every model AVAILABLE) say when TF Serving serves; a
manifest's readinessProbe may ask for more (a version label that must resolve, a version that
must be loaded), and on a cluster the pod takes no traffic until it passes, so here the graph
does not either. `httpGet` and `tcpSocket` probes run against the local ports the container's
ports were moved to; `exec` and `grpc` probes need the container's image and are left to the
cluster, as are HTTPS probes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from seldon_tfserving.ports import port_open
from seldon_tfserving.runner.bind_host import LOOPBACK
from seldon_tfserving.runner.errors import PlanError

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ReadinessProbe:
    """What to ask on this machine: an HTTP GET (`path` set) or a TCP connect to `port`, at
    `host` (where the container's server is reached)."""

    port: int
    path: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    host: str = LOOPBACK

    def passes(self) -> bool:
        """The kubelet's rule: a connection for tcpSocket, a status in 200-399 for httpGet."""
        if self.path is None:
            return port_open(self.port, self.host)
        try:
            reply = requests.get(
                f"http://{self.host}:{self.port}{self.path}",
                headers=dict(self.headers),
                timeout=PROBE_TIMEOUT_S,
                allow_redirects=False,
            )
        except requests.RequestException:
            return False
        return 200 <= reply.status_code < 400


def readiness_probe(
    container: Mapping[str, Any], port_map: Mapping[int, int], host: str = LOOPBACK
) -> ReadinessProbe | None:
    """The container's readinessProbe on local ports at `host`; None when it has none this
    machine runs."""
    spec = container.get("readinessProbe") or {}
    http, tcp = spec.get("httpGet"), spec.get("tcpSocket")
    if http is not None and str(http.get("scheme", "HTTP")).upper() == "HTTP":
        headers = {str(h["name"]): str(h["value"]) for h in http.get("httpHeaders") or ()}
        path = str(http.get("path") or "/")
        return ReadinessProbe(_local_port(container, http, port_map), path, headers, host)
    if tcp is not None:
        return ReadinessProbe(_local_port(container, tcp, port_map), host=host)
    return None


def _local_port(
    container: Mapping[str, Any], action: Mapping[str, Any], port_map: Mapping[int, int]
) -> int:
    """The local port a probe's `port` (a number or a named container port) was moved to."""
    name = container.get("name", "?")
    port = action.get("port")
    if isinstance(port, str) and not port.isdigit():
        named = {p.get("name"): p.get("containerPort") for p in container.get("ports") or ()}
        if port not in named:
            raise PlanError(f"container {name!r}: readinessProbe names port {port!r}, not declared")
        port = named[port]
    try:
        number = int(port)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PlanError(f"container {name!r}: readinessProbe port {port!r} is not a port") from None
    if number not in port_map:
        raise PlanError(
            f"container {name!r}: readinessProbe asks port {number}, where TF Serving does not "
            f"listen (its ports: {', '.join(str(p) for p in sorted(port_map))})"
        )
    return port_map[number]
