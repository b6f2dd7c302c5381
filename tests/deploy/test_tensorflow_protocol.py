"""`protocol: tensorflow` rules: what cannot work anywhere is refused, what works only with our
local gateway is a warning whose fix says so.

Each variant starts from a TF-protocol graph of graphs/ (or a small document) and changes one
thing; the real CLI must name the path, the problem and the fix, exit 1 for every variant with
an error and 0 for every variant with warnings only.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema.protocols import Validator

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.findings import ERROR, WARNING, Finding, Severity
from seldon_tfserving.deploy.tensorflow_protocol import check_tensorflow_protocol
from seldon_tfserving.deploy.validate import validate_documents
from tests.deploy.manifests import deployment, load_graph, run_cli, write_docs
from tests.deploy.test_validate_refusals import container, graph, parameter, pod

Docs = list[dict[str, Any]]
TF_SERVING_IMAGE = "tensorflow/serving:2.20.0"


@dataclass(frozen=True)
class Variant:
    """One changed manifest and the one protocol finding it must get."""

    id: str
    graph: str
    change: Callable[[Docs], None]
    severity: Severity
    path: str
    message: str
    fix: str


def _foreign_router(docs: Docs) -> None:
    container(docs, "ab-router")["env"][0]["value"] = "mymodels.StickyRouter"


def _tf_serving_as_combiner(docs: Docs) -> None:
    combiner = container(docs, "ensemble")
    combiner.clear()
    combiner.update({"name": "ensemble", "image": TF_SERVING_IMAGE})


def _random_abtest_typed_router(docs: Docs) -> None:
    node = graph(docs)
    node["implementation"] = "RANDOM_ABTEST"
    node["parameters"] = [{"name": "ratioA", "type": "FLOAT", "value": "0.8"}]
    pod(docs)["containers"].remove(container(docs, "ab-router"))


def _engine_builtin(implementation: str, keep_container: bool = False) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        node = graph(docs)
        del node["type"]
        node["implementation"] = implementation
        node.pop("parameters", None)
        if not keep_container:  # with it, the executor still never calls it without a type
            pod(docs)["containers"].remove(pod(docs)["containers"][0])

    return change


def _foreign_model_class(docs: Docs) -> None:
    container(docs, "model-half-plus-three")["env"][0]["value"] = "mymodels.HalfPlusThree"


def _triton_child(docs: Docs) -> None:
    child = graph(docs)["children"][1]
    child.clear()
    child.update({"name": "model-half-plus-three", "implementation": "TRITON_SERVER"})
    child["modelUri"] = "gs://bucket/half_plus_three"
    pod(docs)["containers"].remove(container(docs, "model-half-plus-three"))


def _model_asked_to_route(docs: Docs) -> None:
    graph(docs)["children"][0]["methods"] = ["ROUTE"]


def _grpc_transport(docs: Docs) -> None:
    deployment(docs)["spec"]["transport"] = "grpc"


def _unpinned_child(docs: Docs) -> None:
    child = graph(docs)["children"][1]
    child["parameters"].remove(parameter(child, "version_label"))


def _no_readiness_probe(docs: Docs) -> None:
    del container(docs, "tfserving")["readinessProbe"]


def _feedback_method(docs: Docs) -> None:
    graph(docs)["children"][0]["methods"] = ["SEND_FEEDBACK"]


ROUTERS = "seldon_tfserving.ABTestRouter, seldon_tfserving.EpsilonGreedyRouter"
ERRORS = [
    Variant(
        "router-that-is-not-ours",
        "tf-ab-versions.yaml",
        _foreign_router,
        ERROR,
        "spec.predictors[0].graph.type",
        "POSTs /v1/models/<m>:route to ROUTER 'ab-router', which runs class "
        "'mymodels.StickyRouter': seldon-core-microservice serves Seldon's /route and "
        "/aggregate only (404)",
        f"env MODEL_NAME {ROUTERS}",
    ),
    Variant(
        "tf-serving-as-the-combiner",
        "tf-ensemble.yaml",
        _tf_serving_as_combiner,
        ERROR,
        "spec.predictors[0].graph.type",
        "POSTs /v1/models/<m>:aggregate to COMBINER 'ensemble', which runs TF Serving: TF "
        "Serving answers it 400 Malformed request",
        "seldon_tfserving.MeanCombiner",
    ),
    Variant(
        "random-abtest-typed-router",
        "tf-ab-versions.yaml",
        _random_abtest_typed_router,
        ERROR,
        "spec.predictors[0].graph.type",
        "node 'ab-router' is typed ROUTER, so the executor POSTs /v1/models/<m>:route",
        "remove `type: ROUTER`: the executor's own RANDOM_ABTEST then routes, over REST and gRPC",
    ),
    Variant(
        "simple-router-builtin",
        "tf-ab-versions.yaml",
        _engine_builtin("SIMPLE_ROUTER"),
        ERROR,
        "spec.predictors[0].graph.implementation",
        "so nothing is routed",
        "use implementation RANDOM_ABTEST",
    ),
    Variant(
        "model-class-that-is-not-ours",
        "tf-ensemble.yaml",
        _foreign_model_class,
        ERROR,
        "spec.predictors[0].graph.children[1].name",
        "node 'model-half-plus-three' runs class 'mymodels.HalfPlusThree' under "
        "seldon-core-microservice, which answers Seldon's protocol only",
        "or deploy the graph with protocol seldon",
    ),
    Variant(
        "our-model-asked-to-route",
        "tf-ensemble.yaml",
        _model_asked_to_route,
        ERROR,
        "spec.predictors[0].graph.children[0].methods",
        "POSTs /v1/models/<m>:route to ROUTER 'model-half-plus-two', which runs TfServingModel: "
        "a MODEL answers no :route",
        "seldon_tfserving.ABTestRouter",
    ),
    Variant(
        "v2-only-prepackaged-server",
        "tf-ensemble.yaml",
        _triton_child,
        ERROR,
        "spec.predictors[0].graph.children[1].implementation",
        "TRITON_SERVER has no image for protocol tensorflow in Seldon's predictor_servers",
        "deploy it with protocol v2",
    ),
]
WARNINGS = [
    Variant(
        "average-combiner-builtin",
        "tf-ensemble.yaml",
        _engine_builtin("AVERAGE_COMBINER"),
        WARNING,
        "spec.predictors[0].graph.implementation",
        "AVERAGE_COMBINER is no built-in of Seldon's executor under protocol tensorflow: it "
        "calls every child and answers with the first child's output, so nothing is averaged "
        "on a cluster",
        "`seldon-tfserving up` averages the children's predictions/outputs itself",
    ),
    Variant(
        "average-combiner-builtin-beside-our-combiner",
        "tf-ensemble.yaml",
        _engine_builtin("AVERAGE_COMBINER", keep_container=True),
        WARNING,
        "spec.predictors[0].graph.implementation",
        "AVERAGE_COMBINER is no built-in of Seldon's executor under protocol tensorflow",
        "use type: COMBINER with seldon_tfserving.MeanCombiner",
    ),
    Variant(
        "router-with-grpc-transport",
        "tf-ab-versions.yaml",
        _grpc_transport,
        WARNING,
        "spec.predictors[0].graph",
        "its TF gRPC client has no Route, so one gRPC request through this node makes the "
        "executor panic",
        "spec.transport grpc sends clients to gRPC; `seldon-tfserving up` serves gRPC",
    ),
    Variant(
        "model-node-pinning-no-version",
        "tf-ab-versions.yaml",
        _unpinned_child,
        WARNING,
        "spec.predictors[0].graph.children[1].parameters",
        "TF Serving serves versions 1, 2 and labels canary, stable of 'half_plus_two', but "
        "Seldon's executor has no /versions/<n> or /labels/<l> paths (404): on a cluster, REST "
        "requests through node 'model-canary', which pins no version, reach only the latest",
        "`seldon-tfserving up` serves /versions/<n> and /labels/<l> through the graph",
    ),
    Variant(
        "tf-serving-without-readiness-probe",
        "tf-ensemble.yaml",
        _no_readiness_probe,
        WARNING,
        "spec.predictors[0].componentSpecs[0].spec.containers[3].readinessProbe",
        "Seldon's executor is ready once it can dial each node's port (even with full health "
        "checks)",
        "`seldon-tfserving up` waits for every model to be AVAILABLE",
    ),
    Variant(
        "node-asking-for-feedback",
        "tf-ensemble.yaml",
        _feedback_method,
        WARNING,
        "spec.predictors[0].graph.children[0]",
        "sends no feedback to any component: on a cluster TfServingModel "
        "'model-half-plus-two' never gets the feedback its SEND_FEEDBACK method asks for",
        "`seldon-tfserving up` delivers feedback to it; on a cluster feedback reaches",
    ),
]


def changed(variant: Variant) -> Docs:
    docs = load_graph(variant.graph)
    variant.change(docs)
    return docs


@pytest.fixture(scope="module")
def validator() -> Validator:
    return schema.builtin_validator()


def findings_of(docs: Docs, validator: Validator) -> list[Finding]:
    return [f for report in validate_documents(docs, validator) for f in report.findings]


@pytest.mark.parametrize("variant", ERRORS + WARNINGS, ids=lambda v: v.id)
def test_variant_gets_its_finding_at_its_path(variant: Variant, validator: Validator) -> None:
    findings = findings_of(changed(variant), validator)
    matching = [f for f in findings if f.path == variant.path and variant.message in f.message]
    assert matching, "\n".join(f.located("variant") for f in findings)
    assert matching[0].severity == variant.severity
    assert variant.fix in matching[0].fix
    if variant.severity == WARNING:
        assert [f for f in findings if f.is_error] == []


@pytest.mark.parametrize("variant", ERRORS + WARNINGS, ids=lambda v: v.id)
def test_the_same_change_under_protocol_seldon_gets_no_protocol_finding(variant: Variant):
    docs = changed(variant)
    deployment(docs)["spec"]["protocol"] = "seldon"
    assert check_tensorflow_protocol(deployment(docs), docs) == []


def test_a_seldon_graph_switched_to_tensorflow_warns_like_its_tf_twin(validator: Validator):
    """The protocol alone decides: ab-versions.yaml under tensorflow is tf-ab-versions.yaml."""
    seldon_docs = load_graph("ab-versions.yaml")
    deployment(seldon_docs)["spec"]["protocol"] = "tensorflow"
    switched = findings_of(seldon_docs, validator)
    twin = findings_of(load_graph("tf-ab-versions.yaml"), validator)
    assert [(f.severity, f.path, f.message) for f in switched] == [
        (f.severity, f.path, f.message) for f in twin
    ]
    assert len(twin) == 1


def test_a_built_in_typed_router_is_called_in_its_container_when_it_has_one() -> None:
    """With a container of the node's name the executor's :route reaches it: ours answers."""
    docs = load_graph("tf-ab-versions.yaml")
    graph(docs)["implementation"] = "RANDOM_ABTEST"
    findings = check_tensorflow_protocol(deployment(docs), docs)
    assert [(f.severity, f.path) for f in findings] == [(WARNING, "spec.predictors[0].graph")]
    assert "ROUTER 'ab-router' (ABTestRouter) over REST only" in findings[0].message


def test_tf_serving_as_a_node_serving_several_versions_warns(validator: Validator) -> None:
    """Seldon's own shape (TF Serving is the node) cannot reach a version by path either."""
    docs = load_graph("tf-ab-versions.yaml")
    server = copy.deepcopy(container(docs, "tfserving"))
    server["name"] = "half-plus-two"
    pod(docs)["containers"] = [server]
    spec = deployment(docs)["spec"]["predictors"][0]
    spec["graph"] = {"name": "half-plus-two", "type": "MODEL"}
    findings = findings_of(docs, validator)
    assert [(f.severity, f.path) for f in findings] == [
        (WARNING, "spec.predictors[0].componentSpecs[0].spec.containers[0].args")
    ]
    assert findings[0].message.startswith(
        "node 'half-plus-two' is TF Serving serving versions 1, 2 and labels canary, stable of "
        "'half_plus_two'"
    )


