"""The gateway's test bed: real `seldon-core-microservice` components and an in-process
Gateway on free ports, serving the A/B, bandit, ensemble, canary, shadow and chain graphs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.deploy.model import SeldonDeployment, parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.gateway.sink import CloudEventSink
from tests.servers import PROJECT_ROOT, Microservice, free_port, start_microservice

NAMESPACE = "seldon"
COMPONENTS = "tests.gateway.components"


@dataclass(frozen=True)
class ComponentSpec:
    interface: str
    service_type: str
    parameters: tuple[tuple[str, str, str], ...] = ()
    state: bool = False


#: One process per node name; graphs reuse them (the endpoint map may repeat an address).
COMPONENT_SPECS = {
    "model-a": ComponentSpec("ScaleModel", "MODEL", (("factor", "FLOAT", "1"),), state=True),
    "model-b": ComponentSpec("ScaleModel", "MODEL", (("factor", "FLOAT", "10"),), state=True),
    "router": ComponentSpec("GreedyRouter", "ROUTER", (("n_branches", "INT", "2"),), state=True),
    "combiner": ComponentSpec("MeanCombiner", "COMBINER"),
    "tag-router": ComponentSpec("TagRouter", "ROUTER"),
    "transformer": ComponentSpec("AddTransformer", "TRANSFORMER", (("offset", "FLOAT", "1"),)),
    "output": ComponentSpec("NegateOutputTransformer", "TRANSFORMER"),
    "shadow-model": ComponentSpec("ScaleModel", "MODEL", (("factor", "FLOAT", "100"),), state=True),
}


def image_of(node: str) -> str:
    return f"tests/{COMPONENT_SPECS[node].interface.lower()}:0.1"


@dataclass
class Components:
    services: dict[str, Microservice]
    state_dir: Path

    def state_file(self, node: str) -> Path:
        return self.state_dir / f"{node}.jsonl"

    def endpoint(self, node: str) -> ComponentEndpoint:
        service = self.services[node]
        return ComponentEndpoint("127.0.0.1", service.http_port, service.grpc_port)


def start_component(
    log_dir: Path, node: str, spec: ComponentSpec, state_file: Path, wait: bool = True
) -> Microservice:
    parameters = [{"name": n, "type": t, "value": v} for n, t, v in spec.parameters]
    if spec.state:
        parameters.append({"name": "state_file", "type": "STRING", "value": str(state_file)})
    return start_microservice(
        log_dir,
        f"{COMPONENTS}.{spec.interface}",
        service_type=spec.service_type,
        parameters=parameters,
        env={
            "PREDICTIVE_UNIT_ID": node,
            "PREDICTIVE_UNIT_IMAGE": image_of(node),
            # site-packages holds a `tests` package of its own: ours must come first
            "PYTHONPATH": str(PROJECT_ROOT),
        },
        wait_ready=wait,
    )


@pytest.fixture(scope="session")
def components(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Components]:
    """Every test component, started together (they take seconds each to import)."""
    state_dir = tmp_path_factory.mktemp("component-state")
    started = {
        node: start_component(log_dir, node, spec, state_dir / f"{node}.jsonl", wait=False)
        for node, spec in COMPONENT_SPECS.items()
    }
    try:
        for name, service in list(started.items()):
            try:
                _wait_ready(service)
            except RuntimeError:
                # it exited: on a busy machine another process may have taken its free port
                # between our choosing and its binding; once more, on new ports
                spec = COMPONENT_SPECS[name]
                started[name] = start_component(log_dir, name, spec, state_dir / f"{name}.jsonl")
        yield Components(started, state_dir)
    finally:
        stop_all(list(started.values()))


def stop_all(services: list[Microservice]) -> None:
    """Stop every process at once (each takes seconds to drain)."""
    stoppers = [threading.Thread(target=s.server.stop) for s in services]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join(timeout=60)


def _wait_ready(service: Microservice) -> None:
    import requests

    from tests.servers import port_open

    service.server.wait_until(
        lambda: (
            port_open(service.grpc_port)
            and requests.get(f"{service.http_url}/health/ping", timeout=2).ok
        ),
        timeout_s=180,
    )


def node(
    name: str, type_: str | None = None, children: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    graph: dict[str, Any] = {"name": name, "children": children or []}
    if type_ is not None:
        graph["type"] = type_
    graph.update(extra)
    return graph


def deployment(name: str, predictors: list[dict[str, Any]]) -> dict[str, Any]:
    for predictor in predictors:
        containers = [
            {"name": n["name"], "image": image_of(n["name"])}
            for n in _nodes(predictor["graph"])
            if n["name"] in COMPONENT_SPECS
        ]
        predictor.setdefault("componentSpecs", [{"spec": {"containers": containers}}])
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"predictors": predictors},
    }


def _nodes(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [graph, *(n for child in graph.get("children", []) for n in _nodes(child))]


def graph_documents(sink_url: str) -> list[dict[str, Any]]:
    """The graphs under test, as SeldonDeployment documents."""
    models = [node("model-a", "MODEL"), node("model-b", "MODEL")]
    return [
        deployment(
            "ab-test",
            [
                {
                    "name": "default",
                    "graph": node(
                        "ab",
                        implementation="RANDOM_ABTEST",
                        parameters=[{"name": "ratioA", "type": "FLOAT", "value": "0.5"}],
                        children=[dict(m) for m in models],
                    ),
                }
            ],
        ),
        deployment(
            "bandit",
            [{"name": "default", "graph": node("router", "ROUTER", [dict(m) for m in models])}],
        ),
        deployment(
            "tagged",
            [{"name": "default", "graph": node("tag-router", "ROUTER", [dict(m) for m in models])}],
        ),
        deployment(
            "ensemble",
            [{"name": "default", "graph": node("combiner", "COMBINER", [dict(m) for m in models])}],
        ),
        deployment(
            "average",
            [
                {
                    "name": "default",
                    "graph": node(
                        "mean",
                        implementation="AVERAGE_COMBINER",
                        children=[dict(m) for m in models],
                    ),
                }
            ],
        ),
        deployment(
            "canary",
            [
                {"name": "main", "traffic": 90, "graph": node("model-a", "MODEL")},
                {"name": "canary", "traffic": 10, "graph": node("model-b", "MODEL")},
            ],
        ),
        deployment(
            "shadowed",
            [
                {"name": "main", "traffic": 100, "graph": node("model-a", "MODEL")},
                {"name": "shadow", "shadow": True, "graph": node("shadow-model", "MODEL")},
            ],
        ),
        deployment(
            "chain",
            [
                {
                    "name": "default",
                    "graph": node(
                        "transformer",
                        "TRANSFORMER",
                        [node("output", "OUTPUT_TRANSFORMER", [node("model-b", "MODEL")])],
                    ),
                }
            ],
        ),
        deployment(
            "chained",
            [{"name": "default", "graph": node("model-b", "MODEL", [node("model-a", "MODEL")])}],
        ),
        deployment(
            "logged",
            [
                {
                    "name": "default",
                    "graph": node("model-a", "MODEL", logger={"mode": "all", "url": sink_url}),
                }
            ],
        ),
    ]


def endpoints_for(
    deployments: list[SeldonDeployment], components: Components
) -> dict[str, ComponentEndpoint]:
    endpoints: dict[str, ComponentEndpoint] = {}
    for sdep in deployments:
        for predictor in sdep.predictors:
            for graph_node in predictor.graph.walk():
                if graph_node.name in components.services:
                    key = endpoint_key(sdep.name, predictor.name, graph_node.name)
                    endpoints[key] = components.endpoint(graph_node.name)
    return endpoints


@pytest.fixture(scope="session")
def sink() -> Iterator[CloudEventSink]:
    with CloudEventSink() as running:
        yield running


@pytest.fixture(scope="session")
def deployments(sink: CloudEventSink) -> list[SeldonDeployment]:
    return [parse_deployment(doc) for doc in graph_documents(sink.url)]


@pytest.fixture(scope="session")
def gateway(components: Components, deployments: list[SeldonDeployment]) -> Iterator[Gateway]:
    """The gateway under test, in this process, on free ports."""
    server = Gateway(
        deployments,
        endpoints_for(deployments, components),
        http_port=free_port(),
        grpc_port=free_port(),
        settings=GatewaySettings(component_timeout_s=20),
    )
    server.start()
    yield server
    server.stop()


def seldon_client(
    gateway: Gateway, name: str, ingress: str, transport: str, **options: Any
) -> SeldonClient:
    """Seldon's own client, pointed at the local gateway as it would be at a cluster's ingress."""
    return SeldonClient(
        deployment_name=name,
        namespace=NAMESPACE,
        gateway_endpoint=f"127.0.0.1:{gateway.http_port}",
        gateway=ingress,
        transport=transport,
        **options,
    )
