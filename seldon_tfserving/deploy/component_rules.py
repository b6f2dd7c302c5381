"""Rules for the pods a SeldonDeployment declares, and for the nodes that run our classes.

Pod rules are the ones Kubernetes applies when the operator creates the Deployments (images,
volume mounts, container names, extended resources). Class rules follow the convention in
`components.py`: a container's MODEL_NAME names our class, its SERVICE_TYPE agrees with the
node's type, and the node's parameters are exactly what the class's settings accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from seldon_tfserving.classes import SeldonClass
from seldon_tfserving.deploy import components
from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.semantics import containers_of, walk_graph

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_metadata(doc: Mapping[str, Any]) -> list[Finding]:
    """A valid metadata.name, as `kubectl apply` needs it (the apiVersion is the schema's
    concern: validate.py checks each version against its own)."""
    findings = []
    name = (doc.get("metadata") or {}).get("name")
    if not name:
        findings.append(Finding("metadata.name", "the deployment has no name", "set metadata.name"))
    elif not isinstance(name, str) or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        findings.append(
            Finding(
                "metadata.name",
                f"{name!r} is not a valid Kubernetes name",
                "use lower-case letters, digits and '-', starting and ending with a letter "
                "or digit",
            )
        )
    return findings


def check_pods(doc: Mapping[str, Any]) -> list[Finding]:
    """Kubernetes' pod rules over every componentSpec of every predictor."""
    findings: list[Finding] = []
    for p, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ()):
        for s, component_spec in enumerate(predictor.get("componentSpecs") or ()):
            path = f"spec.predictors[{p}].componentSpecs[{s}]"
            findings += _check_pod(component_spec.get("spec") or {}, f"{path}.spec")
            findings += _check_hpa(component_spec.get("hpaSpec"), f"{path}.hpaSpec")
    return findings


def _check_pod(pod: Mapping[str, Any], path: str) -> list[Finding]:
    findings = []
    volumes = {str(v.get("name")) for v in pod.get("volumes") or ()}
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for c, container in enumerate(pod.get(group) or ()):
            where = f"{path}.{group}[{c}]"
            name = str(container.get("name"))
            if not DNS_LABEL.match(name) or len(name) > 63:
                findings.append(
                    Finding(
                        f"{where}.name",
                        f"container name {name!r} is not a DNS-1123 label",
                        "use at most 63 lower-case letters, digits and '-' (graph node names "
                        "follow their containers' names)",
                    )
                )
            if name in names:
                findings.append(
                    Finding(
                        f"{where}.name",
                        f"duplicate container name {name!r} in one pod",
                        "rename one of them",
                    )
                )
            names.add(name)
            if not container.get("image"):
                findings.append(Finding(f"{where}.image", "container has no image", "set image"))
            for m, mount in enumerate(container.get("volumeMounts") or ()):
                if mount.get("name") not in volumes:
                    findings.append(
                        Finding(
                            f"{where}.volumeMounts[{m}].name",
                            f"volume {mount.get('name')!r} is mounted but not declared",
                            f"add a volume named {mount.get('name')!r} to {path}.volumes",
                        )
                    )
            findings += _check_extended_resources(container.get("resources") or {}, where)
    return findings


def _check_extended_resources(resources: Mapping[str, Any], path: str) -> list[Finding]:
    """Extended resources (nvidia.com/gpu): whole numbers, and requests equal to limits."""
    findings = []
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for kind, values in (("limits", limits), ("requests", requests)):
        for resource, value in values.items():
            if "/" not in resource or resource.startswith("kubernetes.io/"):
                continue
            if not re.fullmatch(r"\d+", str(value)):
                findings.append(
                    Finding(
                        f"{path}.resources.{kind}.{resource}",
                        f"{resource} must be a whole number, not {value!r}",
                        "request whole devices, e.g. 1",
                    )
                )
            elif kind == "requests" and resource in limits and str(limits[resource]) != str(value):
                findings.append(
                    Finding(
                        f"{path}.resources.requests.{resource}",
                        f"{resource} cannot be overcommitted: requests must equal limits",
                        f"set requests.{resource} to {limits[resource]} or leave it out",
                    )
                )
            elif kind == "requests" and resource not in limits:
                findings.append(
                    Finding(
                        f"{path}.resources.limits",
                        f"{resource} is requested but has no limit",
                        f"set limits.{resource}: {value}",
                    )
                )
    return findings


def _check_hpa(hpa: Mapping[str, Any] | None, path: str) -> list[Finding]:
    if not hpa:
        return []
    low, high = hpa.get("minReplicas", 1), hpa.get("maxReplicas", 0)
    if high < 1 or low > high:
        return [
            Finding(
                path,
                f"minReplicas {low} and maxReplicas {high} leave no valid replica count",
                "set 1 <= minReplicas <= maxReplicas",
            )
        ]
    return []


def check_our_classes(doc: Mapping[str, Any]) -> list[Finding]:
    """Every graph node whose container runs one of our classes gets that class's checks."""
    findings: list[Finding] = []
    for p, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ()):
        containers = containers_of(predictor)
        base = f"spec.predictors[{p}]"
        for node, node_path in walk_graph(predictor.get("graph") or {}, f"{base}.graph"):
            entry = containers.get(str(node.get("name")))
            if entry is not None:
                container, container_path = entry
                findings += _check_node_class(
                    node, node_path, container, f"{base}.{container_path}"
                )
    return findings


