"""What one bench run starts and measures for the target groups it was asked for.

Only the processes the chosen groups call are started, all at once (each imports for seconds),
and every target of a model is planned in one fixed order: direct, batching, the wrapper's
Seldon API, the reference class's (`--reference-class`), the wrapper's TF faces, the Seldon
graphs, the TF graphs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seldon_tfserving.bench.graphs import graph_components, start_gateway
from seldon_tfserving.bench.models import BenchModel
from seldon_tfserving.bench.process_names import (
    BACKEND_PROCESS,
    BATCHING_BACKEND_PROCESS,
    FORWARDER_PROCESS,
    GATEWAY_PROCESS,
    ROUTER_PROCESS,
    reference_process,
    wrapper_forwarder_process,
    wrapper_process,
)
from seldon_tfserving.bench.stack import WITH_TENSORFLOW_MICROSERVICE, BenchStack
from seldon_tfserving.bench.suite import (
    BATCHING_PARAMETERS,
    FLOOR_TARGET,
    REST_TRANSPORT_GROUPS,
    REST_TRANSPORT_TARGETS,
    GraphEntry,
    batching_targets,
    direct_targets,
    gateway_floor_targets,
    graph_targets,
    reference_parameters,
    reference_targets,
    router_targets,
    tf_graph_targets,
    tf_wrapper_targets,
    wrapper_parameters,
    wrapper_targets,
)
from seldon_tfserving.bench.targets import Target
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.grpc_runtime import EXPERIMENTS_VARIABLE, experiments_as_shipped
from seldon_tfserving.runner.launch import MicroserviceSpec

#: The groups served through the gateway.
GATEWAY_GROUPS = frozenset({"graph", "tf-graph"})
#: The groups that call TfServingModel (with its default gRPC transport), directly or as nodes.
WRAPPER_GROUPS = frozenset({"wrapper", "tf-wrapper"}) | GATEWAY_GROUPS


@dataclass(frozen=True)
class BenchServers:
    """Where everything a run started listens, by model name where there is one per model."""

    backend: ServerAddress
    #: TfServingModel calling the backend over gRPC (its default transport)
    wrappers: dict[str, ServerAddress] = field(default_factory=dict)
    #: TfServingModel with `transport: rest` (only for the `tf-` groups)
    rest_transport_wrappers: dict[str, ServerAddress] = field(default_factory=dict)
    batching_backend: ServerAddress | None = None
    forwarder: str | None = None
    #: the bare forwarder in front of each wrapper's gRPC port (only with the `graph` group)
    wrapper_forwarders: dict[str, str] = field(default_factory=dict)
    graphs: dict[str, list[GraphEntry]] = field(default_factory=dict)
    #: the graphs' ABTestRouter (only with the gateway's groups)
    router: ServerAddress | None = None
    #: the reference class, one component per model (only with `--reference-class`)
    references: dict[str, ServerAddress] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferenceClass:
    """A Seldon class measured beside TfServingModel: `module` names both the file in
    `directory` and the class, as seldon-core-microservice imports an undotted name."""

    directory: Path
    module: str

    @classmethod
    def of_file(cls, path: Path) -> ReferenceClass:
        """The class in `path` (`TfServingProxy.py` holds `TfServingProxy`); ValueError
        when the file is missing or its name is no Python module name."""
        if path.suffix != ".py" or not path.stem.isidentifier():
            raise ValueError(f"{path}: a reference class is a NAME.py file holding class NAME")
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        return cls(path.resolve().parent, path.stem)

    def component(
        self, model: BenchModel, backend: ServerAddress, threads: int
    ) -> MicroserviceSpec:
        """Its component for `model`, under seldon-core's own seldon-core-microservice."""
        return MicroserviceSpec(
            self.module,
            parameters=reference_parameters(model, backend),
            threads=threads,
            # gRPC as Seldon ships it: our processes' I/O choice (grpc_runtime.py) is not its
            env={"PYTHONPATH": str(self.directory), EXPERIMENTS_VARIABLE: experiments_as_shipped()},
            name=reference_process(model),
            program=WITH_TENSORFLOW_MICROSERVICE,
        )


def _wrapper(
    model: BenchModel, backend: ServerAddress, threads: int, rest: bool
) -> MicroserviceSpec:
    return MicroserviceSpec(
        "seldon_tfserving.TfServingModel",
        parameters=wrapper_parameters(model, backend, "rest" if rest else "grpc"),
        threads=threads,
        name=wrapper_process(model, rest),
    )


def measures_gateway_floor(groups: Collection[str], quick: bool) -> bool:
    """Whether a run measures the floor under the gateway's gRPC hop (a forwarder in front of
    each model's wrapper): with the graph group, unless --quick, which calls the gateway over
    REST only."""
    return "graph" in groups and not quick


