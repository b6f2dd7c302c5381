"""Cross-checks between a TfServingModel node and the TF Serving container beside it.

A pod that starts cleanly can still serve nothing: TfServingModel pointed at a port TF Serving
does not listen on, a model name TF Serving does not serve, a version label its model config
does not define. These are caught here from the manifest alone (and the ConfigMaps in the same
file); the container itself is read by tfserving_container, as the local runner reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from seldon_tfserving.codec.model_server_config import ConfiguredModel
from seldon_tfserving.deploy import components
from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.semantics import walk_graph
from seldon_tfserving.deploy.tfserving_container import (
    ConfigMaps,
    ServedModels,
    TfServingContainer,
    config_maps,
    read_tfserving_container,
    served_models,
    tfserving_containers,
)

LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "[::1]")


@dataclass(frozen=True)
class _Server:
    """A TF Serving container of the pod and its models (None: not visible in the manifest)."""

    container: TfServingContainer
    models: ServedModels | None

    @property
    def grpc_port(self) -> int:
        return self.container.grpc_port

    @property
    def rest_port(self) -> int:
        return self.container.rest_port


def _servers_in_pod(
    pod: Mapping[str, Any], path: str, node_names: set[str], known_config_maps: ConfigMaps
) -> tuple[list[_Server], list[Finding]]:
    volumes = {str(v.get("name")): v for v in pod.get("volumes") or ()}
    servers: list[_Server] = []
    findings: list[Finding] = []
    for container_path, container in tfserving_containers(pod, path, node_names):
        server, read_findings = read_tfserving_container(container, container_path)
        findings += read_findings
        if server is None:
            continue
        models, model_findings = served_models(server, volumes, known_config_maps)
        findings += model_findings
        servers.append(_Server(server, models))
    return servers, findings


@dataclass(frozen=True)
class _PodReading:
    """One pod: what reading its TF Serving containers found, and its TfServingModel nodes."""

    findings: list[Finding]
    servers: list[_Server]
    #: (node, JSON path) of each graph node whose container in this pod runs TfServingModel
    model_nodes: list[tuple[Mapping[str, Any], str]]


def _read_pods(doc: Mapping[str, Any], context: list[Any]) -> Iterator[_PodReading]:
    known_config_maps = config_maps(context)
    for p, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ()):
        base = f"spec.predictors[{p}]"
        nodes = {
            str(node.get("name")): (node, path)
            for node, path in walk_graph(predictor.get("graph") or {}, f"{base}.graph")
        }
        for s, component_spec in enumerate(predictor.get("componentSpecs") or ()):
            pod = component_spec.get("spec") or {}
            pod_path = f"{base}.componentSpecs[{s}].spec"
            servers, server_findings = _servers_in_pod(pod, pod_path, set(nodes), known_config_maps)
            model_nodes = []
            for container in pod.get("containers") or ():
                env = components.container_env(container)
                component = components.component_named(env.get(components.MODEL_NAME_ENV, ""))
                if component is None or component.name != "TfServingModel":
                    continue
                entry = nodes.get(str(container.get("name")))
                if entry is not None:
                    model_nodes.append(entry)
            yield _PodReading(server_findings, servers, model_nodes)


def check_tfserving_pods(doc: Mapping[str, Any], context: list[Any]) -> list[Finding]:
    """TF Serving containers start, and TfServingModel nodes point at what they serve."""
    findings: list[Finding] = []
    for pod in _read_pods(doc, context):
        findings += pod.findings
        if pod.servers:
            for node, path in pod.model_nodes:
                findings += _check_model_node(node, path, pod.servers)
    return findings


@dataclass(frozen=True)
class ModelNodeTarget:
    """A TfServingModel node and the model it calls, as the TF Serving of its pod serves it."""

    node: Mapping[str, Any]
    path: str
    model: ConfiguredModel


def model_node_targets(doc: Mapping[str, Any], context: list[Any]) -> list[ModelNodeTarget]:
    """Each TfServingModel node whose model the manifest shows its pod's TF Serving serving."""
    targets = []
    for pod in _read_pods(doc, context):
        for node, path in pod.model_nodes:
            params = _parameters(node)
            if not pod.servers or "model_name" not in params:
                continue
            server, _ = _chosen_server(params, pod.servers, path)
            model = (server.models or {}).get(params["model_name"][1])
            if model is not None:
                targets.append(ModelNodeTarget(node, path, model))
    return targets


def _parameters(node: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    return {
        str(p.get("name")): (index, str(p.get("value")))
        for index, p in enumerate(node.get("parameters") or ())
    }


def _local_port(endpoint: str) -> int | None:
    """The port of a same-pod endpoint (`localhost:8500`, `http://localhost:8501`)."""
    parts = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
    if parts.hostname is None or f"{parts.hostname}" not in LOCAL_HOSTS + ("::1",):
        return None
    try:
        return parts.port
    except ValueError:
        return None


def _chosen_server(
    params: Mapping[str, tuple[int, str]], servers: list[_Server], path: str
) -> tuple[_Server, list[Finding]]:
    """The pod's TF Serving a node's endpoints point at (the first when they say nothing),
    and a finding for each endpoint on a port no TF Serving of the pod listens on."""
    findings = []
    server = servers[0]
    for name, flag, attribute in (
        ("grpc_endpoint", "--port", "grpc_port"),
        ("rest_endpoint", "--rest_api_port", "rest_port"),
    ):
        if name not in params:
            continue
        index, value = params[name]
        port = _local_port(value)
        if port is None:
            continue
        matching = [s for s in servers if getattr(s, attribute) == port]
        if matching:
            server = matching[0]
        else:
            ports = ", ".join(f"{flag}={getattr(s, attribute)}" for s in servers)
            findings.append(
                Finding(
                    f"{path}.parameters[{index}].value",
                    f"{name} {value!r}: no TF Serving container in this pod listens on port "
                    f"{port} ({ports}; 0 means off)",
                    f"point {name} at the TF Serving port, or set {flag}={port} on TF Serving",
                )
            )
    return server, findings


def _check_model_node(node: Mapping[str, Any], path: str, servers: list[_Server]) -> list[Finding]:
    params = _parameters(node)
    server, findings = _chosen_server(params, servers, path)
    models = server.models
    if models is None or "model_name" not in params:
        return findings
    index, model_name = params["model_name"]
    if model_name not in models:
        served = ", ".join(sorted(models)) or "none"
        findings.append(
            Finding(
                f"{path}.parameters[{index}].value",
                f"TF Serving in this pod does not serve model {model_name!r} (serves: {served})",
                "use a served model name, or add the model to TF Serving's config",
            )
        )
    elif "model_version" in params and models[model_name].pinned_versions is not None:
        version_index, version = params["model_version"]
        pinned = models[model_name].pinned_versions or frozenset()
        if version.strip().isdigit() and int(version) not in pinned:
            findings.append(
                Finding(
                    f"{path}.parameters[{version_index}].value",
                    f"TF Serving loads only versions {', '.join(map(str, sorted(pinned)))} of "
                    f"{model_name!r}, not {version}",
                    "pin a loaded version, or add it to model_version_policy { specific { } }",
                )
            )
    elif "version_label" in params:
        label_index, label = params["version_label"]
        labels = models[model_name].labels
        if label not in labels:
            findings.append(
                Finding(
                    f"{path}.parameters[{label_index}].value",
                    f"model {model_name!r} has no version label {label!r} in TF Serving's model "
                    f"config (labels: {', '.join(sorted(labels)) or 'none'})",
                    "add version_labels { key: '" + label + "' value: N } to the model config",
                )
            )
    return findings
