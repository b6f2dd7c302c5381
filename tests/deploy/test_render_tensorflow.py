"""`render ... --protocol tensorflow`: the journeys that make sense under TF Serving's own API
come out in the shape of graphs/tf-*.yaml, validate with the same warnings, and say them in
their header; a canary is refused with the reason and what to use instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.protocols import Validator

from seldon_tfserving.cli import main
from seldon_tfserving.codec.model_server_config import (
    configured_models,
    parse_model_server_config,
)
from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.validate import validate_documents
from tests.deploy.manifests import REAL_CRD, deployment, load_graph, run_cli

TF_JOURNEYS: dict[str, list[str]] = {
    "single": ["single", "--model", "half_plus_two"],
    "ab": ["ab", "--versions", "1,2", "--labels", "stable,canary", "--ratio-a", "0.8"],
    "ab-three-weights": ["ab", "--versions", "1,2,3", "--weights", "0.5,0.3,0.2"],
    "shadow": ["shadow", "--model", "half_plus_two", "--model", "half_plus_three"],
    "bandit": ["bandit", "--versions", "1,2,3", "--policy", "thompson"],
    "ensemble": ["ensemble", "--model", "half_plus_two", "--model", "half_plus_three"],
}
#: the shipped graph each journey must match, node for node
TWINS = {"ab": "tf-ab-versions.yaml", "bandit": "tf-bandit.yaml", "ensemble": "tf-ensemble.yaml"}
#: the parameters that make a graph what it is (not tuning such as alpha0 or transport)
SHAPE_PARAMETERS = (
    "model_name",
    "model_version",
    "version_label",
    "ratio_a",
    "n_branches",
    "weights",
    "grpc_endpoint",
    "rest_endpoint",
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rendered-tf")
    files = {}
    for journey, args in TF_JOURNEYS.items():
        path = folder / f"{journey}.yaml"
        argv = ["render", *args, "--protocol", "tensorflow", "--name", f"tf-{journey}"]
        assert main([*argv, "-o", str(path)]) == 0
        files[journey] = path
    return files


def docs_of(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return schema.builtin_validator()


def warnings_of(docs: list[dict[str, Any]], validator: Validator) -> list[tuple[str, str, str]]:
    findings = [f for report in validate_documents(docs, validator) for f in report.findings]
    assert [f for f in findings if f.is_error] == []
    return [(f.severity, f.path, f.message) for f in findings]


def shape(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a reader of the graph would call its shape: protocol, nodes, classes, TF Serving."""
    predictor = deployment(docs)["spec"]["predictors"][0]
    containers = predictor["componentSpecs"][0]["spec"]["containers"]
    classes = {
        c["name"]: e["value"]
        for c in containers
        for e in c.get("env", ())
        if e["name"] == "MODEL_NAME"
    }

    def node(raw: dict[str, Any]) -> tuple[Any, ...]:
        parameters = sorted(
            (p["name"], p["value"])
            for p in raw.get("parameters", ())
            if p["name"] in SHAPE_PARAMETERS
        )
        children = tuple(node(child) for child in raw.get("children", ()))
        return raw["name"], raw.get("type"), classes.get(raw["name"]), tuple(parameters), children

    tfserving = next(c for c in containers if c["name"] == "tfserving")
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["models.config"]
    return {
        "protocol": deployment(docs)["spec"]["protocol"],
        "graph": node(predictor["graph"]),
        "tfserving": (tfserving["args"], tfserving["readinessProbe"]["httpGet"]),
        "models": configured_models(parse_model_server_config(config)),
        "volumes": [v["name"] for v in predictor["componentSpecs"][0]["spec"]["volumes"]],
    }


def test_every_tf_journey_validates_against_the_real_crd(rendered: dict[str, Path]) -> None:
    result = run_cli("validate", "--crd", str(REAL_CRD), *map(str, rendered.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    for journey, path in rendered.items():
        assert f"{path}: valid (" in result.stdout
        assert deployment(docs_of(path))["spec"]["protocol"] == "tensorflow", journey


@pytest.mark.parametrize("journey", sorted(TWINS))
def test_journey_has_the_shape_and_warnings_of_its_graph(
    journey: str, rendered: dict[str, Path], validator: Validator
) -> None:
    docs, twin = docs_of(rendered[journey]), load_graph(TWINS[journey])
    assert shape(docs) == shape(twin)
    assert warnings_of(docs, validator) == warnings_of(twin, validator)


def test_the_header_says_what_validate_warns(rendered: dict[str, Path], validator: Validator):
    for journey, path in rendered.items():
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        warned = warnings_of(docs_of(path), validator)
        for _, where, message in warned:
            assert f"#   {where}: {message}" in header, journey
        assert len([line for line in header if line.startswith("#     fix: ")]) == len(warned)
    assert not any(line.startswith("#   ") for line in rendered["single"].read_text().splitlines())


def test_single_and_shadow_carry_no_warning(rendered: dict[str, Path], validator: Validator):
    """One model per predictor: REST and gRPC through Seldon's executor, nothing only local."""
    assert warnings_of(docs_of(rendered["single"]), validator) == []
    assert warnings_of(docs_of(rendered["shadow"]), validator) == []


def test_the_seldon_protocol_stays_the_default(tmp_path: Path) -> None:
    path = tmp_path / "bandit.yaml"
    assert main(["render", "bandit", "-o", str(path)]) == 0
    assert deployment(docs_of(path))["spec"]["protocol"] == "seldon"
    assert not any(line.startswith("#   ") for line in path.read_text().splitlines())


def test_a_canary_is_refused_with_the_reason_and_the_alternative(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["render", "canary", "--model", "half_plus_two", "--model", "half_plus_three"]
    assert main([*args, "--protocol", "tensorflow"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("render canary: canary makes no sense under --protocol tensorflow")
    assert "requests for 'half_plus_two' with 'half_plus_three'" in error
    assert "use `render ab --protocol tensorflow" in error
    assert main(args) == 0, "under the Seldon protocol the canary stays"
