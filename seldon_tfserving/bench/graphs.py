"""The bench's graphs, served by our gateway in a process of its own.

For each model: a single-model graph, an A/B router (ABTestRouter, 50/50) over two model
nodes, and an ensemble (MeanCombiner) of two model nodes. Every model node of one model is
answered by the same TfServingModel component the wrapper targets use, so graphs differ from
the wrapper only by the hops they add.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from seldon_tfserving.bench.models import BenchModel
from seldon_tfserving.bench.stack import (
    LOOPBACK,
    BenchStack,
    ComponentAddress,
    ComponentSpec,
)
from seldon_tfserving.bench.suite import GraphEntry
from seldon_tfserving.gateway.endpoints import endpoint_key
from seldon_tfserving.ports import free_port, port_open

NAMESPACE = "bench"
PREDICTOR = "default"
#: Graph kinds and, for each, the implementation class of its root (None: the model itself).
GRAPH_KINDS: tuple[tuple[str, str | None], ...] = (
    ("single", None),
    ("ab", "seldon_tfserving.ABTestRouter"),
    ("ensemble", "seldon_tfserving.MeanCombiner"),
)


def deployment_name(model: BenchModel, kind: str) -> str:
    return f"{model.name}-{kind}"


def _model_node(name: str) -> dict[str, Any]:
    return {"name": name, "type": "MODEL", "endpoint": {"type": "REST"}, "children": []}


def graph_document(model: BenchModel, kind: str) -> dict[str, Any]:
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
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": deployment_name(model, kind), "namespace": NAMESPACE},
        "spec": {"predictors": [{"name": PREDICTOR, "replicas": 1, "graph": graph}]},
    }


def _endpoint(address: ComponentAddress) -> dict[str, Any]:
    return {"host": LOOPBACK, "http_port": address.http_port, "grpc_port": address.grpc_port}


def gateway_spec(
    models: Sequence[BenchModel],
    model_components: Mapping[str, ComponentAddress],
    router: ComponentAddress,
    combiner: ComponentAddress,
) -> dict[str, Any]:
    """Deployments and the endpoint of each of their nodes, for `gateway_process`."""
    documents = []
    endpoints: dict[str, dict[str, Any]] = {}
    for model in models:
        component = _endpoint(model_components[model.name])
        for kind, _ in GRAPH_KINDS:
            document = graph_document(model, kind)
            documents.append(document)
            name = document["metadata"]["name"]
            for node in ("model", "a", "b"):
                endpoints[endpoint_key(name, PREDICTOR, node)] = component
            endpoints[endpoint_key(name, PREDICTOR, "router")] = _endpoint(router)
            endpoints[endpoint_key(name, PREDICTOR, "combiner")] = _endpoint(combiner)
    return {"deployments": documents, "endpoints": endpoints}


def graph_components(threads: int) -> list[ComponentSpec]:
    """The router and the combiner every bench graph shares (model-agnostic components)."""
    return [
        ComponentSpec(
            "router",
            "seldon_tfserving.ABTestRouter",
            [{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}],
            service_type="ROUTER",
            threads=threads,
        ),
        ComponentSpec(
            "combiner", "seldon_tfserving.MeanCombiner", service_type="COMBINER", threads=threads
        ),
    ]


def start_gateway(
    stack: BenchStack,
    models: Sequence[BenchModel],
    model_components: Mapping[str, ComponentAddress],
    router: ComponentAddress,
    combiner: ComponentAddress,
) -> dict[str, list[GraphEntry]]:
    """Start the gateway over every bench graph; return each model's graph entries."""
    spec = gateway_spec(models, model_components, router, combiner)
    http_port, grpc_port = free_port(), free_port()
    spec.update({"http_port": http_port, "grpc_port": grpc_port})
    spec_path = stack.log_dir / "gateway-spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    process = stack.spawn(
        "gateway", [sys.executable, "-m", "seldon_tfserving.bench.gateway_process", str(spec_path)]
    )
    base = f"http://{LOOPBACK}:{http_port}"
    process.wait_until(
        lambda: port_open(grpc_port) and requests.get(f"{base}/ready", timeout=2).status_code < 500
    )
    entries: dict[str, list[GraphEntry]] = {}
    for model in models:
        entries[model.name] = [
            GraphEntry(
                kind,
                f"{base}/seldon/{NAMESPACE}/{deployment_name(model, kind)}/api/v1.0/predictions",
                f"{LOOPBACK}:{grpc_port}",
                (("seldon", deployment_name(model, kind)), ("namespace", NAMESPACE)),
            )
            for kind, _ in GRAPH_KINDS
        ]
    return entries


def read_spec(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec
