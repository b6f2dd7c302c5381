"""Which targets a bench run measures for each model, all against the same backend and payload."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seldon_tfserving.bench import targets
from seldon_tfserving.bench.models import INPUT_NAME, OUTPUT_NAME, SIGNATURE_NAME, BenchModel
from seldon_tfserving.bench.targets import Target
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.gateway.protocols import SELDON_PROTOCOL
from seldon_tfserving.transport import Transport

#: Short names of the target groups, for `--targets`: the `tf-` groups call TF Serving's own
#: protocol on the wrapper and through the gateway's `protocol: tensorflow` graphs.
TARGET_GROUPS = ("direct", "wrapper", "tf-wrapper", "graph", "tf-graph", "batching")
#: The groups that need TfServingModel components with `transport: rest` beside the default.
REST_TRANSPORT_GROUPS = frozenset({"wrapper", "tf-wrapper", "tf-graph"})


@dataclass(frozen=True)
class GraphEntry:
    """One graph served by the gateway: its name in the report and how to reach it.

    Under `protocol: tensorflow` the REST and the gRPC entry of a graph kind are two
    deployments (`rest_url` reaches the one whose model nodes call TF Serving over REST, the
    gRPC metadata the one over gRPC), so that a body passes through every hop of its path."""

    name: str
    rest_url: str
    grpc_endpoint: str | None = None
    grpc_metadata: tuple[tuple[str, str], ...] = ()
    protocol: str = SELDON_PROTOCOL


def wrapper_parameters(
    model: BenchModel, backend: ServerAddress, transport: Transport = "grpc"
) -> list[dict[str, str]]:
    """TfServingModel's Seldon parameters for one bench model on the bench's backend, calling
    it over `transport`."""
    values = {
        "model_name": model.name,
        "grpc_endpoint": backend.grpc_target,
        "rest_endpoint": backend.http_url,
        "signature_name": SIGNATURE_NAME,
        "model_input": INPUT_NAME,
        "model_output": OUTPUT_NAME,
        "timeout_ms": "30000",
        "transport": transport,
    }
    return [{"name": k, "type": "STRING", "value": v} for k, v in values.items()]


#: The target that calls TF Serving through `bench.forwarder`: the floor of a Python gRPC hop.
FLOOR_TARGET = "python grpc hop (floor)"


def direct_targets(
    model: BenchModel, backend: ServerAddress, forwarder: str | None = None
) -> list[Target]:
    """TF Serving called directly, and through the bare forwarder when one is running."""
    x = model.payload()
    found = [
        targets.tfserving_grpc(
            backend.grpc_target, model.name, SIGNATURE_NAME, INPUT_NAME, OUTPUT_NAME, x
        ),
        targets.tfserving_rest(backend.http_url, model.name, x),
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


def batching_targets(model: BenchModel, backend: ServerAddress) -> list[Target]:
    """TF Serving's Predict on the batching backend: the same call as `tfserving grpc`."""
    return [
        targets.tfserving_grpc(
            backend.grpc_target,
            model.name,
            SIGNATURE_NAME,
            INPUT_NAME,
            OUTPUT_NAME,
            model.payload(),
            name=BATCHING_TARGET,
        )
    ]


#: Seldon's REST predictions route on a component.
SELDON_PREDICTIONS = "/api/v1.0/predictions"
#: The wrapper's Seldon REST path, the component the REST graphs' model nodes call.
WRAPPER_REST_NDARRAY = "wrapper rest ndarray"
#: The same call on the wrapper with `transport: rest`: REST in, TF Serving's REST out (the
#: tensor encoded to TF Serving's JSON and its answer decoded, TfServingProxy's REST path).
WRAPPER_REST_NDARRAY_REST_TRANSPORT = "wrapper rest ndarray (transport rest)"
#: Seldon's REST `jsonData` on the wrapper with `transport: rest`: a TF Serving body passed on
#: to TF Serving's REST (its whole doubles written as ints, by numpy and orjson)
WRAPPER_REST_JSON_DATA_REST_TRANSPORT = "wrapper rest jsonData (transport rest)"
#: Seldon's gRPC `data.ndarray` on the wrapper (a ListValue each way)
SELDON_NDARRAY = "wrapper grpc ndarray"


def wrapper_targets(
    model: BenchModel, component: ServerAddress, rest_component: ServerAddress
) -> list[Target]:
    """Seldon's API on the wrapper (gRPC transport to TF Serving): REST and gRPC encodings;
    and REST `ndarray` and `jsonData` on the wrapper with `transport: rest`."""
    x = model.payload()
    url = f"{component.http_url}{SELDON_PREDICTIONS}"
    rest_url = f"{rest_component.http_url}{SELDON_PREDICTIONS}"
    return [
        targets.seldon_rest_ndarray(url, x, WRAPPER_REST_NDARRAY),
        targets.seldon_rest_ndarray(rest_url, x, WRAPPER_REST_NDARRAY_REST_TRANSPORT),
        targets.seldon_rest_json_data(url, x, "wrapper rest jsonData"),
        targets.seldon_rest_json_data(rest_url, x, WRAPPER_REST_JSON_DATA_REST_TRANSPORT),
        targets.seldon_grpc_ndarray(component.grpc_target, x, SELDON_NDARRAY),
        targets.seldon_grpc_tftensor(component.grpc_target, x, "wrapper grpc tftensor"),
    ]


#: A Seldon class measured beside TfServingModel (`bench --reference-class`, Seldon's own
#: TfServingProxy for one): its REST and gRPC paths, named as the wrapper's are.
REFERENCE_REST_NDARRAY = "reference rest ndarray"
REFERENCE_GRPC_NDARRAY = "reference grpc ndarray"
REFERENCE_GRPC_TFTENSOR = "reference grpc tftensor"


