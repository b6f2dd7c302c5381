"""Broken variants of the shipped graphs, one defect each, are refused with the right message.

Each variant starts from a graph that validates, changes one thing a user plausibly gets
wrong, and expects the real CLI to name the file, the JSON path, the problem and a fix, and
to exit with status 1.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.manifests import REAL_CRD, deployment, load_graph, run_cli, write_docs

Docs = list[dict[str, Any]]


def graph(docs: Docs, predictor: int = 0) -> dict[str, Any]:
    return deployment(docs)["spec"]["predictors"][predictor]["graph"]


def pod(docs: Docs, predictor: int = 0) -> dict[str, Any]:
    return deployment(docs)["spec"]["predictors"][predictor]["componentSpecs"][0]["spec"]


def container(docs: Docs, name: str, predictor: int = 0) -> dict[str, Any]:
    return next(c for c in pod(docs, predictor)["containers"] if c["name"] == name)


def parameter(node: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in node["parameters"] if p["name"] == name)


@dataclass(frozen=True)
class Defect:
    """One broken variant: which graph, what is changed, and what the validator must say."""

    id: str
    graph: str
    change: Callable[[Docs], None]
    path: str
    message: str
    fix: str = ""


def _duplicate_node_name(docs: Docs) -> None:
    graph(docs)["children"][1]["name"] = "model-stable"


def _container_renamed(docs: Docs) -> None:
    container(docs, "classifier")["name"] = "classifer"


def _router_with_one_child(docs: Docs) -> None:
    del graph(docs)["children"][1]


def _traffic_not_100(docs: Docs) -> None:
    deployment(docs)["spec"]["predictors"][1]["traffic"] = 20


def _unknown_type(docs: Docs) -> None:
    graph(docs)["type"] = "MODLE"


def _unknown_implementation(docs: Docs) -> None:
    graph(docs)["implementation"] = "TENSORFLOW_SERVE"


def _bad_endpoint_type(docs: Docs) -> None:
    graph(docs)["endpoint"] = {"type": "HTTP"}


def _int_not_parsing(docs: Docs) -> None:
    parameter(graph(docs), "timeout_ms")["value"] = "5s"


def _unknown_class_parameter(docs: Docs) -> None:
    parameter(graph(docs), "n_branches")["name"] = "n_arms"


def _replicas_as_text(docs: Docs) -> None:
    deployment(docs)["spec"]["predictors"][0]["replicas"] = "two"


def _misspelt_field(docs: Docs) -> None:
    graph(docs)["parameter"] = graph(docs).pop("parameters")


def _only_a_shadow(docs: Docs) -> None:
    del deployment(docs)["spec"]["predictors"][0]


def _label_not_in_model_config(docs: Docs) -> None:
    parameter(graph(docs)["children"][1], "version_label")["value"] = "beta"


def _label_at_unloaded_version(docs: Docs) -> None:
    config = docs[0]["data"]["models.config"]
    docs[0]["data"]["models.config"] = config.replace(
        'key: "canary" value: 2', 'key: "canary" value: 3'
    )


def _fractional_gpu(docs: Docs) -> None:
    container(docs, "tfserving")["resources"]["limits"]["nvidia.com/gpu"] = "0.5"


def _hpa_v2_metric_spelling(docs: Docs) -> None:
    spec = deployment(docs)["spec"]["predictors"][0]["componentSpecs"][0]
    spec["hpaSpec"]["metrics"][0]["resource"] = {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 70},
    }


def _combiner_as_model(docs: Docs) -> None:
    container(docs, "ensemble")["env"][1]["value"] = "MODEL"


def _branches_mismatch(docs: Docs) -> None:
    parameter(graph(docs), "n_branches")["value"] = "4"


def _undeclared_volume(docs: Docs) -> None:
    container(docs, "tfserving")["volumeMounts"][0]["name"] = "model"


def _logger_without_mode(docs: Docs) -> None:
    graph(docs)["logger"]["mode"] = ""


def _ratio_out_of_range(docs: Docs) -> None:
    parameter(graph(docs), "ratio_a")["value"] = "1.5"


def _wrong_tfserving_port(docs: Docs) -> None:
    parameter(graph(docs), "grpc_endpoint")["value"] = "localhost:9500"


DEFECTS = [
    Defect(
        "duplicate-node-name",
        "ab-versions.yaml",
        _duplicate_node_name,
        "spec.predictors[0].graph.children[1].name",
        "duplicate graph node name 'model-stable'",
        "different name",
    ),
    Defect(
        "missing-container",
        "single-cpu.yaml",
        _container_renamed,
        "spec.predictors[0].graph.name",
        "Can't find container for Predictive Unit 'classifier'",
        "add a container named 'classifier'",
    ),
    Defect(
        "router-with-one-child",
        "ab-versions.yaml",
        _router_with_one_child,
        "spec.predictors[0].graph.children",
        "router 'ab-router' has 1 child(ren)",
        "add another child",
    ),
    Defect(
        "traffic-not-100",
        "canary.yaml",
        _traffic_not_100,
        "spec.predictors",
        "Traffic must sum to 100 for multiple predictors (non-shadow: main=90, canary=20; sum 110)",
        "sum to 100",
    ),
    Defect(
        "unknown-type",
        "single-cpu.yaml",
        _unknown_type,
        "spec.predictors[0].graph.type",
        "unknown type 'MODLE'",
        "use one of MODEL, ROUTER, COMBINER",
    ),
    Defect(
        "unknown-implementation",
        "single-cpu.yaml",
        _unknown_implementation,
        "spec.predictors[0].graph.implementation",
        "unknown implementation 'TENSORFLOW_SERVE'",
        "TENSORFLOW_SERVER",
    ),
    Defect(
        "bad-endpoint-type",
        "single-cpu.yaml",
        _bad_endpoint_type,
        "spec.predictors[0].graph.endpoint.type",
        "unknown endpoint type 'HTTP'",
        "use one of REST, GRPC",
    ),
    Defect(
        "int-parameter-not-parsing",
        "single-cpu.yaml",
        _int_not_parsing,
        "spec.predictors[0].graph.parameters[5].value",
        "timeout_ms: '5s' does not parse as INT",
        "whole number",
    ),
    Defect(
        "unknown-parameter-of-our-class",
        "bandit.yaml",
        _unknown_class_parameter,
        "spec.predictors[0].graph.parameters[0].name",
        "ThompsonSamplingRouter does not accept parameter 'n_arms'; valid parameters: "
        "alpha0, beta0, max_message_bytes, n_branches, seed, state_path",
        "rename it",
    ),
    Defect(
        "replicas-not-an-integer",
        "single-cpu.yaml",
        _replicas_as_text,
        "spec.predictors[0].replicas",
        "'two' is not of type integer",
        "write an integer",
    ),
    Defect(
        "misspelt-field",
        "single-cpu.yaml",
        _misspelt_field,
        "spec.predictors[0].graph.parameter",
        "unknown field 'parameter'",
        "parameters",
    ),
    Defect(
        "shadow-as-only-predictor",
        "shadow.yaml",
        _only_a_shadow,
        "spec.predictors[0].shadow",
        "Shadow can not exist as only predictor",
    ),
    Defect(
        "version-label-not-in-model-config",
        "ab-versions.yaml",
        _label_not_in_model_config,
        "spec.predictors[0].graph.children[1].parameters[1].value",
        "model 'half_plus_two' has no version label 'beta' in TF Serving's model config "
        "(labels: canary, stable)",
        "version_labels",
    ),
    Defect(
        "label-at-a-version-tf-serving-does-not-load",
        "ab-versions.yaml",
        _label_at_unloaded_version,
        "spec.predictors[0].componentSpecs[0].spec.containers[3].args",
        "model 'half_plus_two': label 'canary' points at version 3, which the specific version "
        "policy does not load (1, 2)",
        "add version 3",
    ),
    Defect(
        "fractional-gpu",
        "single-gpu.yaml",
        _fractional_gpu,
        "spec.predictors[0].componentSpecs[0].spec.containers[1].resources.limits.nvidia.com/gpu",
        "nvidia.com/gpu must be a whole number",
    ),
    Defect(
        "hpa-metric-in-v2-spelling",
        "autoscaled-logged.yaml",
        _hpa_v2_metric_spelling,
        "spec.predictors[0].componentSpecs[0].hpaSpec.metrics[0].resource.target",
        "unknown field 'target'",
        "targetAverageUtilization",
    ),
    Defect(
        "combiner-container-says-model",
        "ensemble.yaml",
        _combiner_as_model,
        "spec.predictors[0].componentSpecs[0].spec.containers[0].env[1].value",
        "MeanCombiner is a COMBINER, but SERVICE_TYPE is 'MODEL'",
        "set SERVICE_TYPE to COMBINER",
    ),
    Defect(
        "branch-count-mismatch",
        "bandit.yaml",
        _branches_mismatch,
        "spec.predictors[0].graph.parameters[0].value",
        "n_branches is 4 but node 'bandit' has 3 children",
    ),
    Defect(
        "mount-of-undeclared-volume",
        "single-cpu.yaml",
        _undeclared_volume,
        "spec.predictors[0].componentSpecs[0].spec.containers[1].volumeMounts[0].name",
        "volume 'model' is mounted but not declared",
    ),
    Defect(
        "logger-without-mode",
        "autoscaled-logged.yaml",
        _logger_without_mode,
        "spec.predictors[0].graph.logger.mode",
        "No logger mode specified",
        "use one of all, request, response",
    ),
    Defect(
        "router-ratio-out-of-range",
        "ab-versions.yaml",
        _ratio_out_of_range,
        "spec.predictors[0].graph.parameters[0].value",
        "ABTestRouter would refuse to start: parameter 'ratio_a': must be in [0, 1]",
    ),
    Defect(
        "model-pointed-at-wrong-port",
        "single-cpu.yaml",
        _wrong_tfserving_port,
        "spec.predictors[0].graph.parameters[1].value",
        "no TF Serving container in this pod listens on port 9500",
        "--port",
    ),
]


@pytest.fixture(scope="module")
def variant_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("broken")
    files = {}
    for defect in DEFECTS:
        docs = load_graph(defect.graph)
        defect.change(docs)
        files[defect.id] = write_docs(folder / f"{defect.id}.yaml", docs)
    return files


@pytest.fixture(scope="module", params=["builtin", "real-crd"])
def cli_verdict(
    request: pytest.FixtureRequest, variant_files: dict[str, Path]
) -> subprocess.CompletedProcess[str]:
    """One run of the real CLI over every broken variant (per schema source)."""
    crd_args = ["--crd", str(REAL_CRD)] if request.param == "real-crd" else []
    return run_cli("validate", *crd_args, *map(str, variant_files.values()))


def test_cli_refuses_every_variant_with_status_1(cli_verdict: subprocess.CompletedProcess[str]):
    assert cli_verdict.returncode == 1
    assert f"{len(DEFECTS)} of {len(DEFECTS)} file(s) refused" in cli_verdict.stderr


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.id)
def test_variant_is_refused_with_path_message_and_fix(
    defect: Defect,
    variant_files: dict[str, Path],
    cli_verdict: subprocess.CompletedProcess[str],
) -> None:
    file = str(variant_files[defect.id])
    lines = cli_verdict.stdout.splitlines()
    reported = [
        (line, lines[index + 1]) for index, line in enumerate(lines) if line.startswith(file)
    ]
    assert reported, f"nothing reported for {file}:\n{cli_verdict.stdout}"
    matching = [
        (line, fix)
        for line, fix in reported
        if f": {defect.path}: " in line and defect.message in line
    ]
    assert matching, "\n".join(line for line, _ in reported)
    line, fix = matching[0]
    assert fix.startswith("    fix: ")
    assert defect.fix in fix


def test_a_single_broken_file_exits_1_and_a_good_one_0(variant_files: dict[str, Path]) -> None:
    broken = run_cli("validate", str(variant_files["traffic-not-100"]))
    assert broken.returncode == 1
    assert "Traffic must sum to 100" in broken.stdout
    good = run_cli("validate", str(Path("graphs/canary.yaml")))
    assert good.returncode == 0, good.stdout
