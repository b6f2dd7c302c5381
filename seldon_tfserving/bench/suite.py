"""Which targets a bench run measures for each model, all against the same backend and payload."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seldon_tfserving.bench import targets
from seldon_tfserving.bench.models import INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME, BenchModel
from seldon_tfserving.bench.stack import BackendAddress, ComponentAddress
from seldon_tfserving.bench.targets import Target

#: Short names of the target groups, for `--targets`.
TARGET_GROUPS = ("direct", "wrapper", "graph", "batching")


@dataclass(frozen=True)
class GraphEntry:
    """One graph served by the gateway: its name in the report and how to reach it."""

    name: str
    rest_url: str
    grpc_endpoint: str | None = None
    grpc_metadata: tuple[tuple[str, str], ...] = ()


def wrapper_parameters(model: BenchModel, backend: BackendAddress) -> list[dict[str, str]]:
    """TfServingModel's Seldon parameters for one bench model on the bench's backend."""
    values = {
        "model_name": model.name,
        "grpc_endpoint": backend.grpc_endpoint,
        "rest_endpoint": backend.rest_endpoint,
        "signature_name": SIGNATURE_NAME,
        "model_input": INPUT_NAME,
        "model_output": OUTPUT_NAME,
        "timeout_ms": "30000",
    }
    return [{"name": k, "type": "STRING", "value": v} for k, v in values.items()]


#: The target that calls TF Serving through `bench.forwarder`: the floor of a Python gRPC hop.
FLOOR_TARGET = "python grpc hop (floor)"


def direct_targets(
    model: BenchModel, backend: BackendAddress, forwarder: str | None = None
) -> list[Target]:
    """TF Serving called directly, and through the bare forwarder when one is running."""
    x = model.payload()
    found = [
        targets.tfserving_grpc(
            backend.grpc_endpoint, model.name, SIGNATURE_NAME, INPUT_NAME, OUTPUT_NAME, x
        ),
        targets.tfserving_rest(backend.rest_endpoint, model.name, x),
    ]
    if forwarder is not None:
        floor = targets.tfserving_grpc(
            forwarder, model.name, SIGNATURE_NAME, INPUT_NAME, OUTPUT_NAME, x, name=FLOOR_TARGET
        )
        found.insert(1, floor)
    return found


#: The target that calls a second backend started with --enable_batching.
BATCHING_TARGET = "tfserving grpc (batching)"
#: Its --batching_parameters_file: no waiting for a batch to fill (batch_timeout_micros 0), so
#: runs are merged only while a batch thread is busy; one batch thread per core.
BATCHING_PARAMETERS = (
    "max_batch_size { value: 64 }\n"
    "batch_timeout_micros { value: 0 }\n"
    "max_enqueued_batches { value: 64 }\n"
    f"num_batch_threads {{ value: {os.cpu_count() or 1} }}\n"
)


def batching_targets(model: BenchModel, backend: BackendAddress) -> list[Target]:
    """TF Serving's Predict on the batching backend: the same call as `tfserving grpc`."""
    return [
        targets.tfserving_grpc(
            backend.grpc_endpoint,
            model.name,
            SIGNATURE_NAME,
            INPUT_NAME,
            OUTPUT_NAME,
            model.payload(),
            name=BATCHING_TARGET,
        )
    ]


def wrapper_targets(model: BenchModel, component: ComponentAddress) -> list[Target]:
    x = model.payload()
    url = f"{component.http_url}/api/v1.0/predictions"
    return [
        targets.seldon_rest_ndarray(url, x, "wrapper rest ndarray"),
        targets.seldon_rest_json_data(url, x, "wrapper rest jsonData"),
        targets.seldon_grpc_ndarray(component.grpc_endpoint, x, "wrapper grpc ndarray"),
        targets.seldon_grpc_tftensor(component.grpc_endpoint, x, "wrapper grpc tftensor"),
    ]


def graph_targets(
    model: BenchModel, graphs: Sequence[GraphEntry], with_grpc: bool = True
) -> list[Target]:
    """Each graph over REST (ndarray) and, unless `with_grpc` is off, gRPC (tftensor)."""
    x = model.payload()
    found: list[Target] = []
    for graph in graphs:
        found.append(targets.seldon_rest_ndarray(graph.rest_url, x, f"graph {graph.name} rest"))
        if with_grpc and graph.grpc_endpoint is not None:
            found.append(
                targets.seldon_grpc_tftensor(
                    graph.grpc_endpoint,
                    x,
                    f"graph {graph.name} grpc tftensor",
                    service="Seldon",
                    metadata=graph.grpc_metadata,
                )
            )
    return found


TargetsFor = Callable[[BenchModel], list[Target]]