@pytest.fixture(scope="module")
def cli_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the real CLI over the error variants, one over the warning variants."""
    folder = tmp_path_factory.mktemp("tf-variants")
    files = {v.id: write_docs(folder / f"{v.id}.yaml", changed(v)) for v in ERRORS + WARNINGS}
    return {
        "files": files,
        "errors": run_cli("validate", *(str(files[v.id]) for v in ERRORS)),
        "warnings": run_cli("validate", *(str(files[v.id]) for v in WARNINGS)),
    }


def _reported(result: subprocess.CompletedProcess[str], file: Path, variant: Variant) -> str:
    lines = result.stdout.splitlines()
    label = "warning: " if variant.severity == WARNING else ""
    for index, line in enumerate(lines):
        if line.startswith(str(file)) and f": {variant.path}: {label}" in line:
            if variant.message in line:
                return lines[index + 1]
    raise AssertionError(f"{variant.id} not reported:\n{result.stdout}")


def test_cli_refuses_every_error_variant_with_status_1(cli_verdicts: dict[str, Any]) -> None:
    result = cli_verdicts["errors"]
    assert result.returncode == 1
    assert f"{len(ERRORS)} of {len(ERRORS)} file(s) refused" in result.stderr
    for variant in ERRORS:
        fix = _reported(result, cli_verdicts["files"][variant.id], variant)
        assert fix.startswith("    fix: ") and variant.fix in fix


def test_cli_passes_every_warning_variant_with_status_0(cli_verdicts: dict[str, Any]) -> None:
    result = cli_verdicts["warnings"]
    assert result.returncode == 0, result.stdout + result.stderr
    for variant in WARNINGS:
        file = cli_verdicts["files"][variant.id]
        fix = _reported(result, file, variant)
        assert fix.startswith("    fix: ") and variant.fix in fix
        assert f"{file}: valid (" in result.stdout


def test_the_learning_routers_are_the_ones_whose_choices_follow_rewards() -> None:
    """FEEDBACK_LEARNERS (what the feedback warning names) agrees with the routers' policies:
    after rewarding branch 1 only, a learner routes differently; a fixed split does not."""
    import seldon_tfserving.routers as routers
    from seldon_tfserving.deploy.components import COMPONENTS, FEEDBACK_LEARNERS

    parameters = {"ABTestRouter": {"seed": 7}, "UCB1Router": {"n_branches": 2}}
    learners = set()
    for name in (n for n, c in COMPONENTS.items() if c.service_type == "ROUTER"):
        router = getattr(routers, name)(**parameters.get(name, {"n_branches": 2, "seed": 7}))
        untaught, taught = router.build_policy(), router.build_policy()
        for _ in range(50):
            taught.update(1, 1.0)
            taught.update(0, 0.0)
        if [untaught.choose() for _ in range(50)] != [taught.choose() for _ in range(50)]:
            learners.add(name)
    assert learners == FEEDBACK_LEARNERS
