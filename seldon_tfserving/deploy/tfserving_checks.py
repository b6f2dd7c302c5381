"""Cross-checks between a TfServingModel node and the TF Serving container beside it.

A pod that starts cleanly can still serve nothing: TfServingModel pointed at a port TF Serving
does not listen on, a model name TF Serving does not serve, a version label its model config
does not define, a model config file on no mounted volume. These are caught here from the
manifest alone (and the ConfigMaps in the same file), reading TF Serving's own flags and its
ModelServerConfig text format.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from seldon_tfserving.deploy import components
from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.semantics import walk_graph

LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "[::1]")
DEFAULT_GRPC_PORT = 8500  # tensorflow_model_server --port default
#: model_server_config_pb2 names; a path under one of these is read by TF Serving directly
REMOTE_SCHEMES = ("gs://", "s3://", "hdfs://", "http://", "https://")


@dataclass
class TfServingContainer:
    """What a tensorflow_model_server container serves, read from its flags and config."""

    path: str
    flags: dict[str, str]
    mounts: dict[str, Mapping[str, Any]]
    #: model name -> version labels (None: unknown, the config file could not be read here)
    models: dict[str, set[str]] | None = field(default_factory=dict)
    #: model name -> the versions a `specific` version policy pins (absent: any version)
    pinned_versions: dict[str, set[int]] = field(default_factory=dict)

    @property
    def grpc_port(self) -> int:
        return int(self.flags.get("port", DEFAULT_GRPC_PORT))

    @property
    def rest_port(self) -> int:
        return int(self.flags.get("rest_api_port", 0))


def parse_flags(argv: list[str]) -> dict[str, str]:
    """`--name=value` and `--name value` flags, as tensorflow_model_server parses them."""
    flags: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = str(argv[index])
        if arg.startswith("--"):
            name, sep, value = arg[2:].partition("=")
            if not sep and index + 1 < len(argv) and not str(argv[index + 1]).startswith("--"):
                value = str(argv[index + 1])
                index += 1
            flags[name] = value if (sep or value) else "true"
        index += 1
    return flags


#: What the tensorflow/serving image's entrypoint puts before the container's args when the
#: container gives no command (later flags win, so the container's own flags override).
IMAGE_ENV_DEFAULTS = {"MODEL_NAME": "model", "MODEL_BASE_PATH": "/models"}


def server_flags(container: Mapping[str, Any]) -> dict[str, str]:
    """The flags tensorflow_model_server gets from this container (image entrypoint or not)."""
    command = [str(w) for w in container.get("command") or ()]
    args = [str(w) for w in container.get("args") or ()]
    if command:
        return parse_flags(command[1:] + args)
    env = {**IMAGE_ENV_DEFAULTS, **components.container_env(container)}
    entrypoint = [
        f"--port={DEFAULT_GRPC_PORT}",
        "--rest_api_port=8501",
        f"--model_name={env['MODEL_NAME']}",
        f"--model_base_path={env['MODEL_BASE_PATH']}/{env['MODEL_NAME']}",
    ]
    return parse_flags(entrypoint + args)


def is_tfserving(container: Mapping[str, Any]) -> bool:
    image = str(container.get("image", ""))
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    return "tensorflow/serving" in image or any("tensorflow_model_server" in a for a in argv)


def _configmaps(context: list[Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str((d.get("metadata") or {}).get("name")): d.get("data") or {}
        for d in context
        if isinstance(d, Mapping) and d.get("kind") == "ConfigMap"
    }


def _mount_for(path: str, mounts: dict[str, Mapping[str, Any]]) -> tuple[str, str] | None:
    """(volume name, path relative to the mount) for a file inside a mounted volume."""
    best: tuple[str, str] | None = None
    for mount_path, mount in mounts.items():
        root = mount_path.rstrip("/") or "/"
        if path == root or path.startswith(root.rstrip("/") + "/"):
            relative = posixpath.relpath(path, root)
            if best is None or len(root) > len(best[1]):
                best = (str(mount.get("name")), relative)
    return best


def _read_model_config(
    server: TfServingContainer,
    volumes: dict[str, Mapping[str, Any]],
    configmaps: dict[str, Mapping[str, Any]],
) -> list[Finding]:
    config_path = server.flags["model_config_file"]
    where = f"{server.path}.args"
    located = _mount_for(config_path, server.mounts)
    if located is None:
        server.models = None
        return [
            Finding(
                where,
                f"--model_config_file={config_path} is on no volume mounted in this container",
                "mount the volume (e.g. the ConfigMap holding models.config) at its directory",
            )
        ]
    volume = volumes.get(located[0]) or {}
    configmap_ref = volume.get("configMap")
    if not configmap_ref or configmap_ref.get("name") not in configmaps:
        server.models = None  # a PVC, or a ConfigMap applied elsewhere: not visible here
        return []
    key = located[1]
    for item in configmap_ref.get("items") or ():
        if item.get("path") == key:
            key = str(item.get("key"))
    data = configmaps[str(configmap_ref["name"])]
    if key not in data:
        return [
            Finding(
                where,
                f"--model_config_file={config_path}: ConfigMap {configmap_ref['name']!r} has no "
                f"key {key!r} (keys: {', '.join(sorted(data)) or 'none'})",
                "name the file after a key of the ConfigMap",
            )
        ]
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(str(data[key]), config)
    except text_format.ParseError as error:
        return [
            Finding(
                where,
                f"ConfigMap {configmap_ref['name']!r} key {key!r} is not a ModelServerConfig: "
                f"{error}",
                "write TF Serving's model_config_list text format",
            )
        ]
    server.models = {
        entry.name: set(entry.version_labels) for entry in config.model_config_list.config
    }
    server.pinned_versions = {
        entry.name: set(entry.model_version_policy.specific.versions)
        for entry in config.model_config_list.config
        if entry.model_version_policy.WhichOneof("policy_choice") == "specific"
    }
    if server.flags.get("allow_version_labels_for_unavailable_models") in ("true", "1"):
        return []
    findings = []
    for name, pinned in server.pinned_versions.items():
        for label, version in sorted(config_labels(config, name).items()):
            if version not in pinned:
                findings.append(
                    Finding(
                        where,
                        f"model {name!r}: label {label!r} points at version {version}, which "
                        f"the specific version policy does not load "
                        f"({', '.join(map(str, sorted(pinned)))}); TF Serving refuses the config",
                        f"add version {version} to the policy or point {label!r} at a loaded one",
                    )
                )
    return findings


def config_labels(config: Any, model_name: str) -> dict[str, int]:
    """label -> version for one model of a ModelServerConfig."""
    for entry in config.model_config_list.config:
        if entry.name == model_name:
            return dict(entry.version_labels)
    return {}


def _servers_in_pod(
    pod: Mapping[str, Any], path: str, configmaps: dict[str, Mapping[str, Any]]
) -> Iterator[tuple[TfServingContainer, list[Finding]]]:
    volumes = {str(v.get("name")): v for v in pod.get("volumes") or ()}
    for c, container in enumerate(pod.get("containers") or ()):
        if not is_tfserving(container):
            continue
        flags = server_flags(container)
        mounts = {str(m.get("mountPath")): m for m in container.get("volumeMounts") or ()}
        server = TfServingContainer(f"{path}.containers[{c}]", flags, mounts)
        findings: list[Finding] = []
        if "model_config_file" in flags:
            findings += _read_model_config(server, volumes, configmaps)
        elif "model_base_path" in flags:
            base = flags["model_base_path"]
            server.models = {flags.get("model_name", "default"): set()}
            if not base.startswith(REMOTE_SCHEMES) and _mount_for(base, mounts) is None:
                findings.append(
                    Finding(
                        f"{server.path}.args",
                        f"--model_base_path={base} is on no volume mounted in this container",
                        "mount the model volume at (a parent of) that path",
                    )
                )
        else:
            findings.append(
                Finding(
                    f"{server.path}.args",
                    "TF Serving needs --model_config_file or --model_base_path (it refuses to "
                    "start with neither)",
                    "add --model_name=NAME --model_base_path=/models/NAME",
                )
            )
        yield server, findings


def check_tfserving_pods(doc: Mapping[str, Any], context: list[Any]) -> list[Finding]:
    """TF Serving containers start, and TfServingModel nodes point at what they serve."""
    findings: list[Finding] = []
    configmaps = _configmaps(context)
    for p, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ()):
        base = f"spec.predictors[{p}]"
        nodes = {
            str(node.get("name")): (node, path)
            for node, path in walk_graph(predictor.get("graph") or {}, f"{base}.graph")
        }
        for s, component_spec in enumerate(predictor.get("componentSpecs") or ()):
            pod = component_spec.get("spec") or {}
            pod_path = f"{base}.componentSpecs[{s}].spec"
            servers = []
            for server, server_findings in _servers_in_pod(pod, pod_path, configmaps):
                servers.append(server)
                findings += server_findings
            for container in pod.get("containers") or ():
                env = components.container_env(container)
                component = components.component_named(env.get(components.MODEL_NAME_ENV, ""))
                if component is None or component.name != "TfServingModel":
                    continue
                entry = nodes.get(str(container.get("name")))
                if entry is not None and servers:
                    findings += _check_model_node(entry[0], entry[1], servers)
    return findings


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


def _check_model_node(
    node: Mapping[str, Any], path: str, servers: list[TfServingContainer]
) -> list[Finding]:
    params = _parameters(node)
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
    if server.models is None or "model_name" not in params:
        return findings
    index, model_name = params["model_name"]
    if model_name not in server.models:
        served = ", ".join(sorted(server.models)) or "none"
        findings.append(
            Finding(
                f"{path}.parameters[{index}].value",
                f"TF Serving in this pod does not serve model {model_name!r} (serves: {served})",
                "use a served model name, or add the model to TF Serving's config",
            )
        )
    elif "model_version" in params and model_name in server.pinned_versions:
        version_index, version = params["model_version"]
        pinned = server.pinned_versions[model_name]
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
        labels = server.models[model_name]
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
