"""The bench's graphs, served by our gateway in a process of its own.

For each model: a single-model graph, an A/B router (ABTestRouter, 50/50) over two model
nodes, and an ensemble (MeanCombiner) of two model nodes. Every model node of one model is
answered by the same TfServingModel component the wrapper targets use, so graphs differ from
the wrapper only by the hops they add.

Under `protocol: tensorflow` (when the TF wrappers run): the single and the A/B graph, each
twice, as `<model>-tf-<kind>-rest` whose model nodes are the wrapper with `transport: rest`
(called over TF REST, every hop passes the body through) and `<model>-tf-<kind>-grpc` whose
model nodes are the default wrapper (called over TF gRPC). The router is the same component.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from seldon_tfserving.bench.models import BenchModel
from seldon_tfserving.bench.process_names import COMBINER_PROCESS, GATEWAY_PROCESS, ROUTER_PROCESS
from seldon_tfserving.bench.stack import BenchStack
from seldon_tfserving.bench.suite import GraphEntry
from seldon_tfserving.gateway.endpoints import ServerAddress, endpoint_key
from seldon_tfserving.gateway.protocols import SELDON_PROTOCOL, TENSORFLOW_PROTOCOL
from seldon_tfserving.ports import free_port, port_open
from seldon_tfserving.runner.launch import LOOPBACK, MicroserviceSpec
from seldon_tfserving.transport import TRANSPORTS, Transport

NAMESPACE = "bench"
PREDICTOR = "default"
#: Graph kinds and, for each, the implementation class of its root (None: the model itself).
GRAPH_KINDS: tuple[tuple[str, str | None], ...] = (
    ("single", None),
    ("ab", "seldon_tfserving.ABTestRouter"),
    ("ensemble", "seldon_tfserving.MeanCombiner"),
)
#: The graph kinds also served under `protocol: tensorflow`.
TF_GRAPH_KINDS = ("single", "ab")


def deployment_name(model: BenchModel, kind: str) -> str:
    return f"{model.name}-{kind}"


def tf_deployment_name(model: BenchModel, kind: str, transport: Transport) -> str:
    """The `protocol: tensorflow` deployment of `kind` whose model nodes call TF Serving over
    `transport` (the one its requests over that transport are sent to)."""
    return f"{model.name}-tf-{kind}-{transport}"


def _model_node(name: str) -> dict[str, Any]:
    return {"name": name, "type": "MODEL", "endpoint": {"type": "REST"}, "children": []}


def graph_document(
    model: BenchModel, kind: str, protocol: str = SELDON_PROTOCOL, name: str | None = None
) -> dict[str, Any]:
    """A SeldonDeployment of one bench graph (components are started by the bench itself)."""
    if kind == "single":
        graph = _model_node("model")
    elif kind == "ab":
        graph = {
            "name": "router",
            "type": "ROUTER",
            "endpoint": {"type": "REST"},
            "parameters": [{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}],
            "children": [_model_node("a"), _model_node("b")],
        }
    elif kind == "ensemble":
        graph = {
            "name": "combiner",
            "type": "COMBINER",
            "endpoint": {"type": "REST"},
            "children": [_model_node("a"), _model_node("b")],
        }
    else:
        raise ValueError(f"unknown graph kind {kind!r}")
    spec: dict[str, Any] = {"predictors": [{"name": PREDICTOR, "replicas": 1, "graph": graph}]}
    if protocol != SELDON_PROTOCOL:
        spec = {"protocol": protocol, **spec}
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name or deployment_name(model, kind), "namespace": NAMESPACE},
        "spec": spec,
    }


def _endpoint(address: ServerAddress) -> dict[str, Any]:
    return dataclasses.asdict(address)


def _graph_endpoints(
    name: str, model: ServerAddress, router: ServerAddress, combiner: ServerAddress
) -> dict[str, dict[str, Any]]:
    endpoints = {
        endpoint_key(name, PREDICTOR, node): _endpoint(model) for node in ("model", "a", "b")
    }
    endpoints[endpoint_key(name, PREDICTOR, "router")] = _endpoint(router)
    endpoints[endpoint_key(name, PREDICTOR, "combiner")] = _endpoint(combiner)
    return endpoints


def gateway_spec(
    models: Sequence[BenchModel],
    model_components: Mapping[str, ServerAddress],
    router: ServerAddress,
    combiner: ServerAddress,
    rest_transport_components: Mapping[str, ServerAddress] | None = None,
) -> dict[str, Any]:
    """Deployments and the endpoint of each of their nodes, for `gateway_process`; with
    `rest_transport_components` (the wrappers with `transport: rest`), the TF-protocol graphs
    too."""
    documents = []
    endpoints: dict[str, dict[str, Any]] = {}
    for model in models:
        component = model_components[model.name]
        for kind, _ in GRAPH_KINDS:
            document = graph_document(model, kind)
            documents.append(document)
            name = document["metadata"]["name"]
            endpoints.update(_graph_endpoints(name, component, router, combiner))
        if rest_transport_components is None:
            continue
        wrapper_of: dict[Transport, ServerAddress] = {
            "rest": rest_transport_components[model.name],
            "grpc": component,
        }
        for kind in TF_GRAPH_KINDS:
            for transport in TRANSPORTS:
                name = tf_deployment_name(model, kind, transport)
                documents.append(graph_document(model, kind, TENSORFLOW_PROTOCOL, name))
                endpoints.update(_graph_endpoints(name, wrapper_of[transport], router, combiner))
    return {"deployments": documents, "endpoints": endpoints}


def graph_components(threads: int) -> list[MicroserviceSpec]:
    """The router and the combiner every bench graph shares (model-agnostic components)."""
    return [
        MicroserviceSpec(
            "seldon_tfserving.ABTestRouter",
            "ROUTER",
            [{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}],
            threads=threads,
            name=ROUTER_PROCESS,
        ),
        MicroserviceSpec(
            "seldon_tfserving.MeanCombiner", "COMBINER", threads=threads, name=COMBINER_PROCESS
        ),
    ]


def start_gateway(
    stack: BenchStack,
    models: Sequence[BenchModel],
    model_components: Mapping[str, ServerAddress],
    router: ServerAddress,
    combiner: ServerAddress,
    rest_transport_components: Mapping[str, ServerAddress] | None = None,
) -> dict[str, list[GraphEntry]]:
    """Start the gateway over every bench graph; return each model's graph entries."""
    spec = gateway_spec(models, model_components, router, combiner, rest_transport_components)
    http_port, grpc_port = free_port(), free_port()
    spec.update({"http_port": http_port, "grpc_port": grpc_port})
    spec_path = stack.log_dir / "gateway-spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    process = stack.spawn(
        GATEWAY_PROCESS,
        [sys.executable, "-m", "seldon_tfserving.bench.gateway_process", str(spec_path)],
    )
    base = f"http://{LOOPBACK}:{http_port}"
    process.wait_until(
        lambda: port_open(grpc_port) and requests.get(f"{base}/ready", timeout=2).status_code < 500
    )
    return graph_entries(
        models, base, f"{LOOPBACK}:{grpc_port}", with_tf=rest_transport_components is not None
    )


