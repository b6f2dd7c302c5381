"""One TF Serving container of a pod, planned as a local process.

Its flags keep their meaning with the pod's paths rewritten to local folders (`volumes.py`),
its model config copied where those paths are rewritten inside it too, and its ports moved to
free ones: the pod's other containers are told the new ports through `port_map`. Pure, like
the rest of the plan: ports come from an injected allocator, files are returned as text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seldon_tfserving.runner.bind_host import LOOPBACK, dial_host
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.model_uris import local_base_path
from seldon_tfserving.runner.probes import ReadinessProbe, readiness_probe
from seldon_tfserving.runner.programs import Programs
from seldon_tfserving.runner.tfserving_backend import read_backend, served_model_names
from seldon_tfserving.runner.volumes import MountTable, localised_model_config


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
    #: where it is reached (it listens on the run's host)
    host: str = LOOPBACK


@dataclass(frozen=True)
class BackendPod:
    """Where a TF Serving container stands: its pod, and what that pod's paths are here."""

    deployment: str
    predictor: str
    pod_index: int
    pod_volumes: Mapping[str, Mapping[str, Any]]
    #: the pod's volumes that are local folders (--volume, models)
    volume_dirs: Mapping[str, Path]
    #: the container's mounts, resolved to local paths
    mounts: MountTable
    #: a folder of this container's own, for the files the plan writes for it
    scratch: Path
    #: whether another pod of the predictor holds a TF Serving container of the same name
    name_shared_by_pods: bool = False


@dataclass(frozen=True)
class BackendPlanner:
    """What every backend of a run is planned with: its programs, ports, host and sources."""

    programs: Programs
    allocate_port: Callable[[], int]
    host: str
    known_config_maps: Mapping[str, Mapping[str, str]]
    model_uris: Mapping[str, Path]

    def plan(
        self,
        container: Mapping[str, Any],
        path: str,
        pod: BackendPod,
        port_map: dict[int, int],
        files: MutableMapping[Path, str],
    ) -> BackendProcess:
        """The container at manifest `path` as a process on free ports (recorded in
        `port_map`, original to local); the config files it needs are added to `files`."""
        server, models = read_backend(
            container,
            path,
            deployment=pod.deployment,
            pod_volumes=pod.pod_volumes,
            known_config_maps=self.known_config_maps,
            volume_dirs=pod.volume_dirs,
            model_uris=self.model_uris,
        )
        rewritten: dict[str, str | None] = {
            k: (pod.mounts.rewrite(v) if v is not None else None) for k, v in server.flags.items()
        }
        if server.model_base_path:
            base = local_base_path(server.model_base_path, self.model_uris)
            rewritten["model_base_path"] = base or rewritten["model_base_path"]
        copy = localised_model_config(
            rewritten.get("model_config_file"), pod.mounts, pod.scratch, files
        )
        if copy is not None:
            copied, text = copy
            files[copied] = text
            rewritten["model_config_file"] = str(copied)
        grpc_port, rest_port = self._move_ports(server.grpc_port, server.rest_port, port_map)
        rewritten["port"] = str(grpc_port)
        if rest_port is not None:
            rewritten["rest_api_port"] = str(rest_port)
        if self.programs.binds_host:
            rewritten["bind_address"] = self.host
        config_file = rewritten.get("model_config_file")
        names = served_model_names(server, models, config_file, files, deployment=pod.deployment)
        words = [f"--{k}" if v is None else f"--{k}={v}" for k, v in rewritten.items()]
        # one TF Serving container per pod, and the operator names each `tfserving`: a name
        # that two pods share is told apart by its pod, as the operator's Deployments are
        in_pod = f"pod{pod.pod_index}-" if pod.name_shared_by_pods else ""
        return BackendProcess(
            name=f"{pod.deployment}/{pod.predictor}/{in_pod}{server.name}",
            argv=(*self.programs.model_server, *words),
            grpc_port=grpc_port,
            rest_port=rest_port,
            models=names,
            serves=(),
            model_config_file=Path(config_file) if config_file else None,
            readiness=readiness_probe(container, port_map, dial_host(self.host)),
            host=dial_host(self.host),
        )

    def _move_ports(
        self, grpc_port: int, rest_port: int | None, port_map: dict[int, int]
    ) -> tuple[int, int | None]:
        """Free local ports for the container's gRPC and (if it has one) REST port."""
        for original in (grpc_port, rest_port):
            if original and original in port_map:
                raise PlanError(f"two containers of one pod both listen on port {original}")
        port_map[grpc_port] = local_grpc = self.allocate_port()
        if not rest_port:
            return local_grpc, None
        port_map[rest_port] = local_rest = self.allocate_port()
        return local_grpc, local_rest
