"""The rules Seldon Core's operator and executor enforce beyond the CRD schema.

The webhook rules follow seldon-core v1.18 `seldondeployment_webhook.go`
(ValidateSeldonDeployment, checkPredictiveUnits, checkTraffic); the graph rules are the ones
the executor fails on at run time (unique node names, known enum values, routers and
combiners with children, parameters that parse). Rules about our own classes live in
`component_rules.py`. Input is a document that already passed the schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from seldon_tfserving.deploy import traffic
from seldon_tfserving.deploy.components import parse_seldon_value
from seldon_tfserving.deploy.findings import Finding, child_path
from seldon_tfserving.deploy.model import PARAMETER_TYPES

NODE_TYPES = ("MODEL", "ROUTER", "COMBINER", "TRANSFORMER", "OUTPUT_TRANSFORMER", "UNKNOWN_TYPE")
BUILTIN_IMPLEMENTATIONS = (
    "UNKNOWN_IMPLEMENTATION",
    "SIMPLE_MODEL",
    "SIMPLE_ROUTER",
    "RANDOM_ABTEST",
    "AVERAGE_COMBINER",
)
#: Seldon's prepackaged servers (the default `predictor_servers` of seldon-config).
PREPACKAGED_SERVERS = (
    "SKLEARN_SERVER",
    "XGBOOST_SERVER",
    "TENSORFLOW_SERVER",
    "MLFLOW_SERVER",
    "TRITON_SERVER",
    "HUGGINGFACE_SERVER",
    "TEMPO_SERVER",
)
IMPLEMENTATIONS = BUILTIN_IMPLEMENTATIONS + PREPACKAGED_SERVERS
#: The prepackaged servers the webhook refuses under protocol tensorflow.
WEBHOOK_NON_TF_SERVERS = ("SKLEARN_SERVER", "XGBOOST_SERVER", "MLFLOW_SERVER", "HUGGINGFACE_SERVER")
METHODS = ("TRANSFORM_INPUT", "TRANSFORM_OUTPUT", "ROUTE", "AGGREGATE", "SEND_FEEDBACK")
ENDPOINT_TYPES = ("REST", "GRPC")
PROTOCOLS = ("seldon", "tensorflow", "kfserving", "v2")
TRANSPORTS = ("rest", "grpc")
SERVER_TYPES = ("rpc", "kafka")
LOGGER_MODES = ("all", "request", "response")
KAFKA_ENVS = ("KAFKA_BROKER", "KAFKA_INPUT_TOPIC", "KAFKA_OUTPUT_TOPIC")
NO_ENGINE_ANNOTATION = "seldon.io/no-engine"
ROUTER_IMPLEMENTATIONS = ("SIMPLE_ROUTER", "RANDOM_ABTEST")
COMBINER_IMPLEMENTATIONS = ("AVERAGE_COMBINER",)


def one_of(values: tuple[str, ...]) -> str:
    return "use one of " + ", ".join(values)


def walk_graph(node: Mapping[str, Any], path: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every node of a graph with its JSON path, parents before children."""
    yield node, path
    for index, child in enumerate(node.get("children") or ()):
        yield from walk_graph(child, child_path(path, "children", index))


def containers_of(predictor: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], str]]:
    """Container name -> (container, JSON path) over every componentSpec of a predictor."""
    found: dict[str, tuple[Mapping[str, Any], str]] = {}
    for s, spec in enumerate(predictor.get("componentSpecs") or ()):
        for c, container in enumerate((spec.get("spec") or {}).get("containers") or ()):
            path = f"componentSpecs[{s}].spec.containers[{c}]"
            found.setdefault(str(container.get("name")), (container, path))
    return found


def check_deployment(doc: Mapping[str, Any]) -> list[Finding]:
    """Every operator/executor rule over one SeldonDeployment document."""
    spec: Mapping[str, Any] = doc.get("spec") or {}
    findings = _check_spec_fields(spec)
    predictors = list(spec.get("predictors") or ())
    if not predictors:
        findings.append(
            Finding(
                "spec.predictors",
                "Graph contains no predictors",
                "add at least one predictor with a graph",
            )
        )
    names: set[str] = set()
    for index, predictor in enumerate(predictors):
        path = f"spec.predictors[{index}]"
        if predictor.get("name") in names:
            findings.append(
                Finding(
                    f"{path}.name",
                    f"Duplicate predictor name {predictor.get('name')!r}",
                    "give every predictor a different name",
                )
            )
        names.add(str(predictor.get("name")))
        findings += _check_predictor(spec, predictor, path)
    findings += traffic.check_transports(spec, predictors)
    findings += traffic.check_traffic(predictors)
    return findings


