"""What Seldon's operator gives every graph node's container: ports, probes, a preStop hook
and the env its wrapper reads (seldon-core v1.18.2 `defaults.go`, `createContainerService`).

The prepackaged-server expansion writes these into the containers it builds, and the local
runner sets the same env (on its own ports) for every component it starts, so a process
reads the same `PREDICTIVE_UNIT_*` locally as in its pod.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.deploy.semantics import walk_graph

FIRST_HTTP_PORT, FIRST_GRPC_PORT, FIRST_METRICS_PORT = 9000, 9500, 6000
HTTP_PORT_NAME, GRPC_PORT_NAME, METRICS_PORT_NAME = "http", "grpc", "metrics"
#: The operator's EXECUTOR_PROMETHEUS_PATH default: where components serve their metrics.
PROMETHEUS_PATH = "/prometheus"
MODEL_MOUNT_PATH = "/mnt/models"
#: Built-ins the executor runs; every other implementation is a prepackaged server.
NOT_PREPACKAGED = frozenset(
    {"", "SIMPLE_MODEL", "SIMPLE_ROUTER", "RANDOM_ABTEST", "AVERAGE_COMBINER"}
    | {"UNKNOWN_IMPLEMENTATION"}
)
_LIVENESS_DELAY_S, _READINESS_DELAY_S = 60, 20


def is_prepackaged(node: Mapping[str, Any]) -> bool:
    """IsPrepack: a node whose implementation is a server the operator adds a container for."""
    return str(node.get("implementation") or "") not in NOT_PREPACKAGED


@dataclass(frozen=True)
class NodePorts:
    """The ports the operator gives one graph node (its `endpoint` after defaulting)."""

    http: int
    grpc: int
    metrics: int
    #: the port the executor dials for readiness and the probes ask (gRPC under gRPC)
    grpc_service: bool

    @property
    def service_port(self) -> int:
        return self.grpc if self.grpc_service else self.http


def _named_port(container: Mapping[str, Any], name: str) -> int | None:
    for port in container.get("ports") or ():
        if port.get("name") == name:
            return int(port.get("containerPort"))
    return None


def _uses_grpc(spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    endpoint = node.get("endpoint") or {}
    return str(endpoint.get("type") or "").upper() == "GRPC" or spec.get("transport") == "grpc"


def node_ports(spec: Mapping[str, Any]) -> dict[tuple[int, str], NodePorts]:
    """(predictor index, node name) -> ports, for every node with a container after
    defaulting: each container name gets the next HTTP and gRPC numbers (9000, 9500 up,
    counted across predictors, every container counting), ports named http/grpc win, and
    each node container without a `metrics` port gets the next metrics number (6000 up).
    Prepackaged nodes without a container get theirs after the written containers."""
    http_of: dict[str, int] = {}
    grpc_of: dict[str, int] = {}
    counters = {"http": FIRST_HTTP_PORT, "grpc": FIRST_GRPC_PORT, "metrics": FIRST_METRICS_PORT}

    def number(kind: str, numbers: dict[str, int], name: str) -> int:
        if name not in numbers:
            numbers[name] = counters[kind]
            counters[kind] += 1
        return numbers[name]

    found: dict[tuple[int, str], NodePorts] = {}

    def place(p: int, node: Mapping[str, Any], container: Mapping[str, Any]) -> None:
        name = str(container.get("name", ""))
        http, grpc = number("http", http_of, name), number("grpc", grpc_of, name)
        metrics = _named_port(container, METRICS_PORT_NAME)
        if metrics is None:
            metrics = counters["metrics"]
            counters["metrics"] += 1
        found[(p, name)] = NodePorts(
            _named_port(container, HTTP_PORT_NAME) or http,
            _named_port(container, GRPC_PORT_NAME) or grpc,
            metrics,
            _uses_grpc(spec, node),
        )

    for p, predictor in enumerate(spec.get("predictors") or ()):
        nodes = {str(n.get("name")): n for n, _ in walk_graph(predictor.get("graph") or {}, "")}
        written = set()
        for container in _containers(predictor):
            name = str(container.get("name", ""))
            written.add(name)
            if name in nodes and (p, name) not in found:
                place(p, nodes[name], container)
            else:
                number("http", http_of, name)
                number("grpc", grpc_of, name)
        for name, node in nodes.items():
            if is_prepackaged(node) and name not in written:
                place(p, node, {"name": name})
    return found


def _containers(predictor: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for component_spec in predictor.get("componentSpecs") or ():
        yield from (component_spec.get("spec") or {}).get("containers") or ()


def go_json(value: Any) -> str:
    """JSON as Go's json.Marshal writes it: compact, UTF-8, with <, > and & escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def parameters_json(parameters: Sequence[Mapping[str, Any]]) -> str:
    """PREDICTIVE_UNIT_PARAMETERS as the operator writes it: name, value, type per entry."""
    return go_json(
        [
            {"name": p.get("name"), "value": p.get("value"), "type": p.get("type")}
            for p in parameters
        ]
    )