def _env_path(container: Mapping[str, Any], container_path: str, name: str) -> str:
    for index, entry in enumerate(container.get("env") or ()):
        if entry.get("name") == name:
            return f"{container_path}.env[{index}].value"
    return f"{container_path}.env"


def _check_node_class(
    node: Mapping[str, Any], path: str, container: Mapping[str, Any], container_path: str
) -> list[Finding]:
    env = components.container_env(container)
    model_name = env.get(components.MODEL_NAME_ENV)
    if model_name is None:
        return []
    component = components.component_named(model_name)
    if component is None:
        if not components.claims_our_package(model_name):
            return []  # someone else's class: not ours to judge
        return [
            Finding(
                _env_path(container, container_path, components.MODEL_NAME_ENV),
                f"{model_name!r} is not a class of seldon_tfserving",
                "use one of " + ", ".join(c.interface for c in components.COMPONENTS.values()),
            )
        ]
    findings = []
    service_type = env.get(components.SERVICE_TYPE_ENV)
    if service_type is not None and service_type != component.service_type:
        findings.append(
            Finding(
                _env_path(container, container_path, components.SERVICE_TYPE_ENV),
                f"{component.name} is a {component.service_type}, but SERVICE_TYPE is "
                f"{service_type!r}",
                f"set SERVICE_TYPE to {component.service_type}",
            )
        )
    node_type = node.get("type")
    if node_type is not None and node_type != component.service_type:
        findings.append(
            Finding(
                f"{path}.type",
                f"node {node.get('name')!r} runs {component.name}, a {component.service_type}, "
                f"but its type is {node_type}",
                f"set type: {component.service_type}",
            )
        )
    return findings + _check_class_parameters(node, path, component) + _check_branches(node, path)


#: Router parameters that state how many children the router chooses among.
BRANCH_COUNT_PARAMETERS = ("n_branches", "n_children")


def _check_branches(node: Mapping[str, Any], path: str) -> list[Finding]:
    """A router told it has N branches must have N children (it would route past the end)."""
    children = len(node.get("children") or ())
    findings = []
    for index, raw in enumerate(node.get("parameters") or ()):
        if raw.get("name") not in BRANCH_COUNT_PARAMETERS:
            continue
        try:
            count = int(str(raw.get("value")))
        except ValueError:
            continue  # reported by the parameter type rule
        if count != children:
            findings.append(
                Finding(
                    f"{path}.parameters[{index}].value",
                    f"{raw.get('name')} is {count} but node {node.get('name')!r} has "
                    f"{children} children",
                    f"set {raw.get('name')} to {children}, or add/remove children",
                )
            )
    return findings


def _check_class_parameters(
    node: Mapping[str, Any], path: str, component: SeldonClass
) -> list[Finding]:
    accepted = component.parameters()
    valid = ", ".join(sorted(accepted)) or "(none)"
    findings = []
    given: set[str] = set()
    for index, raw in enumerate(node.get("parameters") or ()):
        name, kind, value = str(raw["name"]), str(raw["type"]), str(raw["value"])
        given.add(name)
        where = f"{path}.parameters[{index}]"
        spec = accepted.get(name)
        if spec is None:
            findings.append(
                Finding(
                    f"{where}.name",
                    f"{component.name} does not accept parameter {name!r}; valid parameters: "
                    f"{valid}",
                    "rename it to one of the valid parameters, or remove it",
                )
            )
            continue
        if kind not in spec.seldon_types:
            findings.append(
                Finding(
                    f"{where}.type",
                    f"{component.name} parameter {name!r} is {'/'.join(spec.seldon_types)}, "
                    f"declared {kind}",
                    f"set type: {spec.seldon_types[0]}",
                )
            )
        if spec.choices and value not in spec.choices:
            findings.append(
                Finding(
                    f"{where}.value",
                    f"{component.name} parameter {name!r} must be one of "
                    f"{', '.join(spec.choices)}, not {value!r}",
                    "use one of " + ", ".join(spec.choices),
                )
            )
    for name, spec in sorted(accepted.items()):
        if spec.required and name not in given:
            findings.append(
                Finding(
                    f"{path}.parameters",
                    f"{component.name} needs parameter {name!r}",
                    f"add {{name: {name}, type: {spec.seldon_types[0]}, value: ...}}",
                )
            )
    return findings or _check_settings_build(node, path, component)


def _check_settings_build(
    node: Mapping[str, Any], path: str, component: SeldonClass
) -> list[Finding]:
    """Build the class's settings from the typed values, as the class does at start-up."""
    raw_parameters = list(node.get("parameters") or ())
    try:
        values = {
            str(p["name"]): components.parse_seldon_value(str(p["type"]), str(p["value"]))
            for p in raw_parameters
        }
    except ValueError:
        return []  # reported by the parameter type rule
    try:
        component.build_settings(values)
    except ValueError as error:
        parameter = getattr(error, "parameter", None)
        index = next((i for i, p in enumerate(raw_parameters) if p["name"] == parameter), None)
        where = f"{path}.parameters" + (f"[{index}].value" if index is not None else "")
        return [
            Finding(
                where,
                f"{component.name} would refuse to start: {error}",
                f"change {parameter!r} as the message says" if parameter else "fix the parameters",
            )
        ]
    return []