def _check_spec_fields(spec: Mapping[str, Any]) -> list[Finding]:
    findings = []
    for key, allowed in (
        ("protocol", PROTOCOLS),
        ("transport", TRANSPORTS),
        ("serverType", SERVER_TYPES),
    ):
        value = spec.get(key)
        if value and value not in allowed:
            findings.append(Finding(f"spec.{key}", f"Invalid {key} {value!r}", one_of(allowed)))
    if spec.get("serverType") == "kafka":
        for index, predictor in enumerate(spec.get("predictors") or ()):
            env = {e.get("name") for e in (predictor.get("svcOrchSpec") or {}).get("env") or ()}
            missing = [name for name in KAFKA_ENVS if name not in env]
            if missing:
                findings.append(
                    Finding(
                        f"spec.predictors[{index}].svcOrchSpec.env",
                        "For kafka please supply svcOrchSpec envs " + ", ".join(KAFKA_ENVS),
                        "add env " + ", ".join(missing),
                    )
                )
    return findings


def _check_predictor(
    spec: Mapping[str, Any], predictor: Mapping[str, Any], path: str
) -> list[Finding]:
    findings: list[Finding] = []
    graph = predictor.get("graph") or {}
    nodes = list(walk_graph(graph, f"{path}.graph"))
    if NO_ENGINE_ANNOTATION in (predictor.get("annotations") or {}) and len(nodes) > 1:
        findings.append(
            Finding(
                f"{path}.annotations",
                "Running without engine only valid for single element graphs",
                f"remove the {NO_ENGINE_ANNOTATION} annotation",
            )
        )
    containers = containers_of(predictor)
    seen: dict[str, str] = {}
    for node, node_path in nodes:
        name = str(node.get("name", ""))
        if name in seen:
            findings.append(
                Finding(
                    f"{node_path}.name",
                    f"duplicate graph node name {name!r} (also at {seen[name]}): the executor "
                    "addresses nodes and their containers by name",
                    "give every node of the graph a different name",
                )
            )
        seen.setdefault(name, node_path)
        findings += _check_node(spec, node, node_path, containers, path)
    return findings


def _check_node(
    spec: Mapping[str, Any],
    node: Mapping[str, Any],
    path: str,
    containers: Mapping[str, tuple[Mapping[str, Any], str]],
    predictor_path: str,
) -> list[Finding]:
    findings: list[Finding] = []
    name = str(node.get("name", ""))
    if not name:
        findings.append(Finding(f"{path}.name", "empty node name", "name the node"))
    node_type = node.get("type")
    implementation = node.get("implementation")
    if node_type is not None and node_type not in NODE_TYPES:
        findings.append(Finding(f"{path}.type", f"unknown type {node_type!r}", one_of(NODE_TYPES)))
    if implementation is not None and implementation not in IMPLEMENTATIONS:
        findings.append(
            Finding(
                f"{path}.implementation",
                f"unknown implementation {implementation!r}",
                one_of(IMPLEMENTATIONS) + ", or leave it out and name a container after the node",
            )
        )
    for index, method in enumerate(node.get("methods") or ()):
        if method not in METHODS:
            findings.append(
                Finding(f"{path}.methods[{index}]", f"unknown method {method!r}", one_of(METHODS))
            )
    if implementation in (None, "UNKNOWN_IMPLEMENTATION"):
        if name and name not in containers:
            findings.append(
                Finding(
                    f"{path}.name",
                    f"Can't find container for Predictive Unit {name!r}",
                    f"add a container named {name!r} to {predictor_path}.componentSpecs[]"
                    ".spec.containers (containers now: "
                    f"{', '.join(sorted(containers)) or 'none'}), or set `implementation` to a "
                    "prepackaged server",
                )
            )
        if node_type == "UNKNOWN_TYPE" and not node.get("methods"):
            findings.append(
                Finding(
                    f"{path}.type",
                    "Predictive Unit has no implementation methods defined",
                    "change to a known type or add the methods it defines",
                )
            )
    elif implementation in PREPACKAGED_SERVERS:
        # The webhook lets HUGGINGFACE_SERVER load from the Hub without a modelUri.
        if not node.get("modelUri") and implementation != "HUGGINGFACE_SERVER":
            findings.append(
                Finding(
                    f"{path}.modelUri",
                    "Predictive unit modelUri required when using standalone servers",
                    "set modelUri to the model's storage location (gs://, s3://, pvc://...)",
                )
            )
        if spec.get("protocol") == "tensorflow" and implementation in WEBHOOK_NON_TF_SERVERS:
            findings.append(
                Finding(
                    f"{path}.implementation",
                    f"Prepackaged server does not handle tensorflow protocol {implementation}",
                    "use protocol seldon or v2 for this server",
                )
            )
    findings += _check_children(node, path)
    findings += _check_endpoint_and_logger(node, path)
    findings += _check_parameters(node, path)
    return findings


