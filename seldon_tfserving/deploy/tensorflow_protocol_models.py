"""What of TF Serving a client reaches through Seldon's executor under `protocol: tensorflow`.

The executor registers no `/versions/<n>` or `/labels/<l>` paths (REST answers 404; a gRPC
`model_spec.version` reaches the graph's first node only), and its readiness only dials each
node's port, even with full health checks (ready_checker.go). Both work with our local gateway,
so they are warnings: a model serving several versions through a node that pins none, and a TF
Serving container without a readinessProbe of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.codec.model_server_config import ConfiguredModel
from seldon_tfserving.deploy.findings import Finding, warning
from seldon_tfserving.deploy.semantics import walk_graph
from seldon_tfserving.deploy.tfserving_checks import model_node_targets
from seldon_tfserving.deploy.tfserving_container import (
    config_maps,
    is_tfserving,
    read_tfserving_container,
    served_models,
)

PIN_PARAMETERS = ("model_version", "version_label")
LOCAL_VERSIONS = "`seldon-tfserving up` serves /versions/<n> and /labels/<l> through the graph"


def check_models(doc: Mapping[str, Any], context: list[Any]) -> list[Finding]:
    """Version paths and readiness, for a document whose protocol is tensorflow."""
    findings = [
        _unpinned(target.path, str(target.node.get("name")), target.model)
        for target in model_node_targets(doc, context)
        if not _pins(target.node) and _several_versions(target.model)
    ]
    known_config_maps = config_maps(context)
    for pod in _tfserving_containers(doc):
        if pod.is_node:
            findings += _tfserving_node_versions(pod, known_config_maps)
        if not pod.container.get("readinessProbe"):
            findings.append(_no_readiness_probe(pod.path))
    return findings


@dataclass(frozen=True)
class _TfServingContainer:
    """A TF Serving container beside the graph's nodes, or one of them."""

    path: str
    container: Mapping[str, Any]
    pod: Mapping[str, Any]
    is_node: bool


def _tfserving_containers(doc: Mapping[str, Any]) -> Iterator[_TfServingContainer]:
    for p, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ()):
        names = {str(n.get("name")) for n, _ in walk_graph(predictor.get("graph") or {}, "")}
        for s, component_spec in enumerate(predictor.get("componentSpecs") or ()):
            pod = component_spec.get("spec") or {}
            for c, container in enumerate(pod.get("containers") or ()):
                if is_tfserving(container):
                    path = f"spec.predictors[{p}].componentSpecs[{s}].spec.containers[{c}]"
                    is_node = str(container.get("name")) in names
                    yield _TfServingContainer(path, container, pod, is_node)


def _pins(node: Mapping[str, Any]) -> bool:
    return any(str(p.get("name")) in PIN_PARAMETERS for p in node.get("parameters") or ())


def _several_versions(model: ConfiguredModel) -> str:
    """'versions 1, 2 and labels canary, stable', or '' when clients can ask for one version."""
    pinned = sorted(model.pinned_versions or ())
    parts = []
    if len(pinned) > 1:
        parts.append("versions " + ", ".join(map(str, pinned)))
    if model.labels:
        parts.append("labels " + ", ".join(sorted(model.labels)))
    return " and ".join(parts)


def _unpinned(path: str, name: str, model: ConfiguredModel) -> Finding:
    return warning(
        f"{path}.parameters",
        f"TF Serving serves {_several_versions(model)} of {model.name!r}, but Seldon's executor "
        "has no /versions/<n> or /labels/<l> paths (404): on a cluster, REST requests through "
        f"node {name!r}, which pins no version, reach only the latest",
        "pin the node (model_version or version_label; one node per version, under a router); "
        f"over gRPC a model_spec.version reaches it only as the graph's first node; "
        f"{LOCAL_VERSIONS}",
    )


def _tfserving_node_versions(
    node: _TfServingContainer, known_config_maps: Mapping[str, Mapping[str, str]]
) -> list[Finding]:
    """A TF Serving container that is itself a graph node, serving several versions."""
    server, _ = read_tfserving_container(node.container, node.path)  # its flags: not our rule
    if server is None:
        return []
    volumes = {str(v.get("name")): v for v in node.pod.get("volumes") or ()}
    models, _ = served_models(server, volumes, known_config_maps)
    return [
        _versions_of_a_tfserving_node(node.path, server.name, model)
        for model in (models or {}).values()
        if _several_versions(model)
    ]


def _versions_of_a_tfserving_node(path: str, name: str, model: ConfiguredModel) -> Finding:
    return warning(
        f"{path}.args",
        f"node {name!r} is TF Serving serving {_several_versions(model)} of {model.name!r}, but "
        "Seldon's executor has no /versions/<n> or /labels/<l> paths (404): on a cluster, REST "
        "requests reach only the latest version",
        "put a TfServingModel node pinned to each version (model_version or version_label) "
        f"in front of it; over gRPC a model_spec.version reaches the graph's first node; "
        f"{LOCAL_VERSIONS}",
    )


def _no_readiness_probe(path: str) -> Finding:
    return warning(
        f"{path}.readinessProbe",
        "under protocol tensorflow Seldon's executor is ready once it can dial each node's port "
        "(even with full health checks), whatever TF Serving has loaded: without a "
        "readinessProbe this pod takes traffic while its models still load",
        "add a readinessProbe, e.g. httpGet {path: /v1/models/<model>, port: <--rest_api_port>}; "
        "`seldon-tfserving up` waits for every model to be AVAILABLE",
    )
