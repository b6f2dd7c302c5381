"""What to start, on which ports, with which flags, to run SeldonDeployments on one machine.

Pure: ports come from an injected allocator, the backend program from an injected `which`, and
ConfigMap files are returned as text. Each deployment is planned as the operator builds its
pods (TENSORFLOW_SERVER expanded, deploy/tensorflow_server). Each componentSpec is a pod: its
containers share `localhost`, so when a TF Serving container moves to a free port, the
TfServingModel nodes of the same pod are told the new address (their `grpc_endpoint` /
`rest_endpoint` parameters). Model URIs come from local folders (model_uris.py).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seldon_tfserving.deploy.findings import errors_among
from seldon_tfserving.deploy.model import GraphNode, Predictor, SeldonDeployment
from seldon_tfserving.deploy.storage_initializer import ModelSource
from seldon_tfserving.deploy.tensorflow_server import expand_tensorflow_servers
from seldon_tfserving.deploy.tfserving_container import (
    config_maps,
    is_tfserving,
    tfserving_containers,
)
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.protocols import TENSORFLOW_PROTOCOL, deployment_protocol
from seldon_tfserving.runner.backend_process import BackendPlanner, BackendPod
from seldon_tfserving.runner.backend_process import BackendProcess as BackendProcess
from seldon_tfserving.runner.bind_host import LOOPBACK
from seldon_tfserving.runner.component_process import ComponentProcess as ComponentProcess
from seldon_tfserving.runner.component_process import component_process
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.model_uris import model_volume_dirs
from seldon_tfserving.runner.pod_addresses import rewrite_endpoint as rewrite_endpoint
from seldon_tfserving.runner.programs import Programs as Programs
from seldon_tfserving.runner.programs import find_programs as find_programs
from seldon_tfserving.runner.tfserving_backend import (
    manifest_pod_path,
    plan_error,
    refuse_what_validate_refuses,
)
from seldon_tfserving.runner.trusted_code import ONLY_OURS, TrustedCode
from seldon_tfserving.runner.volumes import MountTable, resolve_mounts
from seldon_tfserving.transport import endpoint_transport

#: Graph implementations the gateway runs itself (as Seldon's executor does): no process.
GATEWAY_IMPLEMENTATIONS = frozenset({"RANDOM_ABTEST", "AVERAGE_COMBINER"})


@dataclass(frozen=True)
class RunPlan:
    deployments: tuple[SeldonDeployment, ...]
    backends: tuple[BackendProcess, ...]
    components: tuple[ComponentProcess, ...]
    #: keys of graph nodes the gateway implements itself
    gateway_nodes: tuple[str, ...] = ()
    #: graph nodes that are TF Serving containers (`protocol: tensorflow`): where they serve
    served_nodes: Mapping[str, ComponentEndpoint] = field(default_factory=dict)
    #: ConfigMap files to write (and emptyDir folders to create) before anything starts
    files: Mapping[Path, str] = field(default_factory=dict)
    folders: tuple[Path, ...] = ()

    @property
    def endpoints(self) -> dict[str, ComponentEndpoint]:
        return {**{c.key: c.endpoint for c in self.components}, **self.served_nodes}


def plan_run(
    documents: Sequence[Mapping[str, Any]],
    *,
    volumes: Mapping[str, Path],
    scratch_dir: Path,
    allocate_port: Callable[[], int],
    programs: Programs,
    predictor: str | None = None,
    model_uris: Mapping[str, Path] | None = None,
    host: str = LOOPBACK,
    trusted: TrustedCode = ONLY_OURS,
) -> RunPlan:
    """Plan every SeldonDeployment in `documents` (a YAML file's documents); `model_uris`
    maps model URIs (`gs://...`) to the local folders holding their files; every process
    listens on `host`, and runs only the classes and env `trusted` allows."""
    from seldon_tfserving.deploy.model import parse_deployment

    planned: list[tuple[SeldonDeployment, tuple[ModelSource, ...]]] = []
    for doc in documents:
        if doc.get("kind") != "SeldonDeployment":
            continue
        expansion = expand_tensorflow_servers(doc)
        deployment = parse_deployment(expansion.document)
        errors = errors_among(expansion.findings)
        if errors:
            raise plan_error(deployment.name, errors)
        if predictor is not None:
            deployment = _only_predictor(deployment, predictor)
        refuse_what_validate_refuses(deployment, documents, expansion)
        planned.append((deployment, expansion.model_sources))
    if not planned:
        raise PlanError("no SeldonDeployment in the file")
    known = config_maps(documents)
    planner = _Planner(
        volumes, scratch_dir, allocate_port, programs, known, model_uris or {}, host, trusted
    )
    for deployment, sources in planned:
        for each in deployment.predictors:
            planner.add_predictor(deployment, each, sources)
    _refuse_shared_process_names(planner.backends, planner.components)
    return RunPlan(
        deployments=tuple(deployment for deployment, _ in planned),
        backends=tuple(planner.backends),
        components=tuple(planner.components),
        gateway_nodes=tuple(planner.gateway_nodes),
        served_nodes=dict(planner.served_nodes),
        files=dict(planner.files),
        folders=tuple(planner.folders),
    )


def _server_names_in_several_pods(predictor: Predictor, nodes: Collection[str]) -> frozenset[str]:
    """The TF Serving container names more than one pod of `predictor` holds."""
    seen: Counter[str] = Counter()
    for pod in predictor.component_specs:
        names = {
            str(container.get("name", ""))
            for _, container in tfserving_containers(pod.get("spec") or {}, "", nodes)
        }
        seen.update(names)
    return frozenset(name for name, pods in seen.items() if pods > 1)


def _refuse_shared_process_names(
    backends: Sequence[BackendProcess], components: Sequence[ComponentProcess]
) -> None:
    """Every process is supervised, logged and stopped by its name: two under one name
    would leave one running after a stop."""
    names = Counter([b.name for b in backends] + [c.key for c in components])
    shared = sorted(name for name, count in names.items() if count > 1)
    if shared:
        raise PlanError(f"two processes of the plan would share the name {shared[0]!r}")


def _only_predictor(deployment: SeldonDeployment, name: str) -> SeldonDeployment:
    chosen = [p for p in deployment.predictors if p.name == name]
    if not chosen:
        known = ", ".join(p.name for p in deployment.predictors)
        raise PlanError(f"deployment {deployment.name!r} has no predictor {name!r} ({known})")
    return dataclasses.replace(
        deployment, predictors=(dataclasses.replace(chosen[0], traffic=100),)
    )


class _Planner:
    """Accumulates the plan, one predictor (and its pods) at a time."""

    def __init__(
        self,
        volumes: Mapping[str, Path],
        scratch_dir: Path,
        allocate_port: Callable[[], int],
        programs: Programs,
        known_config_maps: Mapping[str, Mapping[str, str]],
        model_uris: Mapping[str, Path],
        host: str,
        trusted: TrustedCode,
    ) -> None:
        self.volumes = volumes
        self.model_uris = model_uris
        #: the volumes of the pod being planned that are local folders (--volume, models)
        self.volume_dirs: Mapping[str, Path] = volumes
        self.scratch_dir = scratch_dir
        self.allocate_port = allocate_port
        self.programs = programs
        self.known_config_maps = known_config_maps
        self.backend_planner = BackendPlanner(
            programs, allocate_port, host, known_config_maps, model_uris
        )
        self.backends: list[BackendProcess] = []
        self.components: list[ComponentProcess] = []
        self.gateway_nodes: list[str] = []
        self.served_nodes: dict[str, ComponentEndpoint] = {}
        self.files: dict[Path, str] = {}
        self.folders: list[Path] = []
        #: the address every process listens on, and what a component may run
        self.host = host
        self.trusted = trusted

    def add_predictor(
        self, deployment: SeldonDeployment, predictor: Predictor, sources: Sequence[ModelSource]
    ) -> None:
        nodes = {node.name: node for node in predictor.graph.walk()}
        placed: set[str] = set()
        raw = (deployment.raw.get("spec") or {}).get("predictors") or ()
        at = next((i for i, p in enumerate(raw) if p.get("name") == predictor.name), 0)
        shared_names = _server_names_in_several_pods(predictor, nodes)
        for pod_index, pod in enumerate(predictor.component_specs):
            in_pod = [s for s in sources if (s.predictor, s.pod) == (at, pod_index)]
            self.volume_dirs = {
                **self.volumes,
                **model_volume_dirs(in_pod, model_uris=self.model_uris, volumes=self.volumes),
            }
            pod_spec = pod.get("spec") or {}
            containers = list(pod_spec.get("containers") or ())
            pod_volumes = {str(v.get("name")): v for v in pod_spec.get("volumes") or ()}
            pod_path = manifest_pod_path(deployment, predictor, pod_index)
            port_map: dict[int, int] = {}
            pending_backends = [
                self._backend(
                    deployment,
                    predictor,
                    pod_index,
                    container,
                    path,
                    pod_volumes,
                    port_map,
                    shared_names,
                )
                for path, container in tfserving_containers(pod_spec, pod_path, nodes)
            ]
            keys = []
            speaks_tf = deployment_protocol(deployment) == TENSORFLOW_PROTOCOL
            for index, container in enumerate(containers):
                name = str(container.get("name", ""))
                if name in nodes and speaks_tf and is_tfserving(container):
                    self._serving_node(
                        deployment,
                        predictor,
                        pod_index,
                        nodes[name],
                        container,
                        f"{pod_path}.containers[{index}]",
                        pod_volumes,
                        shared_names,
                    )
                    placed.add(name)
                elif name in nodes:
                    component = self._component(
                        deployment,
                        predictor,
                        pod_index,
                        nodes[name],
                        container,
                        pod_volumes,
                        port_map,
                    )
                    self.components.append(component)
                    keys.append(component.key)
                    placed.add(name)
            self.backends.extend(
                dataclasses.replace(b, serves=tuple(keys)) for b in pending_backends
            )
        for node in nodes.values():
            if node.name in placed:
                continue
            implementation = (node.implementation or "").upper()
            if implementation in GATEWAY_IMPLEMENTATIONS:
                self.gateway_nodes.append(endpoint_key(deployment.name, predictor.name, node.name))
            elif implementation and implementation != "UNKNOWN_IMPLEMENTATION":
                raise PlanError(
                    f"graph node {node.name!r} uses the prepackaged server {implementation}, "
                    f"which the local runner does not run; implement it with a container"
                )
            else:
                raise PlanError(
                    f"graph node {node.name!r} of predictor {predictor.name!r} has no container "
                    f"of that name in componentSpecs"
                )

    def _serving_node(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        pod_index: int,
        node: GraphNode,
        container: Mapping[str, Any],
        path: str,
        pod_volumes: Mapping[str, Mapping[str, Any]],
        shared_names: Collection[str],
    ) -> None:
        """A graph node that is a TF Serving container itself (the operator's TENSORFLOW_SERVER
        shape under `protocol: tensorflow`): a backend, and the node's endpoint its ports."""
        key = endpoint_key(deployment.name, predictor.name, node.name)
        backend = self._backend(
            deployment, predictor, pod_index, container, path, pod_volumes, {}, shared_names
        )
        transport = endpoint_transport(node.endpoint.type if node.endpoint is not None else None)
        if backend.rest_port is None and transport == "rest":
            raise PlanError(
                f"graph node {node.name!r} is a TF Serving container without --rest_api_port, "
                f"but the gateway calls it over REST: give it a REST port or endpoint.type GRPC"
            )
        self.backends.append(dataclasses.replace(backend, serves=(key,)))
        self.served_nodes[key] = ComponentEndpoint(
            backend.host,
            backend.rest_port or 0,
            backend.grpc_port,
            transport,
            models=backend.models,
        )

    def _scratch(
        self, deployment: SeldonDeployment, predictor: Predictor, pod: int, name: str
    ) -> Path:
        return self.scratch_dir / deployment.name / predictor.name / f"pod{pod}-{name}"

    def _mounts(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        pod_index: int,
        container: Mapping[str, Any],
        pod_volumes: Mapping[str, Mapping[str, Any]],
    ) -> MountTable:
        resolved = resolve_mounts(
            container,
            pod_volumes,
            volume_dirs=self.volume_dirs,
            known_config_maps=self.known_config_maps,
            scratch_dir=self._scratch(deployment, predictor, pod_index, str(container.get("name"))),
        )
        self.files.update(resolved.files)
        self.folders.extend(resolved.folders)
        return resolved.table

    def _backend(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        pod_index: int,
        container: Mapping[str, Any],
        path: str,
        pod_volumes: Mapping[str, Mapping[str, Any]],
        port_map: dict[int, int],
        shared_names: Collection[str],
    ) -> BackendProcess:
        """The TF Serving container at `path` (`backend_process.py`); `shared_names`: the TF
        Serving container names more than one pod of the predictor holds."""
        name = str(container.get("name", ""))
        pod = BackendPod(
            deployment=deployment.name,
            predictor=predictor.name,
            pod_index=pod_index,
            pod_volumes=pod_volumes,
            volume_dirs=self.volume_dirs,
            mounts=self._mounts(deployment, predictor, pod_index, container, pod_volumes),
            scratch=self._scratch(deployment, predictor, pod_index, name),
            name_shared_by_pods=name in shared_names,
        )
        return self.backend_planner.plan(container, path, pod, port_map, self.files)

    def _component(
        self,
        deployment: SeldonDeployment,
        predictor: Predictor,
        pod_index: int,
        node: GraphNode,
        container: Mapping[str, Any],
        pod_volumes: Mapping[str, Mapping[str, Any]],
        port_map: Mapping[int, int],
    ) -> ComponentProcess:
        return component_process(
            deployment,
            predictor,
            node,
            container,
            table=self._mounts(deployment, predictor, pod_index, container, pod_volumes),
            port_map=port_map,
            microservice=self.programs.microservice,
            allocate_port=self.allocate_port,
            host=self.host,
            trusted=self.trusted,
        )
