"""A pod's `localhost` addresses made local: a TF Serving container of the pod moved to a free
port, so the TfServingModel nodes of the same pod are told its new address."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from seldon_tfserving.deploy.model import GraphNode, Parameter
from seldon_tfserving.runner.bind_host import LOOPBACK
from seldon_tfserving.runner.volumes import MountTable

#: The TfServingModel parameters that name its TF Serving, and their in-pod defaults.
TFSERVING_ENDPOINT_DEFAULTS = {
    "grpc_endpoint": "localhost:8500",
    "rest_endpoint": "http://localhost:8501",
}
_POD_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")
_ENDPOINT = re.compile(r"^(?P<scheme>[a-z]+://)?(?P<host>[^:/]+):(?P<port>\d+)(?P<rest>/.*)?$")


def rewrite_endpoint(value: str, port_map: Mapping[int, int], host: str = LOOPBACK) -> str:
    """`localhost:8500` -> `<host>:<local port>` when 8500 is a moved port of the pod (`host`:
    where the pod's moved servers are reached, 127.0.0.1 unless `up --host` says otherwise)."""
    match = _ENDPOINT.match(value.strip())
    if not match or match["host"] not in _POD_HOSTS or int(match["port"]) not in port_map:
        return value
    return f"{match['scheme'] or ''}{host}:{port_map[int(match['port'])]}{match['rest'] or ''}"


def node_parameters(
    node: GraphNode,
    model_name: str,
    table: MountTable,
    port_map: Mapping[int, int],
    host: str = LOOPBACK,
) -> tuple[Parameter, ...]:
    """The node's parameters with pod addresses and mounted paths made local.

    A TfServingModel that leaves its endpoints at their in-pod defaults gets them spelled out,
    so that it reaches the moved TF Serving of its own pod.
    """
    result = [
        dataclasses.replace(p, value=table.rewrite(rewrite_endpoint(p.value, port_map, host)))
        for p in node.parameters
    ]
    if model_name.rsplit(".", 1)[-1] == "TfServingModel" and port_map:
        given = {p.name for p in result}
        for name, default in TFSERVING_ENDPOINT_DEFAULTS.items():
            local = rewrite_endpoint(default, port_map, host)
            if name not in given and local != default:
                result.append(Parameter(name, "STRING", local))
    return tuple(result)