def start_servers(
    stack: BenchStack,
    models: Sequence[BenchModel],
    groups: Collection[str],
    model_config: Path,
    workdir: Path,
    component_threads: int,
    reference: ReferenceClass | None = None,
    quick: bool = False,
) -> BenchServers:
    """Start what `groups` call (`quick`: what --quick measures); return once every process
    answers."""
    names = [m.name for m in models]
    backend = stack.start_backend(model_config, names, wait=False, name=BACKEND_PROCESS)
    backends = [backend]
    batching_backend = None
    if "batching" in groups:
        parameters = workdir / "batching.txt"
        parameters.write_text(BATCHING_PARAMETERS)
        batching_backend = stack.start_backend(
            model_config,
            names,
            wait=False,
            name=BATCHING_BACKEND_PROCESS,
            extra_args=["--enable_batching", f"--batching_parameters_file={parameters}"],
        )
        backends.append(batching_backend)
    forwarder = (
        stack.start_forwarder(backend.address.grpc_target, name=FORWARDER_PROCESS)
        if "direct" in groups
        else None
    )
    with_rest_transport = bool(REST_TRANSPORT_GROUPS & set(groups))
    with_gateway = bool(GATEWAY_GROUPS & set(groups))
    with_wrappers = bool(WRAPPER_GROUPS & set(groups))
    wanted: list[MicroserviceSpec] = []
    if with_wrappers:
        wanted += [_wrapper(m, backend.address, component_threads, rest=False) for m in models]
    if with_rest_transport:
        wanted += [_wrapper(m, backend.address, component_threads, rest=True) for m in models]
    if with_gateway:
        wanted += graph_components(component_threads)
    if reference is not None:
        wanted += [reference.component(m, backend.address, component_threads) for m in models]

    def wait_for_backends() -> None:
        for started in backends:
            started.wait_ready()

    # every process imports for seconds: start them all, then wait for the backends first
    addresses = iter(stack.start_components(wanted, before_waiting=wait_for_backends))
    wrappers = {m.name: next(addresses) for m in models} if with_wrappers else {}
    rest_wrappers = {m.name: next(addresses) for m in models} if with_rest_transport else {}
    graphs: dict[str, list[GraphEntry]] = {}
    router: ServerAddress | None = None
    if with_gateway:
        router, combiner = next(addresses), next(addresses)
        tf_wrappers = rest_wrappers if "tf-graph" in groups else None
        graphs = start_gateway(stack, models, wrappers, router, combiner, tf_wrappers)
    references = {m.name: next(addresses) for m in models} if reference is not None else {}
    wrapper_forwarders = {
        m.name: stack.start_forwarder(
            wrappers[m.name].grpc_target, name=wrapper_forwarder_process(m)
        )
        for m in models
        if measures_gateway_floor(groups, quick)
    }
    return BenchServers(
        backend=backend.address,
        wrappers=wrappers,
        rest_transport_wrappers=rest_wrappers,
        batching_backend=batching_backend.address if batching_backend is not None else None,
        forwarder=forwarder,
        wrapper_forwarders=wrapper_forwarders,
        graphs=graphs,
        router=router,
        references=references,
    )


def _calling(found: list[Target], process: str | Callable[[Target], str]) -> list[Target]:
    """`found`, each target knowing the process it calls (one for all, or one each)."""
    return [
        dataclasses.replace(
            target, process=process if isinstance(process, str) else process(target)
        )
        for target in found
    ]


def plan_targets(
    models: Sequence[BenchModel], groups: Collection[str], servers: BenchServers, quick: bool
) -> list[tuple[BenchModel, Target]]:
    """Every (model, target) of the chosen groups, in the report's order, each target knowing
    the process it calls."""
    return [
        (model, target)
        for model in models
        for target in _model_targets(model, groups, servers, quick)
    ]


def _model_targets(
    model: BenchModel, groups: Collection[str], servers: BenchServers, quick: bool
) -> list[Target]:
    def wrapper_of(target: Target) -> str:
        return wrapper_process(model, target.name in REST_TRANSPORT_TARGETS)

    found: list[Target] = []
    if "direct" in groups:
        found += _calling(
            direct_targets(model, servers.backend, servers.forwarder),
            lambda t: FORWARDER_PROCESS if t.name == FLOOR_TARGET else BACKEND_PROCESS,
        )
    if servers.batching_backend is not None:
        found += _calling(
            batching_targets(model, servers.batching_backend), BATCHING_BACKEND_PROCESS
        )
    if "wrapper" in groups:
        found += _calling(
            wrapper_targets(
                model, servers.wrappers[model.name], servers.rest_transport_wrappers[model.name]
            ),
            wrapper_of,
        )
    if model.name in servers.references:
        found += _calling(
            reference_targets(model, servers.references[model.name]), reference_process(model)
        )
    if "tf-wrapper" in groups:
        found += _calling(
            tf_wrapper_targets(
                model, servers.wrappers[model.name], servers.rest_transport_wrappers[model.name]
            ),
            wrapper_of,
        )
    if "graph" in groups and servers.router is not None:
        found += _calling(
            router_targets(model, servers.router, with_grpc=not quick), ROUTER_PROCESS
        )
    if measures_gateway_floor(groups, quick) and model.name in servers.wrapper_forwarders:
        found += _calling(
            gateway_floor_targets(model, servers.wrapper_forwarders[model.name]),
            wrapper_forwarder_process(model),
        )
    if "graph" in groups:
        found += _calling(
            graph_targets(model, servers.graphs[model.name], with_grpc=not quick),
            GATEWAY_PROCESS,
        )
    if "tf-graph" in groups:
        found += _calling(tf_graph_targets(model, servers.graphs[model.name]), GATEWAY_PROCESS)
    return found
