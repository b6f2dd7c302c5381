"""Every shipped graph passes what the cluster would check: the real CRD and the operator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema.protocols import Validator

from seldon_tfserving.deploy import schema
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
def test_each_graph_has_no_finding_against_the_real_crd(
    path: Path, real_crd_validator: Validator
) -> None:
    reports = validate_file(path, real_crd_validator)
    assert [f for r in reports for f in r.findings] == []
    assert any(r.kind == "SeldonDeployment" for r in reports)


@pytest.mark.parametrize("path", GRAPH_FILES, ids=lambda p: p.name)
def test_each_graph_is_commented_for_the_reader(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("#"), "a graph opens with what it is for"
    assert "seldon-tfserving validate" in text
