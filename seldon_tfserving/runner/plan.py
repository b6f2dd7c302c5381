"""What to start, on which ports, with which flags, to run SeldonDeployments on one machine.

Pure: ports come from an injected allocator, the backend program from an injected `which`, and
ConfigMap files are returned as text. Each componentSpec is a pod: its containers share
`localhost`, so when a TF Serving container moves to a free port, the TfServingModel nodes of
the same pod are told the new address (their `grpc_endpoint` / `rest_endpoint` parameters).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from seldon_tfserving.deploy.model import GraphNode, Parameter, Predictor, SeldonDeployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.probes import ReadinessProbe, readiness_probe
from seldon_tfserving.runner.tfserving_container import (
    MODEL_SERVER_BINARY,
    is_tfserving_container,
    model_names,
    read_config_text,
    read_tfserving_flags,
)
from seldon_tfserving.runner.volumes import MountTable, config_maps, resolve_mounts

#: Graph implementations the gateway runs itself (as Seldon's executor does): no process.
GATEWAY_IMPLEMENTATIONS = frozenset({"RANDOM_ABTEST", "AVERAGE_COMBINER"})
#: The TfServingModel parameters that name its TF Serving, and their in-pod defaults.
TFSERVING_ENDPOINT_DEFAULTS = {
    "grpc_endpoint": "localhost:8500",
    "rest_endpoint": "http://localhost:8501",
}
LOOPBACK = "127.0.0.1"
_POD_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")
_ENDPOINT = re.compile(r"^(?P<scheme>[a-z]+://)?(?P<host>[^:/]+):(?P<port>\d+)(?P<rest>/.*)?$")


@dataclass(frozen=True)
class BackendProcess:
    """One TF Serving container, run locally (the real binary if present, else serve-models)."""

    name: str
    argv: tuple[str, ...]
    grpc_port: int
    rest_port: int | None
    models: tuple[str, ...]
    #: endpoint keys of the graph nodes in the same pod: they fail when this backend dies
    serves: tuple[str, ...]
    #: the container's model config file, locally (None for --model_name/--model_base_path)
    model_config_file: Path | None = None
    #: the manifest's readinessProbe, on local ports (None: none this machine can run)
    readiness: ReadinessProbe | None = None


@dataclass(frozen=True)
class ComponentProcess:
    """One graph node's container, run as `seldon-core-microservice` per s2i's image contract."""

    key: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    endpoint: ComponentEndpoint
    metrics_port: int
    parameters: tuple[Parameter, ...] = ()


@dataclass(frozen=True)
class RunPlan:
    deployments: tuple[SeldonDeployment, ...]
    backends: tuple[BackendProcess, ...]
    components: tuple[ComponentProcess, ...]
    #: keys of graph nodes the gateway implements itself
    gateway_nodes: tuple[str, ...] = ()
    #: ConfigMap files to write (and emptyDir folders to create) before anything starts
    files: Mapping[Path, str] = field(default_factory=dict)
    folders: tuple[Path, ...] = ()

    @property
    def endpoints(self) -> dict[str, ComponentEndpoint]:
        return {c.key: c.endpoint for c in self.components}


@dataclass(frozen=True)
class Programs:
    """How to launch the two kinds of child, resolved once."""

    model_server: tuple[str, ...]
    microservice: tuple[str, ...]


def find_programs(which: Callable[[str], str | None] = shutil.which) -> Programs:
    """The real `tensorflow_model_server` when it is on PATH, else our `serve-models`."""
    real = which(MODEL_SERVER_BINARY)
    model_server = (
        (real,) if real else (sys.executable, "-m", "seldon_tfserving.cli", "serve-models")
    )
    beside_python = Path(sys.executable).parent / "seldon-core-microservice"
    microservice = (
        str(beside_python) if beside_python.exists() else which("seldon-core-microservice")
    )
    if microservice is None:
        raise PlanError("seldon-core-microservice is not installed (pip install seldon-core)")
    return Programs(model_server, (microservice,))


def plan_run(
    documents: Sequence[Mapping[str, Any]],
    *,
    volumes: Mapping[str, Path],
    scratch_dir: Path,
    allocate_port: Callable[[], int],
    programs: Programs,
    predictor: str | None = None,
) -> RunPlan:
    """Plan every SeldonDeployment in `documents` (a YAML file's documents)."""
    from seldon_tfserving.deploy.model import parse_deployment

    deployments = [parse_deployment(d) for d in documents if d.get("kind") == "SeldonDeployment"]
    if not deployments:
        raise PlanError("no SeldonDeployment in the file")
    if predictor is not None:
        deployments = [_only_predictor(d, predictor) for d in deployments]
    known = config_maps(documents)
    planner = _Planner(volumes, scratch_dir, allocate_port, programs, known)
    for deployment in deployments:
        for each in deployment.predictors:
            planner.add_predictor(deployment, each)
    return RunPlan(
        deployments=tuple(deployments),
        backends=tuple(planner.backends),
        components=tuple(planner.components),
        gateway_nodes=tuple(planner.gateway_nodes),
        files=dict(planner.files),
        folders=tuple(planner.folders),
    )


def _only_predictor(deployment: SeldonDeployment, name: str) -> SeldonDeployment:
    chosen = [p for p in deployment.predictors if p.name == name]
    if not chosen:
        known = ", ".join(p.name for p in deployment.predictors)
        raise PlanError(f"deployment {deployment.name!r} has no predictor {name!r} ({known})")
    return dataclasses.replace(
        deployment, predictors=(dataclasses.replace(chosen[0], traffic=100),)
    )


def rewrite_endpoint(value: str, port_map: Mapping[int, int]) -> str:
    """`localhost:8500` -> `127.0.0.1:<local port>` when 8500 is a moved port of the pod."""
    match = _ENDPOINT.match(value.strip())
    if not match or match["host"] not in _POD_HOSTS or int(match["port"]) not in port_map:
        return value
    return f"{match['scheme'] or ''}{LOOPBACK}:{port_map[int(match['port'])]}{match['rest'] or ''}"


class _Planner:
    """Accumulates the plan, one predictor (and its pods) at a time."""

    def __init__(
        self,
        volumes: Mapping[str, Path],
        scratch_dir: Path,
        allocate_port: Callable[[], int],
        programs: Programs,
        known_config_maps: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.volumes = volumes
        self.scratch_dir = scratch_dir
        self.allocate_port = allocate_port
        self.programs = programs
        self.known_config_maps = known_config_maps
        self.backends: list[BackendProcess] = []
        self.components: list[ComponentProcess] = []
        self.gateway_nodes: list[str] = []
        self.files: dict[Path, str] = {}
        self.folders: list[Path] = []

    def add_predictor(self, deployment: SeldonDeployment, predictor: Predictor) -> None:
        nodes = {node.name: node for node in predictor.graph.walk()}
        placed: set[str] = set()
        for pod_index, pod in enumerate(predictor.component_specs):
            pod_spec = pod.get("spec") or {}
            containers = list(pod_spec.get("containers") or ())
            pod_volumes = {str(v.get("name")): v for v in pod_spec.get("volumes") or ()}
            port_map: dict[int, int] = {}
            pending_backends = []
            for container in containers:
                name = str(container.get("name", ""))
                if name not in nodes and is_tfserving_container(container):
                    pending_backends.append(
                        self._backend(
                            deployment, predictor, pod_index, container, pod_volumes, port_map
                        )
                    )
            keys = []
            for container in containers:
                name = str(container.get("name", ""))
                if name in nodes:
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
            volume_dirs=self.volumes,
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
        pod_volumes: Mapping[str, Mapping[str, Any]],
        port_map: dict[int, int],
    ) -> BackendProcess:
        table = self._mounts(deployment, predictor, pod_index, container, pod_volumes)
        flags = read_tfserving_flags(container)
        rewritten: dict[str, str | None] = {
            k: (table.rewrite(v) if v is not None else None) for k, v in flags.flags.items()
        }
        for original in (flags.grpc_port, flags.rest_port):
            if original and original in port_map:
                raise PlanError(f"two containers of one pod both listen on port {original}")
        grpc_port = self.allocate_port()
        port_map[flags.grpc_port] = grpc_port
        rewritten["port"] = str(grpc_port)
        rest_port = None
        if flags.rest_port:
            rest_port = self.allocate_port()
            port_map[flags.rest_port] = rest_port
            rewritten["rest_api_port"] = str(rest_port)
        config_file = rewritten.get("model_config_file")
        config_text = read_config_text(config_file, self.files) if config_file else None
        words = [f"--{k}" if v is None else f"--{k}={v}" for k, v in rewritten.items()]
        return BackendProcess(
            name=f"{deployment.name}/{predictor.name}/{flags.container}",
            argv=(*self.programs.model_server, *words),
            grpc_port=grpc_port,
            rest_port=rest_port,
            models=model_names(rewritten, config_text),
            serves=(),
            model_config_file=Path(config_file) if config_file else None,
            readiness=readiness_probe(container, port_map),
        )

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
        table = self._mounts(deployment, predictor, pod_index, container, pod_volumes)
        env = {
            str(e["name"]): table.rewrite(str(e["value"]))
            for e in container.get("env") or ()
            if "name" in e and "value" in e
        }
        model_name = env.get("MODEL_NAME")
        if not model_name:
            raise PlanError(
                f"container {node.name!r} has no MODEL_NAME in its env (the s2i image contract "
                f"names the class to serve there)"
            )
        service_type = env.get("SERVICE_TYPE") or (node.type or "MODEL")
        parameters = _node_parameters(node, model_name, table, port_map)
        http_port, grpc_port, metrics_port = (self.allocate_port() for _ in range(3))
        key = endpoint_key(deployment.name, predictor.name, node.name)
        env.update(
            {
                "PREDICTIVE_UNIT_PARAMETERS": json.dumps([p.as_seldon_json() for p in parameters]),
                "PREDICTIVE_UNIT_ID": node.name,
                "PREDICTOR_ID": predictor.name,
                "SELDON_DEPLOYMENT_ID": deployment.name,
                "PREDICTIVE_UNIT_SERVICE_PORT": str(http_port),
                "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http_port),
                "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc_port),
                "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics_port),
                # the operator serves component metrics here (Seldon's own default is /metrics)
                "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
            }
        )
        argv = (
            *self.programs.microservice,
            model_name,
            "--service-type",
            service_type,
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(grpc_port),
            "--metrics-port",
            str(metrics_port),
        )
        transport: Literal["REST", "GRPC"] = (
            "GRPC" if node.endpoint is not None and node.endpoint.type.upper() == "GRPC" else "REST"
        )
        return ComponentProcess(
            key=key,
            argv=argv,
            env=env,
            endpoint=ComponentEndpoint(LOOPBACK, http_port, grpc_port, transport),
            metrics_port=metrics_port,
            parameters=parameters,
        )


def _node_parameters(
    node: GraphNode, model_name: str, table: MountTable, port_map: Mapping[int, int]
) -> tuple[Parameter, ...]:
    """The node's parameters with pod addresses and mounted paths made local.

    A TfServingModel that leaves its endpoints at their in-pod defaults gets them spelled out,
    so that it reaches the moved TF Serving of its own pod.
    """
    result = [
        dataclasses.replace(p, value=table.rewrite(rewrite_endpoint(p.value, port_map)))
        for p in node.parameters
    ]
    if model_name.rsplit(".", 1)[-1] == "TfServingModel" and port_map:
        given = {p.name for p in result}
        for name, default in TFSERVING_ENDPOINT_DEFAULTS.items():
            local = rewrite_endpoint(default, port_map)
            if name not in given and local != default:
                result.append(Parameter(name, "STRING", local))
    return tuple(result)
