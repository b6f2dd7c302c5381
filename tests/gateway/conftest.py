"""The gateway's test bed: an in-process Gateway on free ports serving the A/B, bandit,
ensemble, canary, shadow and chain graphs, over real `seldon-core-microservice` components
or over their recorded in-process twins (`recorded_components.py`)."""

from __future__ import annotations

import functools
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
from seldon_tfserving.runner.child import stop_together
from tests.gateway.in_process import recorded_gateway
from tests.gateway.recorded_components import RecordedComponents, UnitFactory
from tests.gateway.scripted_units import TWINS
from tests.gateway.sink import CloudEventSink
from tests.servers import (
    PROJECT_ROOT,
    Microservice,
    free_port,
    start_microservice,
    wait_until_ready,
)

NAMESPACE = "seldon"
COMPONENTS = "tests.gateway.components"


@dataclass(frozen=True)
class ComponentSpec:
    """One component process: a class of `tests.gateway.components` (or a dotted class of
    ours), its service type and parameters, and whether it is given a state file."""

    interface: str
    service_type: str
    parameters: tuple[tuple[str, str, str], ...] = ()
    state: bool = False
    #: the parameter naming the state file (our own routers call it `state_path`)
    state_parameter: str = "state_file"
    #: the graph node it serves (its PREDICTIVE_UNIT_ID), when not the one it is started as
    serves: str | None = None

    @property
    def class_path(self) -> str:
        return self.interface if "." in self.interface else f"{COMPONENTS}.{self.interface}"

    @property
    def image(self) -> str:
        return f"tests/{self.interface.rsplit('.', 1)[-1].lower()}:0.1"


#: One process per node name; graphs reuse them (the endpoint map may repeat an address).
COMPONENT_SPECS = {
    "model-a": ComponentSpec("ScaleModel", "MODEL", (("factor", "FLOAT", "1"),), state=True),
    "model-b": ComponentSpec("ScaleModel", "MODEL", (("factor", "FLOAT", "10"),), state=True),
    "router": ComponentSpec("GreedyRouter", "ROUTER", (("n_branches", "INT", "2"),), state=True),
    "combiner": ComponentSpec("MeanCombiner", "COMBINER"),
    "tag-router": ComponentSpec("TagRouter", "ROUTER"),
    "transformer": ComponentSpec("AddTransformer", "TRANSFORMER", (("offset", "FLOAT", "1"),)),
    "output": ComponentSpec("NegateOutputTransformer", "TRANSFORMER"),
}


#: Nodes whose component only ever runs as its in-process twin: the graphs that use them
#: (`tagged`) are served by the in-process gateway alone.
IN_PROCESS_ONLY = frozenset({"tag-router"})

#: Started with the others, for tests that build graphs of their own around them.
STANDALONE_SPECS = {
    "thompson": ComponentSpec(
        "seldon_tfserving.ThompsonSamplingRouter",
        "ROUTER",
        (("n_branches", "INT", "2"), ("seed", "INT", "7")),
        state=True,
        state_parameter="state_path",
    ),
    # model-a's kind of process, for test_failures.py to kill
    "victim": ComponentSpec(
        "ScaleModel", "MODEL", (("factor", "FLOAT", "1"),), state=True, serves="model-a"
    ),
}


def image_of(node: str) -> str:
    return {**COMPONENT_SPECS, **STANDALONE_SPECS}[node].image


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
        parameters.append(
            {"name": spec.state_parameter, "type": "STRING", "value": str(state_file)}
        )
    return start_microservice(
        log_dir,
        spec.class_path,
        service_type=spec.service_type,
        parameters=parameters,
        env={
            "PREDICTIVE_UNIT_ID": spec.serves or node,
            "PREDICTIVE_UNIT_IMAGE": spec.image,
            # site-packages holds a `tests` package of its own: ours must come first
            "PYTHONPATH": str(PROJECT_ROOT),
        },
        wait_ready=wait,
    )