def _check_children(node: Mapping[str, Any], path: str) -> list[Finding]:
    children = list(node.get("children") or ())
    node_type = node.get("type")
    implementation = node.get("implementation")
    is_router = node_type == "ROUTER" or implementation in ROUTER_IMPLEMENTATIONS
    is_combiner = node_type == "COMBINER" or implementation in COMBINER_IMPLEMENTATIONS
    if (is_router or is_combiner) and len(children) < 2:
        role = "router" if is_router else "combiner"
        verb = "chooses among" if is_router else "combines"
        return [
            Finding(
                f"{path}.children",
                f"{role} {node.get('name')!r} has {len(children)} child(ren); a {role} {verb} "
                "at least two",
                f"add another child under {path}.children, or remove the {role} and put its "
                "child in its place",
            )
        ]
    if implementation == "RANDOM_ABTEST" and len(children) != 2:
        return [
            Finding(
                f"{path}.children",
                f"RANDOM_ABTEST routes between exactly two children, found {len(children)}",
                "keep two children, or use a router class of ours for more",
            )
        ]
    return []


def _check_endpoint_and_logger(node: Mapping[str, Any], path: str) -> list[Finding]:
    findings = []
    endpoint = node.get("endpoint") or {}
    if endpoint.get("type") and endpoint["type"] not in ENDPOINT_TYPES:
        findings.append(
            Finding(
                f"{path}.endpoint.type",
                f"unknown endpoint type {endpoint['type']!r}",
                one_of(ENDPOINT_TYPES),
            )
        )
    logger = node.get("logger")
    if logger is not None:
        mode = logger.get("mode", "")
        if not mode:
            findings.append(
                Finding(f"{path}.logger.mode", "No logger mode specified", one_of(LOGGER_MODES))
            )
        elif mode not in LOGGER_MODES:
            findings.append(
                Finding(
                    f"{path}.logger.mode", f"unknown logger mode {mode!r}", one_of(LOGGER_MODES)
                )
            )
    return findings


def _check_parameters(node: Mapping[str, Any], path: str) -> list[Finding]:
    findings = []
    names: set[str] = set()
    for index, raw in enumerate(node.get("parameters") or ()):
        where = f"{path}.parameters[{index}]"
        name, kind, value = str(raw["name"]), str(raw["type"]), str(raw["value"])
        if name in names:
            findings.append(
                Finding(
                    f"{where}.name",
                    f"parameter {name!r} given twice",
                    "keep one entry per parameter name",
                )
            )
        names.add(name)
        if kind not in PARAMETER_TYPES:
            findings.append(
                Finding(
                    f"{where}.type", f"unknown parameter type {kind!r}", one_of(PARAMETER_TYPES)
                )
            )
            continue
        try:
            parse_seldon_value(kind, value)
        except ValueError:
            findings.append(
                Finding(
                    f"{where}.value",
                    f"{name}: {value!r} does not parse as {kind} (Seldon refuses it: "
                    "MICROSERVICE_BAD_PARAMETER)",
                    _parse_fix(kind),
                )
            )
    if node.get("implementation") == "RANDOM_ABTEST" and "ratioA" not in names:
        findings.append(
            Finding(
                f"{path}.parameters",
                "RANDOM_ABTEST needs parameter ratioA (FLOAT, share of traffic to child 0)",
                "add {name: ratioA, type: FLOAT, value: '0.5'}",
            )
        )
    return findings


def _parse_fix(parameter_type: str) -> str:
    return {
        "INT": "write a whole number such as '3', or declare the type it is",
        "FLOAT": "write a number such as '0.5', or declare the type it is",
        "DOUBLE": "write a number such as '0.5', or declare the type it is",
        "BOOL": "write true or false (or yes/no, 1/0), or declare the type it is",
    }.get(parameter_type, "declare the type the value is")
