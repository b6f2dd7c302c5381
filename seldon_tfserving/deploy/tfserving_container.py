"""One reading of a pod's TF Serving container, for `validate` and `up` alike.

What the container runs (the tensorflow/serving image's entrypoint, or the binary itself), the
flags `tensorflow_model_server` then gets (read as tfserving_flags reads them), the ports it
listens on, whether its readinessProbe can pass, and the models it serves (`--model_name`, or
the ModelServerConfig of a ConfigMap in the same file). Problems come back as Findings at
manifest paths: the validator prints them and the runner raises them as its PlanError, so the
two never read a container differently.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.codec.model_server_config import (
    ConfiguredModel,
    ModelServerConfigError,
    configured_models,
    parse_model_server_config,
)
from seldon_tfserving.deploy.components import container_env
from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.tfserving_flags import (
    DEFAULT_GRPC_PORT,
    MODEL_SERVER_BINARY,
    Word,
    bool_value,
    parse_flags,
    start_up_findings,
)

SERVING_IMAGE = "tensorflow/serving"
#: The image's ENTRYPOINT runs `tensorflow_model_server --port=8500 --rest_api_port=8501
#: --model_name=${MODEL_NAME} --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} "$@"`, the
#: container's command (after the script's name) and args being "$@"; the image sets this env.
IMAGE_ENTRYPOINT = "tf_serving_entrypoint.sh"
IMAGE_ENV_DEFAULTS = {"MODEL_NAME": "model", "MODEL_BASE_PATH": "/models"}
ENTRYPOINT_PORTS = (8500, 8501)
#: The binary's single model is called "default" unless --model_name says otherwise.
DEFAULT_MODEL_NAME = "default"
#: Base paths TF Serving reads itself, with no volume in the pod.
REMOTE_SCHEMES = ("gs://", "s3://", "hdfs://", "http://", "https://")
ConfigMaps = Mapping[str, Mapping[str, str]]
ServedModels = dict[str, ConfiguredModel]


@dataclass(frozen=True)
class TfServingContainer:
    """A TF Serving container as its binary would start: the flags it applies, its mounts.

    With `--model_config_file` set the single-model flags are left out: TF Serving ignores
    them then (model_servers/server.cc).
    """

    name: str
    path: str
    #: flag -> value as written (None: a bare boolean), in the order the binary applies them
    flags: Mapping[str, str | None]
    #: flag -> the manifest path of the word that set it
    flag_paths: Mapping[str, str]
    mounts: tuple[Mapping[str, Any], ...]

    def _int(self, flag: str, default: int) -> int:
        return int(self.flags.get(flag) or default)

    @property
    def grpc_port(self) -> int:
        return self._int("port", DEFAULT_GRPC_PORT)

    @property
    def rest_port(self) -> int:
        """0 when the REST API is off (the binary's default)."""
        return self._int("rest_api_port", 0)

    @property
    def listening_ports(self) -> tuple[int, ...]:
        """The TCP ports it serves on (REST is skipped when it asks for the gRPC port)."""
        ports = [self.grpc_port] if self.grpc_port else []
        if self.rest_port and self.rest_port != self.grpc_port:
            ports.append(self.rest_port)
        return tuple(ports)

    @property
    def model_config_file(self) -> str | None:
        return self.flags.get("model_config_file") or None

    @property
    def model_base_path(self) -> str | None:
        return self.flags.get("model_base_path") or None

    @property
    def model_name(self) -> str:
        value = self.flags.get("model_name", DEFAULT_MODEL_NAME)
        return DEFAULT_MODEL_NAME if value is None else value

    def enabled(self, flag: str) -> bool:
        """A boolean flag's effective value (false when absent)."""
        return flag in self.flags and bool_value(self.flags[flag])


def is_tfserving(container: Mapping[str, Any]) -> bool:
    """A tensorflow/serving image, or a container whose command line calls the model server."""
    image = str(container.get("image", ""))
    words = _strings(container.get("command")) + _strings(container.get("args"))
    return SERVING_IMAGE in image or any(MODEL_SERVER_BINARY in word for word in words)


def tfserving_containers(
    pod: Mapping[str, Any], pod_path: str, node_names: Collection[str]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, container) of each TF Serving container of a pod; a graph node's is the node's."""
    for index, container in enumerate(pod.get("containers") or ()):
        if str(container.get("name", "")) not in node_names and is_tfserving(container):
            yield f"{pod_path}.containers[{index}]", container


def config_maps(documents: Iterable[Any]) -> dict[str, dict[str, str]]:
    """name -> data of every ConfigMap among a file's documents (the pods may mount them)."""
    found: dict[str, dict[str, str]] = {}
    for doc in documents:
        if isinstance(doc, Mapping) and doc.get("kind") == "ConfigMap":
            name = str((doc.get("metadata") or {}).get("name", ""))
            found[name] = {str(k): str(v) for k, v in (doc.get("data") or {}).items()}
    return found


def read_tfserving_container(
    container: Mapping[str, Any], path: str
) -> tuple[TfServingContainer | None, list[Finding]]:
    """The container as the binary would start in it (None when its command line cannot be
    read from the manifest), and every reason it would not start or not serve as written."""
    words, findings = _command_line(container, path)
    if words is None:
        return None, findings
    parsed = parse_flags(words)
    flags = dict(parsed.values)
    if flags.get("model_config_file"):
        flags.pop("model_name", None)
        flags.pop("model_base_path", None)
    server = TfServingContainer(
        str(container.get("name", "")),
        path,
        flags,
        parsed.paths,
        tuple(container.get("volumeMounts") or ()),
    )
    findings += parsed.findings + start_up_findings(flags, parsed.paths, f"{path}.args")
    findings += _model_source_findings(server) + _probe_findings(container, server)
    return server, findings


def _strings(words: Any) -> list[str]:
    return [str(word) for word in words or ()]


def _words(container: Mapping[str, Any], path: str, field: str) -> list[Word]:
    """The words of `command` or `args`, each with its manifest path."""
    texts = _strings(container.get(field))
    return [Word(text, f"{path}.{field}[{index}]") for index, text in enumerate(texts)]


def _command_line(
    container: Mapping[str, Any], path: str
) -> tuple[list[Word] | None, list[Finding]]:
    """The words after the binary's name, as the pod starts it; None if they are unknowable."""
    command = _strings(container.get("command"))
    args = _words(container, path, "args")
    image = str(container.get("image", ""))
    if command:
        program = posixpath.basename(command[0])
        if program == MODEL_SERVER_BINARY:
            return _words(container, path, "command")[1:] + args, []
        if program == IMAGE_ENTRYPOINT:
            script_args = _words(container, path, "command")[1:]
            return _entrypoint_words(container, path) + script_args + args, []
        return None, [
            Finding(
                f"{path}.command[0]",
                f"TF Serving container runs {command[0]!r}, so the flags {MODEL_SERVER_BINARY} "
                f"gets cannot be read from the manifest",
                f"make {MODEL_SERVER_BINARY} (or the image's {IMAGE_ENTRYPOINT}) the command, "
                f"with --flag=value args",
            )
        ]
    if SERVING_IMAGE in image:
        return _entrypoint_words(container, path) + args, []
    if args and posixpath.basename(args[0].text) == MODEL_SERVER_BINARY:
        return args[1:], []  # an image without an entrypoint runs its args
    return None, [
        Finding(
            f"{path}.image",
            f"the entrypoint of image {image!r} is not known here, so the flags "
            f"{MODEL_SERVER_BINARY} gets cannot be read from the manifest",
            f"set command: [{MODEL_SERVER_BINARY}] and pass --flag=value args",
        )
    ]


def _entrypoint_words(container: Mapping[str, Any], path: str) -> list[Word]:
    env = {**IMAGE_ENV_DEFAULTS, **container_env(container)}
    grpc, rest = ENTRYPOINT_PORTS
    texts = (
        f"--port={grpc}",
        f"--rest_api_port={rest}",
        f"--model_name={env['MODEL_NAME']}",
        f"--model_base_path={env['MODEL_BASE_PATH']}/{env['MODEL_NAME']}",
    )
    return [Word(text, f"{path}.image") for text in texts]


def mount_holding(
    mounts: Iterable[Mapping[str, Any]], path: str
) -> tuple[Mapping[str, Any], str] | None:
    """The volumeMount holding `path` (the deepest), and the path's place inside its volume."""
    best: tuple[Mapping[str, Any], str] | None = None
    best_depth = -1
    for mount in mounts:
        root = str(mount.get("mountPath", "")).rstrip("/") or "/"
        if (path == root or path.startswith(root.rstrip("/") + "/")) and len(root) > best_depth:
            inside = posixpath.join(str(mount.get("subPath") or ""), posixpath.relpath(path, root))
            best, best_depth = (mount, posixpath.normpath(inside)), len(root)
    return best


def _model_source_findings(server: TfServingContainer) -> list[Finding]:
    where = f"{server.path}.args"
    if server.model_config_file is not None:
        if mount_holding(server.mounts, server.model_config_file) is None:
            return [
                Finding(
                    where,
                    f"--model_config_file={server.model_config_file} is on no volume mounted "
                    f"in this container",
                    "mount the volume (e.g. the ConfigMap holding models.config) at its directory",
                )
            ]
        return []
    base = server.model_base_path
    if base is None:
        return []  # one of start_up_findings
    if not base.startswith(REMOTE_SCHEMES) and mount_holding(server.mounts, base) is None:
        return [
            Finding(
                where,
                f"--model_base_path={base} is on no volume mounted in this container",
                "mount the model volume at (a parent of) that path",
            )
        ]
    return []


def _probe_findings(container: Mapping[str, Any], server: TfServingContainer) -> list[Finding]:
    """A readinessProbe on a port TF Serving does not serve never passes: the pod never
    takes traffic."""
    probe = container.get("readinessProbe") or {}
    kind = next((k for k in ("httpGet", "tcpSocket", "grpc") if k in probe), None)
    if kind is None:
        return []
    where = f"{server.path}.readinessProbe.{kind}.port"
    port = (probe[kind] or {}).get("port")
    if isinstance(port, str) and not port.isdigit():
        named = {p.get("name"): p.get("containerPort") for p in container.get("ports") or ()}
        if port not in named:
            return [
                Finding(
                    where,
                    f"readinessProbe names port {port!r}, not declared in the container's ports",
                    "declare the port under ports, or give its number",
                )
            ]
        port = named[port]
    try:
        number = int(port)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return [Finding(where, f"readinessProbe port {port!r} is not a port", "give a number")]
    if number not in server.listening_ports:
        listening = ", ".join(str(p) for p in server.listening_ports) or "none"
        return [
            Finding(
                where,
                f"readinessProbe asks port {number}, where TF Serving does not listen "
                f"(its ports: {listening})",
                "probe --rest_api_port (httpGet) or --port (tcpSocket)",
            )
        ]
    return []


def served_models(
    server: TfServingContainer,
    pod_volumes: Mapping[str, Mapping[str, Any]],
    known_config_maps: ConfigMaps,
    *,
    unseen_volumes: Collection[str] = (),
) -> tuple[ServedModels | None, list[Finding]]:
    """name -> model TF Serving serves, read from the manifest; None when the model config
    lies where the manifest does not show it (a PVC, a ConfigMap applied elsewhere, or one of
    `unseen_volumes`, whose content comes from elsewhere)."""
    config_path = server.model_config_file
    if config_path is None:
        if server.model_base_path is None:
            return None, []
        name = server.model_name
        return {name: ConfiguredModel(name, server.model_base_path, {}, None)}, []
    located = mount_holding(server.mounts, config_path)
    if located is None:
        return None, []
    mount, inside = located
    volume_name = str(mount.get("name"))
    source = (pod_volumes.get(volume_name) or {}).get("configMap") or {}
    map_name = str(source.get("name"))
    if volume_name in unseen_volumes or map_name not in known_config_maps:
        return None, []
    where = f"{server.path}.args"
    key = inside
    items = source.get("items")
    if items:
        projected = {str(i.get("path") or i.get("key")): str(i.get("key")) for i in items}
        if inside not in projected:
            return None, [
                Finding(
                    where,
                    f"--model_config_file={config_path}: volume {volume_name!r} projects only "
                    f"{', '.join(sorted(projected))} of ConfigMap {map_name!r}, not {inside!r}",
                    "list the file under the volume's items, or name one of its paths",
                )
            ]
        key = projected[inside]
    data = known_config_maps[map_name]
    if key not in data:
        return None, [
            Finding(
                where,
                f"--model_config_file={config_path}: ConfigMap {map_name!r} has no key {key!r} "
                f"(keys: {', '.join(sorted(data)) or 'none'})",
                "name the file after a key of the ConfigMap",
            )
        ]
    return read_model_config(server, data[key], f"ConfigMap {map_name!r} key {key!r}")


def read_model_config(
    server: TfServingContainer, text: str, source: str
) -> tuple[ServedModels | None, list[Finding]]:
    """The models of a ModelServerConfig text, and what makes TF Serving refuse it."""
    where = f"{server.path}.args"
    try:
        config = parse_model_server_config(text)
    except ModelServerConfigError as error:
        return None, [
            Finding(
                where,
                f"{source} is not a ModelServerConfig: {error}",
                "write TF Serving's model_config_list text format",
            )
        ]
    models: ServedModels = {}
    findings = []
    for model in configured_models(config):
        if model.name in models:
            findings.append(
                Finding(
                    where,
                    f"{source} lists model {model.name!r} twice; TF Serving refuses the config",
                    "keep one config { } entry per model name",
                )
            )
        models[model.name] = model
    if server.enabled("allow_version_labels_for_unavailable_models"):
        return models, findings
    for model in models.values():
        pinned = model.pinned_versions
        for label, version in sorted(model.labels.items()):
            if pinned is not None and version not in pinned:
                findings.append(
                    Finding(
                        where,
                        f"model {model.name!r}: label {label!r} points at version {version}, "
                        f"which the specific version policy does not load "
                        f"({', '.join(map(str, sorted(pinned)))}); TF Serving refuses the config",
                        f"add version {version} to the policy or point {label!r} at a loaded one",
                    )
                )
    return models, findings