def node_env(
    *,
    deployment: str,
    predictor: str,
    predictor_labels: Mapping[str, str],
    container: str,
    image: str,
    ports: NodePorts,
    parameters: str | None,
    has_model_uri: bool,
) -> list[tuple[str, str]]:
    """The env the operator appends to a node's container, in its order; `parameters` is
    PREDICTIVE_UNIT_PARAMETERS (None: the node has none)."""
    env = [
        ("PREDICTIVE_UNIT_SERVICE_PORT", str(ports.service_port)),
        ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", str(ports.http)),
        ("MLSERVER_HTTP_PORT", str(ports.http)),
        ("PREDICTIVE_UNIT_GRPC_SERVICE_PORT", str(ports.grpc)),
        ("MLSERVER_GRPC_PORT", str(ports.grpc)),
    ]
    if parameters is not None:
        env.append(("PREDICTIVE_UNIT_PARAMETERS", parameters))
    if has_model_uri:
        env.append(("MLSERVER_MODEL_URI", MODEL_MOUNT_PATH))
    labels = {"version": predictor, **predictor_labels}
    env += [
        ("PREDICTIVE_UNIT_ID", container),
        ("MLSERVER_MODEL_NAME", container),
        ("PREDICTIVE_UNIT_IMAGE", image),
        ("PREDICTOR_ID", predictor),
        ("PREDICTOR_LABELS", go_json(dict(sorted(labels.items())))),
        ("SELDON_DEPLOYMENT_ID", deployment),
        ("SELDON_EXECUTOR_ENABLED", "true"),
        ("PREDICTIVE_UNIT_METRICS_SERVICE_PORT", str(ports.metrics)),
        ("PREDICTIVE_UNIT_METRICS_ENDPOINT", PROMETHEUS_PATH),
        ("MLSERVER_METRICS_PORT", str(ports.metrics)),
        ("MLSERVER_METRICS_ENDPOINT", PROMETHEUS_PATH),
    ]
    return env


def tcp_probe(port: int, initial_delay_s: int) -> dict[str, Any]:
    return {
        "tcpSocket": {"port": port},
        "initialDelaySeconds": initial_delay_s,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 3,
        "timeoutSeconds": 1,
    }


def add_container_service(container: dict[str, Any], ports: NodePorts) -> None:
    """The ports, probes and preStop hook createContainerService gives a node's container
    (each only where the container has none of its own)."""
    declared = list(container.get("ports") or ())
    if _named_port(container, METRICS_PORT_NAME) is None:
        declared.append({"name": METRICS_PORT_NAME, "containerPort": ports.metrics})
    for name, number in ((HTTP_PORT_NAME, ports.http), (GRPC_PORT_NAME, ports.grpc)):
        if not any(p.get("name") == name for p in declared):
            declared.append({"name": name, "containerPort": number})
    container["ports"] = [{**p, "protocol": p.get("protocol", "TCP")} for p in declared]
    container.setdefault("livenessProbe", tcp_probe(ports.service_port, _LIVENESS_DELAY_S))
    container.setdefault("readinessProbe", tcp_probe(ports.service_port, _READINESS_DELAY_S))
    container.setdefault(
        "lifecycle", {"preStop": {"exec": {"command": ["/bin/sh", "-c", "/bin/sleep 10"]}}}
    )


def set_env(container: dict[str, Any], entries: Sequence[tuple[str, str]]) -> None:
    """Append env entries, replacing an entry of the same name in place (SetEnvVar)."""
    env = [dict(entry) for entry in container.get("env") or ()]
    for name, value in entries:
        existing = next((entry for entry in env if entry.get("name") == name), None)
        if existing is None:
            env.append({"name": name, "value": value})
        else:
            existing.pop("valueFrom", None)
            existing["value"] = value
    container["env"] = env