def _routed_by(name: str) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata Istio and Ambassador route a deployment's calls by."""
    return (("seldon", name), ("namespace", NAMESPACE))


def graph_entries(
    models: Sequence[BenchModel], base_url: str, grpc_endpoint: str, with_tf: bool
) -> dict[str, list[GraphEntry]]:
    """How each model's graphs are reached on the gateway at `base_url` / `grpc_endpoint`."""
    entries: dict[str, list[GraphEntry]] = {}
    for model in models:
        found = []
        for kind, _ in GRAPH_KINDS:
            name = deployment_name(model, kind)
            url = f"{base_url}/seldon/{NAMESPACE}/{name}/api/v1.0/predictions"
            found.append(GraphEntry(kind, url, grpc_endpoint, _routed_by(name)))
        for kind in TF_GRAPH_KINDS if with_tf else ():
            over_rest = tf_deployment_name(model, kind, "rest")
            url = f"{base_url}/seldon/{NAMESPACE}/{over_rest}/v1/models/{model.name}:predict"
            over_grpc = _routed_by(tf_deployment_name(model, kind, "grpc"))
            found.append(GraphEntry(kind, url, grpc_endpoint, over_grpc, TENSORFLOW_PROTOCOL))
        entries[model.name] = found
    return entries


def read_spec(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec
