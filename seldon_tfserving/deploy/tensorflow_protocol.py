"""What works under `spec.protocol: tensorflow`: on a cluster, with Seldon's executor, and locally.

Under this protocol Seldon's executor (seldon-core v1.18 `executor/`) speaks TF Serving's REST
and gRPC API to every node: `POST /v1/models/<m>:predict` to models and transformers, `:route`
to routers and `:aggregate` to combiners (REST only: its TF gRPC client panics on both), and no
feedback to any component. So a node that nothing can answer there is an error; a node that
works with our local gateway (`seldon-tfserving up`) but not fully behind the executor is a
warning, whose fix says which is which. Version paths and readiness are in
`tensorflow_protocol_models.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.classes import SeldonClass
from seldon_tfserving.deploy import components, tensorflow_protocol_models
from seldon_tfserving.deploy.findings import Finding, warning
from seldon_tfserving.deploy.semantics import PREPACKAGED_SERVERS, containers_of, walk_graph
from seldon_tfserving.deploy.tfserving_container import is_tfserving

TENSORFLOW = "tensorflow"
#: The one graph unit Seldon's executor implements itself under every protocol.
EXECUTOR_ROUTER = "RANDOM_ABTEST"
#: Built-ins of Seldon's old Java engine: the Go executor calls every child and answers with
#: the first child's output (predictor_process.go route -1, aggregate cmsg[0]).
ENGINE_ONLY_BUILTINS = {"AVERAGE_COMBINER": "averaged", "SIMPLE_ROUTER": "routed"}
#: Prepackaged servers with no `tensorflow` image in seldon-config's predictor_servers (they
#: speak v2 only); SKLEARN/XGBOOST/MLFLOW/HUGGINGFACE are the webhook's own rule (semantics.py).
V2_ONLY_SERVERS = ("TRITON_SERVER", "TEMPO_SERVER")
EXPECTED_CALL = {"ROUTER": ":route", "COMBINER": ":aggregate"}


@dataclass(frozen=True)
class _Runner:
    """What answers the executor's calls to one graph node, as the manifest shows it."""

    #: how messages name it: "ThompsonSamplingRouter", "TF Serving", "class 'my.Model'"...
    description: str
    ours: SeldonClass | None = None
    implementation: str | None = None
    #: another class under seldon-core-microservice (MODEL_NAME env, not TF Serving)
    foreign_class: bool = False
    tfserving: bool = False


def check_tensorflow_protocol(doc: Mapping[str, Any], context: list[Any]) -> list[Finding]:
    """The protocol's rules for one SeldonDeployment; nothing unless it says tensorflow."""
    spec: Mapping[str, Any] = doc.get("spec") or {}
    if spec.get("protocol") != TENSORFLOW:
        return []
    findings: list[Finding] = []
    for p, predictor in enumerate(spec.get("predictors") or ()):
        containers = containers_of(predictor)
        base = f"spec.predictors[{p}].graph"
        for node, path in walk_graph(predictor.get("graph") or {}, base):
            runner = _runner_of(node, containers)
            if runner is not None:
                findings += _node_rules(node, path, runner, str(spec.get("transport") or ""))
    return findings + tensorflow_protocol_models.check_models(doc, context)


def _runner_of(
    node: Mapping[str, Any], containers: Mapping[str, tuple[Mapping[str, Any], str]]
) -> _Runner | None:
    """None when the node has neither implementation nor container (the webhook's finding).

    A prepackaged server runs in the node's container whatever its image; a built-in
    implementation with a container of the node's name is called there like any component.
    """
    implementation = node.get("implementation")
    has_implementation = implementation not in (None, "UNKNOWN_IMPLEMENTATION")
    entry = containers.get(str(node.get("name", "")))
    if has_implementation and (entry is None or implementation in PREPACKAGED_SERVERS):
        return _Runner(f"implementation {implementation}", implementation=str(implementation))
    if entry is None:
        return None
    container = entry[0]
    model_name = components.container_env(container).get(components.MODEL_NAME_ENV)
    ours = components.component_named(model_name) if model_name else None
    if ours is not None:
        return _Runner(ours.name, ours=ours)
    if is_tfserving(container):
        return _Runner("TF Serving", tfserving=True)
    if model_name is not None:
        return _Runner(f"class {model_name!r}", foreign_class=True)
    return _Runner(f"image {container.get('image')!r}")


def _role(node: Mapping[str, Any]) -> str | None:
    """ROUTER or COMBINER when the executor calls the node's `:route` or `:aggregate`."""
    methods = set(node.get("methods") or ())
    if node.get("type") == "ROUTER" or "ROUTE" in methods:
        return "ROUTER"
    if node.get("type") == "COMBINER" or "AGGREGATE" in methods:
        return "COMBINER"
    return None


def _predicts(node: Mapping[str, Any]) -> bool:
    """The executor POSTs `/v1/models/<m>:predict` to models and transformers alike."""
    methods = set(node.get("methods") or ())
    return node.get("type") in ("MODEL", "TRANSFORMER", "OUTPUT_TRANSFORMER") or bool(
        methods & {"TRANSFORM_INPUT", "TRANSFORM_OUTPUT"}
    )


def _node_rules(
    node: Mapping[str, Any], path: str, runner: _Runner, transport: str
) -> list[Finding]:
    role = _role(node)
    findings = []
    if role is not None:
        findings += _branching_rules(node, path, runner, role, transport)
    elif node.get("implementation") in ENGINE_ONLY_BUILTINS:  # container or not: never called
        findings.append(_engine_only_builtin(path, str(node.get("implementation"))))
    if runner.implementation in V2_ONLY_SERVERS:
        findings.append(
            Finding(
                f"{path}.implementation",
                f"{runner.implementation} has no image for protocol tensorflow in Seldon's "
                "predictor_servers (it speaks the v2 protocol only): nothing in its pod answers "
                "the executor's POST /v1/models/<m>:predict",
                "deploy it with protocol v2, or serve a TF model with TENSORFLOW_SERVER or "
                "TfServingModel beside TF Serving",
            )
        )
    if runner.foreign_class and _predicts(node):
        findings.append(
            Finding(
                f"{path}.name",
                f"node {node.get('name')!r} runs {runner.description} under "
                "seldon-core-microservice, which answers Seldon's protocol only: under protocol "
                "tensorflow the executor's POST /v1/models/<m>:predict to it gets 404, and gRPC "
                "tensorflow.serving.PredictionService is unimplemented there",
                "serve this step with TF Serving (a tensorflow/serving container or "
                "implementation TENSORFLOW_SERVER) or TfServingModel, or deploy the graph with "
                "protocol seldon",
            )
        )
    return findings + _feedback_rules(node, path, runner)


def _branching_rules(
    node: Mapping[str, Any], path: str, runner: _Runner, role: str, transport: str
) -> list[Finding]:
    """Routers and combiners: ours answer over REST on a cluster; nothing else does."""
    name = node.get("name")
    call = EXPECTED_CALL[role]
    if runner.ours is not None and runner.ours.service_type == role:
        rpc = "Route" if role == "ROUTER" else "Combine"
        clients = "; spec.transport grpc sends clients to gRPC" if transport == "grpc" else ""
        return [
            warning(
                path,
                f"Seldon's executor reaches {role} {name!r} ({runner.ours.name}) over REST "
                f"only under protocol tensorflow: its TF gRPC client has no {rpc}, so one gRPC "
                "request through this node makes the executor panic",
                "on a cluster send requests over REST (POST /v1/models/<m>:predict)"
                f"{clients}; `seldon-tfserving up` serves gRPC through it as well",
            )
        ]
    if runner.implementation == EXECUTOR_ROUTER and role == "ROUTER":
        return [
            Finding(
                f"{path}.type",
                f"node {name!r} is typed ROUTER, so the executor POSTs /v1/models/<m>:route to "
                f"a server the node does not have instead of running its built-in "
                f"{EXECUTOR_ROUTER}",
                f"remove `type: ROUTER`: the executor's own {EXECUTOR_ROUTER} then routes, over "
                "REST and gRPC",
            )
        ]
    if runner.ours is not None:
        if node.get("type") == role:
            return []  # the node's type against its class: component_rules' finding
        answer = f"a {runner.ours.service_type} answers no {call}"
    elif runner.tfserving:
        answer = "TF Serving answers it 400 Malformed request"
    elif runner.foreign_class:
        answer = "seldon-core-microservice serves Seldon's /route and /aggregate only (404)"
    elif runner.implementation in PREPACKAGED_SERVERS:
        answer = "a prepackaged model server has no such verb"
    elif runner.implementation is not None:
        answer = "the executor has no server to send it to"
    else:
        answer = "only our classes answer that verb"
    return [
        Finding(
            f"{path}.type" if node.get("type") == role else f"{path}.methods",
            f"under protocol tensorflow Seldon's executor POSTs /v1/models/<m>{call} to "
            f"{role} {name!r}, which runs {runner.description}: {answer}",
            _branching_fix(role),
        )
    ]


def _branching_fix(role: str) -> str:
    classes = [c.interface for c in components.COMPONENTS.values() if c.service_type == role]
    fix = "run one of our classes in the node's container (env MODEL_NAME " + ", ".join(classes)
    if role == "ROUTER":
        return fix + f"), or drop `type` and use implementation {EXECUTOR_ROUTER}"
    return fix + "), or remove the combiner (the executor then answers with the first child)"


def _engine_only_builtin(path: str, implementation: str) -> Finding:
    verb = ENGINE_ONLY_BUILTINS[implementation]
    message = (
        f"{implementation} is no built-in of Seldon's executor under protocol tensorflow: it "
        f"calls every child and answers with the first child's output, so nothing is {verb}"
    )
    if implementation == "AVERAGE_COMBINER":
        # the local gateway runs it as the old engine did, under either protocol
        return warning(
            f"{path}.implementation",
            message + " on a cluster",
            "use type: COMBINER with seldon_tfserving.MeanCombiner in a container named after "
            "it; `seldon-tfserving up` averages the children's predictions/outputs itself",
        )
    return Finding(
        f"{path}.implementation",
        message,
        f"use implementation {EXECUTOR_ROUTER}, or type: ROUTER with one of our routers",
    )


def _feedback_rules(node: Mapping[str, Any], path: str, runner: _Runner) -> list[Finding]:
    """Feedback is answered by the executor itself under this protocol (rest/client.go)."""
    learner = runner.ours is not None and runner.ours.name in components.FEEDBACK_LEARNERS
    asks = "SEND_FEEDBACK" in (node.get("methods") or ())
    if not (learner or asks):
        return []
    what = f"{runner.description} {node.get('name')!r}"
    if learner:
        consequence = "routes by its prior but never learns"
        fix = (
            "`seldon-tfserving up` delivers feedback to it, with the routing that was taken; "
            "on a cluster a router that learns needs protocol seldon"
        )
    else:
        consequence = "never gets the feedback its SEND_FEEDBACK method asks for"
        fix = (
            "`seldon-tfserving up` delivers feedback to it; on a cluster feedback reaches "
            "components under protocol seldon only"
        )
    return [
        warning(
            path,
            "under protocol tensorflow Seldon's executor answers POST /api/v1.0/feedback itself "
            f"and sends no feedback to any component: on a cluster {what} {consequence}",
            fix,
        )
    ]
