"""Every shipped graph passes what the cluster would check: the real CRD and the operator.

The TF-protocol graphs pass too, each with the warnings that say what works only locally.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema.protocols import Validator

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.findings import WARNING
from seldon_tfserving.deploy.validate import validate_file
from tests.deploy.manifests import GRAPH_FILES, REAL_CRD, run_cli

EXPECTED_GRAPHS = {
    "single-cpu.yaml",
    "single-gpu.yaml",
    "ab-versions.yaml",
    "canary.yaml",
    "shadow.yaml",
    "bandit.yaml",
    "ensemble.yaml",
    "autoscaled-logged.yaml",
    "tf-ab-versions.yaml",
    "tf-bandit.yaml",
    "tf-ensemble.yaml",
}
GRAPH = "spec.predictors[0].graph"
GRPC_THROUGH_IT = "over REST only under protocol tensorflow"
NEVER_LEARNS = "never learns"
#: graph -> the warnings it must show, as (path, words of the message); none for the others
EXPECTED_WARNINGS: dict[str, list[tuple[str, str]]] = {
    "tf-ab-versions.yaml": [(GRAPH, f"ROUTER 'ab-router' (ABTestRouter) {GRPC_THROUGH_IT}")],
    "tf-bandit.yaml": [
        (GRAPH, f"ROUTER 'bandit' (ThompsonSamplingRouter) {GRPC_THROUGH_IT}"),
        (GRAPH, f"ThompsonSamplingRouter 'bandit' routes by its prior but {NEVER_LEARNS}"),
    ],
    "tf-ensemble.yaml": [(GRAPH, f"COMBINER 'ensemble' (MeanCombiner) {GRPC_THROUGH_IT}")],
}


def test_graphs_folder_holds_every_journey() -> None:
    assert {path.name for path in GRAPH_FILES} == EXPECTED_GRAPHS


def test_builtin_schema_is_the_real_crds_v1_schema() -> None:
    from_crd = schema.strip_descriptions(schema.load_crd_schema(REAL_CRD))
    assert schema.builtin_openapi_schema() == json.loads(json.dumps(from_crd))


@pytest.mark.parametrize("crd_args", [[], ["--crd", str(REAL_CRD)]], ids=["builtin", "real-crd"])
def test_every_graph_validates_through_the_cli(crd_args: list[str]) -> None:
    result = run_cli("validate", *crd_args, *map(str, GRAPH_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in GRAPH_FILES:
        assert f"{path}: valid (" in result.stdout


@pytest.fixture(scope="module")
def real_crd_validator() -> Validator:
    return schema.validator_for(schema.load_crd_schema(REAL_CRD))


@pytest.mark.parametrize("path", GRAPH_FILES, ids=lambda p: p.name)
def test_each_graph_has_only_its_expected_findings_against_the_real_crd(
    path: Path, real_crd_validator: Validator
) -> None:
    reports = validate_file(path, real_crd_validator)
    findings = [f for r in reports for f in r.findings]
    assert [f for f in findings if f.is_error] == []
    expected = EXPECTED_WARNINGS.get(path.name, [])
    assert len(findings) == len(expected), findings
    for finding, (where, words) in zip(findings, expected, strict=True):
        assert (finding.severity, finding.path) == (WARNING, where)
        assert words in finding.message
        assert "seldon-tfserving up" in finding.fix, "a warning's fix says what works locally"
    assert any(r.kind == "SeldonDeployment" for r in reports)


def test_the_tf_graphs_warn_through_the_cli_and_still_exit_0() -> None:
    tf_graphs = [p for p in GRAPH_FILES if p.name in EXPECTED_WARNINGS]
    assert len(tf_graphs) == 3
    result = run_cli("validate", *map(str, tf_graphs))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for path in tf_graphs:
        count = len(EXPECTED_WARNINGS[path.name])
        warned = [line for line in lines if line.startswith(f"{path} (document 2): ")]
        assert len(warned) == count
        assert all(f": {GRAPH}: warning: " in line for line in warned)
        noted = f"{count} warning{'s' if count > 1 else ''})"
        assert any(line.startswith(f"{path}: valid (") and line.endswith(noted) for line in lines)
    quiet = run_cli("validate", "-q", *map(str, tf_graphs))
    assert (quiet.returncode, quiet.stdout) == (0, ""), "-q prints errors only"


@pytest.mark.parametrize("path", GRAPH_FILES, ids=lambda p: p.name)
def test_each_graph_is_commented_for_the_reader(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("#"), "a graph opens with what it is for"
    assert "seldon-tfserving validate" in text


def test_every_graph_has_a_row_in_the_graphs_readme() -> None:
    readme = (GRAPH_FILES[0].parent / "README.md").read_text()
    for path in GRAPH_FILES:
        assert f"[`{path.name}`]({path.name})" in readme
