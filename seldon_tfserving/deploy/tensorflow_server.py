"""`implementation: TENSORFLOW_SERVER`, expanded into the pods Seldon's operator builds.

A pure function of the document (seldon-core v1.18.2: defaulting in `defaults.go`, then
`addTFServerContainer`, `SetUriParamsForTFServingProxyContainer` and the storage initializer):

* protocol `tensorflow`: the node's container (the user's, or a new one) is TF Serving itself,
  on the node's ports, `--model_name=<node> --model_base_path=/mnt/models`; of a container the
  user wrote, only a missing image, args or ports are filled.
* any other protocol: the node's container runs the `protocols.seldon` image (for us, our
  wrapper: TfServingModel) with the user's parameters, then `rest_endpoint`
  http://0.0.0.0:2001 and `grpc_endpoint` 0.0.0.0:2000 unless the user gave either, then
  `model_name=<node>` (Seldon's parameter parsing keeps the last value of a name); beside it a
  `tfserving` container on gRPC 2000 / REST 2001.
* `modelUri` is copied into `/mnt/models` by an init container.

`validate` checks the result as a hand-written pod and `up` runs it; a finding about a part
the operator added is moved to the graph node that caused it (`Expansion.relocate`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from seldon_tfserving.deploy.findings import Finding, warning
from seldon_tfserving.deploy.operator_defaults import (
    MODEL_MOUNT_PATH,
    NodePorts,
    add_container_service,
    node_env,
    node_ports,
    parameters_json,
    set_env,
)
from seldon_tfserving.deploy.predictor_servers import (
    OUR_IMAGES,
    TENSORFLOW_SERVER,
    TensorflowServerImages,
)
from seldon_tfserving.deploy.semantics import walk_graph
from seldon_tfserving.deploy.storage_initializer import (
    PVC_PREFIX,
    PVC_SOURCE_VOLUME,
    ModelSource,
    inject_storage_initializer,
    parse_pvc_uri,
)
from seldon_tfserving.deploy.tensorflow_server_parameters import (
    TFSERVING_GRPC_PORT,
    TFSERVING_REST_PORT,
    proxy_parameter_findings,
    proxy_parameters,
    unused_model_name,
)

TFSERVING_CONTAINER = "tfserving"


@dataclass(frozen=True)
class Added:
    """A part of the document the operator added (a path prefix), for the node at `node_path`."""

    prefix: str
    node_path: str
    what: str

    def holds(self, path: str) -> bool:
        return path == self.prefix or path.startswith((self.prefix + ".", self.prefix + "["))


@dataclass(frozen=True)
class Expansion:
    """A SeldonDeployment with its TENSORFLOW_SERVER nodes as the operator runs them."""

    #: the document as its pods run (the input itself when it has no such node)
    document: Mapping[str, Any]
    #: what the expansion itself finds (errors: the operator would build a pod that fails)
    findings: tuple[Finding, ...] = ()
    model_sources: tuple[ModelSource, ...] = ()
    added: tuple[Added, ...] = ()

    def relocate(self, findings: Iterable[Finding]) -> list[Finding]:
        """Findings about what the operator added, moved to the node that made it add them."""
        moved = []
        for finding in findings:
            part = next((a for a in sorted(self.added, key=_depth) if a.holds(finding.path)), None)
            if part is None:
                moved.append(finding)
                continue
            moved.append(
                Finding(
                    part.node_path,
                    f"{finding.message} (in {part.what})",
                    finding.fix,
                    finding.severity,
                )
            )
        return moved


def _depth(added: Added) -> int:
    return -len(added.prefix)


def tensorflow_server_nodes(doc: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any], str]]:
    """(predictor index, node, JSON path) of every TENSORFLOW_SERVER node."""
    found = []
    for p, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ()):
        for node, path in walk_graph(predictor.get("graph") or {}, f"spec.predictors[{p}].graph"):
            if node.get("implementation") == TENSORFLOW_SERVER:
                found.append((p, node, path))
    return found


def tfserving_container(
    name: str, node: str, grpc_port: int, rest_port: int, image: str
) -> dict[str, Any]:
    """createTensorflowServingContainer: TF Serving on two unnamed ports, serving /mnt/models."""
    return {
        "name": name,
        "image": image,
        "args": [
            f"--port={grpc_port}",
            f"--rest_api_port={rest_port}",
            f"--model_name={node}",
            f"--model_base_path={MODEL_MOUNT_PATH}",
        ],
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"containerPort": grpc_port, "protocol": "TCP"},
            {"containerPort": rest_port, "protocol": "TCP"},
        ],
    }


def _fill_missing(container: dict[str, Any], prototype: Mapping[str, Any]) -> None:
    """Of a TF Serving container the user wrote, the operator fills only these, if empty."""
    for key in ("image", "args", "ports"):
        if not container.get(key):
            container[key] = copy.deepcopy(prototype[key])


@dataclass
class _Expander:
    """Expands one document's TENSORFLOW_SERVER nodes, node by node, in graph order."""

    doc: dict[str, Any]
    images: TensorflowServerImages
    ports: Mapping[tuple[int, str], NodePorts]
    findings: list[Finding] = field(default_factory=list)
    sources: list[ModelSource] = field(default_factory=list)
    added: list[Added] = field(default_factory=list)
    #: (predictor, pod) -> the node whose model the pod's tfserving container serves
    tfserving_owner: dict[tuple[int, int], str] = field(default_factory=dict)

    @property
    def protocol(self) -> str:
        return str((self.doc.get("spec") or {}).get("protocol") or "seldon")

    def expand(self, p: int, node: dict[str, Any], path: str) -> None:
        predictor = self.doc["spec"]["predictors"][p]
        name = str(node.get("name", ""))
        s, container = self._node_container(p, predictor, name, path)
        pod = predictor["componentSpecs"][s].setdefault("spec", {})
        pod_path = f"spec.predictors[{p}].componentSpecs[{s}].spec"
        ports = self.ports[(p, name)]
        self._graph_defaults(node, ports)
        user_parameters = list(node.get("parameters") or ())
        if self.protocol != "tensorflow" and not container.get("image"):
            container["image"] = self.images.node_image(self.protocol) or ""
        add_container_service(container, ports)
        set_env(
            container,
            node_env(
                deployment=str((self.doc.get("metadata") or {}).get("name") or ""),
                predictor=str(predictor.get("name", "")),
                predictor_labels=predictor.get("labels") or {},
                container=name,
                image=str(container.get("image") or ""),
                ports=ports,
                parameters=parameters_json(user_parameters) if user_parameters else None,
                has_model_uri=bool(node.get("modelUri")),
            ),
        )
        if self.protocol == "tensorflow":
            server = container
            prototype = tfserving_container(
                name, name, ports.grpc, ports.http, self.images.tensorflow.reference
            )
            _fill_missing(server, prototype)
            self.findings += unused_model_name(name, path, user_parameters)
        else:
            found = self._proxy(p, s, pod, pod_path, node, path, container, user_parameters)
            if found is None:
                return
            server = found
        self._model(p, s, pod, pod_path, node, path, server)

    def _node_container(
        self, p: int, predictor: dict[str, Any], name: str, path: str
    ) -> tuple[int, dict[str, Any]]:
        """The node's container, or the one defaulting adds to the predictor's first pod."""
        specs = predictor.get("componentSpecs") or []
        predictor["componentSpecs"] = specs
        for s, component_spec in enumerate(specs):
            for written in (component_spec.get("spec") or {}).get("containers") or ():
                if written.get("name") == name:
                    return s, cast(dict[str, Any], written)
        base = f"spec.predictors[{p}].componentSpecs"
        if not specs:
            specs.append({"spec": {"containers": []}})
            self.added.append(Added(f"{base}[0]", path, f"the pod the operator makes for {name!r}"))
        pod = specs[0].setdefault("spec", {})
        containers = pod.setdefault("containers", [])
        container: dict[str, Any] = {"name": name}
        containers.append(container)
        where = f"{base}[0].spec.containers[{len(containers) - 1}]"
        self.added.append(Added(where, path, f"container {name!r} the operator adds for the node"))
        return 0, container

    @staticmethod
    def _graph_defaults(node: dict[str, Any], ports: NodePorts) -> None:
        node["type"] = "MODEL"
        endpoint = dict(node.get("endpoint") or {})
        endpoint.update(httpPort=ports.http, grpcPort=ports.grpc, service_port=ports.service_port)
        node["endpoint"] = endpoint

    def _proxy(
        self,
        p: int,
        s: int,
        pod: dict[str, Any],
        pod_path: str,
        node: dict[str, Any],
        path: str,
        container: dict[str, Any],
        user_parameters: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any] | None:
        """The node's container as the proxy, and the pod's tfserving container beside it."""
        name = str(node.get("name", ""))
        image = self.images.node_image(self.protocol)
        if image is None:
            self.findings.append(
                Finding(
                    f"{path}.implementation",
                    f"TENSORFLOW_SERVER has no image for protocol {self.protocol} in the "
                    "operator's predictor_servers (only seldon and tensorflow): it would build "
                    f"container {name!r} without an image, which never starts",
                    "use protocol seldon or tensorflow for TENSORFLOW_SERVER",
                )
            )
            return None
        written = container.get("image")
        if written and written != image:
            self.findings.append(
                warning(
                    f"{path}.name",
                    f"the operator replaces image {written!r} of container {name!r} with "
                    f"{image!r} (predictor_servers' protocols.seldon) for TENSORFLOW_SERVER",
                    "leave the image out, or drop `implementation` and run your own container",
                )
            )
        container["image"] = image
        env_names = {str(e.get("name")) for e in container.get("env") or ()}
        image_env = [
            {"name": k, "value": v}
            for k, v in self.images.seldon_image_env.items()
            if k not in env_names
        ]
        container["env"] = [*image_env, *(container.get("env") or ())]
        parameters = proxy_parameters(user_parameters, name)
        node["parameters"] = parameters
        appended = ", ".join(str(p.get("name")) for p in parameters[len(user_parameters) :])
        self.added += [
            Added(
                f"{path}.parameters[{i}]",
                f"{path}.parameters",
                f"{appended}, which the operator appends",
            )
            for i in range(len(user_parameters), len(parameters))
        ]
        set_env(container, [("PREDICTIVE_UNIT_PARAMETERS", parameters_json(parameters))])
        self.findings += proxy_parameter_findings(name, path, user_parameters)
        owner = self.tfserving_owner.get((p, s))
        if owner is not None:
            self.findings.append(
                Finding(
                    path,
                    f"TENSORFLOW_SERVER nodes {owner!r} and {name!r} are in one pod: the operator "
                    f"gives it one {TFSERVING_CONTAINER!r} container, which serves {owner!r} "
                    f"only, and one storage initializer, so {name!r} finds no model",
                    f"give {name!r} a componentSpec of its own (a container named {name!r})",
                )
            )
            return None
        self.tfserving_owner[(p, s)] = name
        containers = pod.setdefault("containers", [])
        prototype = tfserving_container(
            TFSERVING_CONTAINER,
            name,
            TFSERVING_GRPC_PORT,
            TFSERVING_REST_PORT,
            self.images.tensorflow.reference,
        )
        for existing in containers:
            if existing.get("name") == TFSERVING_CONTAINER:
                _fill_missing(existing, prototype)
                return cast(dict[str, Any], existing)
        containers.append(prototype)
        self.added.append(
            Added(
                f"{pod_path}.containers[{len(containers) - 1}]",
                path,
                f"container {TFSERVING_CONTAINER!r} the operator adds beside {name!r}",
            )
        )
        return prototype

    def _model(
        self,
        p: int,
        s: int,
        pod: dict[str, Any],
        pod_path: str,
        node: Mapping[str, Any],
        path: str,
        server: dict[str, Any],
    ) -> None:
        """The storage initializer for the node's modelUri, and the pod's service account."""
        name = str(node.get("name", ""))
        initializers = len(pod.get("initContainers") or ())
        volumes = len(pod.get("volumes") or ())
        injected = inject_storage_initializer(
            pod,
            server,
            node,
            image=self.images.storage_initializer,
            env_secret_ref=node.get("envSecretRefName"),
        )
        if node.get("serviceAccountName"):
            pod["serviceAccountName"] = node["serviceAccountName"]
        if injected is None:
            return
        what = f"the storage initializer the operator adds for {name!r}"
        self.added += [
            Added(f"{pod_path}.initContainers[{i}]", path, what)
            for i in range(initializers, len(pod.get("initContainers") or ()))
        ] + [
            Added(f"{pod_path}.volumes[{i}]", path, what)
            for i in range(volumes, len(pod.get("volumes") or ()))
        ]
        uri = str(node.get("modelUri"))
        claim, claim_path = parse_pvc_uri(uri) if uri.startswith(PVC_PREFIX) else (None, "")
        self.sources.append(ModelSource(p, s, name, path, uri, injected[0], claim, claim_path))
        sources = [v for v in pod.get("volumes") or () if v.get("name") == PVC_SOURCE_VOLUME]
        if len(sources) > 1:
            self.findings.append(
                Finding(
                    f"{path}.modelUri",
                    f"a second pvc:// model in one pod: the operator declares volume "
                    f"{PVC_SOURCE_VOLUME!r} again, and Kubernetes refuses a pod with two "
                    "volumes of one name",
                    f"give {name!r} a componentSpec of its own",
                )
            )


def expand_tensorflow_servers(
    doc: Mapping[str, Any], images: TensorflowServerImages = OUR_IMAGES
) -> Expansion:
    """The document with every TENSORFLOW_SERVER node's pod as the operator builds it."""
    nodes = tensorflow_server_nodes(doc)
    if not nodes:
        return Expansion(doc)
    expanded: dict[str, Any] = copy.deepcopy(dict(doc))
    expander = _Expander(expanded, images, node_ports(doc.get("spec") or {}))
    for p, node, path in tensorflow_server_nodes(expanded):
        expander.expand(p, cast(dict[str, Any], node), path)
    return Expansion(
        expanded,
        tuple(expander.findings),
        tuple(expander.sources),
        tuple(expander.added),
    )