#: TfServingProxy's constructor parameters: what a reference class must take.
REFERENCE_PARAMETER_NAMES = frozenset(
    {
        "rest_endpoint",
        "grpc_endpoint",
        "model_name",
        "signature_name",
        "model_input",
        "model_output",
    }
)


def reference_parameters(model: BenchModel, backend: ServerAddress) -> list[dict[str, str]]:
    """TfServingProxy's six Seldon parameters with the wrapper's values for them: the same
    model, signature and tensors, on the same backend."""
    return [p for p in wrapper_parameters(model, backend) if p["name"] in REFERENCE_PARAMETER_NAMES]


def reference_targets(model: BenchModel, component: ServerAddress) -> list[Target]:
    """The reference class's Seldon API with the bodies the wrapper's targets send."""
    x = model.payload()
    return [
        targets.seldon_rest_ndarray(
            f"{component.http_url}{SELDON_PREDICTIONS}", x, REFERENCE_REST_NDARRAY
        ),
        targets.seldon_grpc_ndarray(component.grpc_target, x, REFERENCE_GRPC_NDARRAY),
        targets.seldon_grpc_tftensor(component.grpc_target, x, REFERENCE_GRPC_TFTENSOR),
    ]


#: The A/B graphs' router called alone, as the gateway calls it over each protocol.
ROUTER_REST = "router rest ndarray"
ROUTER_GRPC = "router grpc tftensor"


def router_targets(
    model: BenchModel, router: ServerAddress, with_grpc: bool = True
) -> list[Target]:
    """The graphs' ABTestRouter alone, so that the A/B graph's gateway hop can be told apart."""
    x = model.payload()
    found = [targets.seldon_rest_route(router.http_url, x, ROUTER_REST)]
    if with_grpc:
        found.append(targets.seldon_grpc_route(router.grpc_target, x, ROUTER_GRPC))
    return found


#: Seldon's gRPC tftensor through `bench.forwarder` in front of the wrapper: the floor under the
#: gateway's gRPC hop (a Python gRPC server and client that pass bytes through, nothing else).
GATEWAY_FLOOR_TARGET = "python grpc hop over wrapper (floor)"


def gateway_floor_targets(model: BenchModel, forwarder: str) -> list[Target]:
    """The wrapper's gRPC tftensor call through the bare forwarder in front of it."""
    return [targets.seldon_grpc_tftensor(forwarder, model.payload(), GATEWAY_FLOOR_TARGET)]


def graph_targets(
    model: BenchModel, graphs: Sequence[GraphEntry], with_grpc: bool = True
) -> list[Target]:
    """Each Seldon-protocol graph over REST (ndarray) and, unless `with_grpc` is off, gRPC
    (tftensor)."""
    x = model.payload()
    found: list[Target] = []
    for graph in graphs:
        if graph.protocol != SELDON_PROTOCOL:
            continue
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


#: TfServingModel's TF faces: gRPC Predict and REST :predict on the wrapper calling TF Serving
#: over gRPC (REST bodies converted once each way), and REST :predict on a wrapper with
#: `transport: rest` (the body passed through as it came, only the URL rewritten).
TF_GRPC_FACE = "wrapper tf grpc"
TF_REST_FACE = "wrapper tf rest"
TF_REST_FACE_REST_TRANSPORT = "wrapper tf rest (transport rest)"
#: The Seldon-protocol path the TF gRPC face is compared with: the same tensor, the same hop.
SELDON_TFTENSOR = "wrapper grpc tftensor"
#: The targets that call the wrapper with `transport: rest` (the others call the default one).
REST_TRANSPORT_TARGETS = frozenset(
    {
        WRAPPER_REST_NDARRAY_REST_TRANSPORT,
        WRAPPER_REST_JSON_DATA_REST_TRANSPORT,
        TF_REST_FACE_REST_TRANSPORT,
    }
)


def tf_wrapper_targets(
    model: BenchModel, grpc_wrapper: ServerAddress, rest_wrapper: ServerAddress
) -> list[Target]:
    """TF Serving's protocol on the microservice's own ports, as TF Serving's clients call it."""
    x = model.payload()
    path = f"/v1/models/{model.name}:predict"
    return [
        targets.tfserving_grpc(
            grpc_wrapper.grpc_target,
            model.name,
            SIGNATURE_NAME,
            INPUT_NAME,
            OUTPUT_NAME,
            x,
            name=TF_GRPC_FACE,
        ),
        targets.tf_rest_predict(f"{grpc_wrapper.http_url}{path}", x, TF_REST_FACE),
        targets.tf_rest_predict(f"{rest_wrapper.http_url}{path}", x, TF_REST_FACE_REST_TRANSPORT),
    ]


def tf_graph_targets(model: BenchModel, graphs: Sequence[GraphEntry]) -> list[Target]:
    """Each `protocol: tensorflow` graph over TF REST `:predict` and TF gRPC Predict."""
    x = model.payload()
    found: list[Target] = []
    for graph in graphs:
        if graph.protocol == SELDON_PROTOCOL:
            continue
        found.append(targets.tf_rest_predict(graph.rest_url, x, f"graph tf {graph.name} rest"))
        if graph.grpc_endpoint is not None:
            found.append(
                targets.tfserving_grpc(
                    graph.grpc_endpoint,
                    model.name,
                    SIGNATURE_NAME,
                    INPUT_NAME,
                    OUTPUT_NAME,
                    x,
                    name=f"graph tf {graph.name} grpc",
                    metadata=graph.grpc_metadata,
                )
            )
    return found


TargetsFor = Callable[[BenchModel], list[Target]]