@pytest.fixture(scope="session")
def components(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Components]:
    """Every test component, the standalone ones too, started together (they take seconds
    each to import, and as long again to stop); one that loses a free port to another
    process before binding it is moved by the launcher."""
    state_dir = tmp_path_factory.mktemp("component-state")
    started = {
        node: start_component(log_dir, node, spec, state_dir / f"{node}.jsonl", wait=False)
        for node, spec in {**COMPONENT_SPECS, **STANDALONE_SPECS}.items()
        if node not in IN_PROCESS_ONLY
    }
    try:
        wait_until_ready(*started.values(), timeout_s=180)
        yield Components(started, state_dir)
    finally:
        stop_all(list(started.values()))


def stop_all(services: list[Microservice]) -> None:
    """Stop every process at once (each takes seconds to drain)."""
    stop_together([service.server for service in services])


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
                # the shadow is model-b's process: its answer (ten times) is never the reply
                {"name": "shadow", "shadow": True, "graph": node("model-b", "MODEL")},
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
def recorded_deployments(sink: CloudEventSink) -> list[SeldonDeployment]:
    """Every graph under test, as the in-process gateway serves them."""
    return [parse_deployment(doc) for doc in graph_documents(sink.url)]


@pytest.fixture(scope="session")
def deployments(recorded_deployments: list[SeldonDeployment]) -> list[SeldonDeployment]:
    """The graphs the gateway serves over real components: those with a process per node."""
    return [
        sdep
        for sdep in recorded_deployments
        if not any(
            graph_node.name in IN_PROCESS_ONLY
            for predictor in sdep.predictors
            for graph_node in predictor.graph.walk()
        )
    ]


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


# -- the same graphs over recorded components, in process ------------------------------------


def twin_units() -> dict[str, UnitFactory]:
    """Every test component's in-process twin, by node name, with the same parameters."""
    return {
        node: functools.partial(TWINS[spec.interface], **{n: v for n, _, v in spec.parameters})
        for node, spec in COMPONENT_SPECS.items()
    }


@pytest.fixture(scope="module")
def recorded_components() -> RecordedComponents:
    return RecordedComponents(twin_units())


@pytest.fixture
def recorded(recorded_components: RecordedComponents) -> RecordedComponents:
    """The in-process components, fresh for each test: no call recorded, nothing learned."""
    recorded_components.reset(twin_units())
    return recorded_components


@pytest.fixture(scope="module")
def in_process_gateway(
    recorded_components: RecordedComponents, recorded_deployments: list[SeldonDeployment]
) -> Iterator[Gateway]:
    """The gateway under test, serving the same graphs, its components recorded twins."""
    with recorded_gateway(recorded_deployments, recorded_components) as gateway:
        yield gateway


#: The door's bounds in the tests that probe them: small, so that every timeout is seconds.
DOOR_SETTINGS = GatewaySettings(
    component_timeout_s=20,
    header_timeout_s=1.0,
    body_timeout_s=2.0,
    keepalive_timeout_s=3.0,
    max_body_bytes=64 * 1024,
    max_meta_bytes=4 * 1024,
    max_connections=700,
    http_workers=8,
)
#: The TF-protocol deployment beside the Seldon ones at the door (its node is a fake).
TF_DOOR_DEPLOYMENT = "tf-door"


@pytest.fixture(scope="session")
def door_gateway(components: Components, deployments: list[SeldonDeployment]) -> Iterator[Gateway]:
    """A gateway with DOOR_SETTINGS over the real components, plus a TF-protocol deployment
    whose node is tf_fakes.py's, so that each refusal is seen in both protocols' shape."""
    from tests.gateway.tf_fakes import FakeComponents

    tf_doc = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": TF_DOOR_DEPLOYMENT, "namespace": NAMESPACE},
        "spec": {
            "protocol": "tensorflow",
            "predictors": [{"name": "default", "graph": {"name": "model-b", "type": "MODEL"}}],
        },
    }
    every = [*deployments, parse_deployment(tf_doc)]
    endpoints = endpoints_for(deployments, components)
    endpoints[endpoint_key(TF_DOOR_DEPLOYMENT, "default", "model-b")] = ComponentEndpoint(
        "127.0.0.1", 1, 2
    )
    server = Gateway(
        every,
        endpoints,
        http_port=free_port(),
        grpc_port=free_port(),
        settings=DOOR_SETTINGS,
        tf_clients=FakeComponents().factory,
    )
    server.start()
    yield server
    server.stop()
