"""The CRD's Kubernetes keywords are enforced as the API server enforces them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.protocols import Validator

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.validate import validate_documents
from tests.deploy.manifests import REAL_CRD, deployment, load_graph, run_cli


@pytest.fixture(scope="module")
def validator() -> Validator:
    return schema.builtin_validator()


def findings_for(docs: list[dict[str, Any]], validator: Validator) -> list[Finding]:
    return [f for report in validate_documents(docs, validator) for f in report.findings]


def single_cpu() -> list[dict[str, Any]]:
    return load_graph("single-cpu.yaml")


def classifier_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec = deployment(docs)["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    container: dict[str, Any] = spec["containers"][0]
    return container


@pytest.mark.parametrize("quantity", [1, "500m", "2Gi", "1.5"])
def test_quantities_are_int_or_string(quantity: object, validator: Validator) -> None:
    docs = single_cpu()
    classifier_container(docs)["resources"]["requests"]["cpu"] = quantity
    assert findings_for(docs, validator) == []


def test_a_malformed_quantity_is_refused(validator: Validator) -> None:
    docs = single_cpu()
    classifier_container(docs)["resources"]["requests"]["cpu"] = "1x"
    [finding] = findings_for(docs, validator)
    assert finding.path.endswith("containers[0].resources.requests.cpu")
    assert "not a Kubernetes quantity" in finding.message


def test_int32_fields_have_int32_range(validator: Validator) -> None:
    docs = single_cpu()
    deployment(docs)["spec"]["predictors"][0]["replicas"] = 2**31
    [finding] = findings_for(docs, validator)
    assert finding.path == "spec.predictors[0].replicas"
    assert "out of range" in finding.message


def test_ports_are_a_list_map_keyed_by_port_and_defaulted_protocol(validator: Validator):
    docs = single_cpu()
    server = deployment(docs)["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][1]
    server["ports"].append({"name": "again", "containerPort": 8500})  # protocol defaults to TCP
    [finding] = findings_for(docs, validator)
    assert finding.path.endswith("containers[1].ports[2]")
    assert "duplicate entry (containerPort=8500, protocol='TCP')" in finding.message


def test_children_are_checked_as_graph_nodes(validator: Validator) -> None:
    docs = load_graph("ensemble.yaml")
    child = deployment(docs)["spec"]["predictors"][0]["graph"]["children"][1]
    del child["parameters"][0]["value"]
    child["modelURI"] = "gs://typo"
    paths = {f.path: f.message for f in findings_for(docs, validator)}
    base = "spec.predictors[0].graph.children[1]"
    assert "required field 'value' is missing" in paths[f"{base}.parameters[0].value"]
    assert "unknown field 'modelURI'" in paths[f"{base}.modelURI"]


def test_schema_errors_come_before_the_operators_rules(validator: Validator) -> None:
    """As on a cluster: the API server refuses first, the webhook never sees the document."""
    docs = single_cpu()
    predictor = deployment(docs)["spec"]["predictors"][0]
    predictor["replicas"] = "one"
    predictor["graph"]["type"] = "MODLE"
    assert [f.path for f in findings_for(docs, validator)] == ["spec.predictors[0].replicas"]


def test_metadata_name_must_be_a_kubernetes_name(validator: Validator) -> None:
    docs = single_cpu()
    deployment(docs)["metadata"]["name"] = "My_Model"
    [finding] = findings_for(docs, validator)
    assert finding.path == "metadata.name"


def test_a_kubectl_list_dump_gives_the_same_schema() -> None:
    with REAL_CRD.open() as stream:
        crd = next(doc for doc in yaml.load_all(stream, Loader=yaml.CSafeLoader) if doc)
    listed = {"apiVersion": "v1", "kind": "List", "items": [copy.deepcopy(crd)]}
    assert schema.openapi_schema_from_crd([listed]) == schema.openapi_schema_from_crd([crd])


def test_cli_says_why_a_crd_file_is_unusable(tmp_path: Path) -> None:
    not_a_crd = tmp_path / "deployment.yaml"
    not_a_crd.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = run_cli("validate", "--crd", str(not_a_crd), "graphs/single-cpu.yaml")
    assert result.returncode == 2
    assert "no CustomResourceDefinition in the file" in result.stderr


def test_cli_refuses_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    empty = tmp_path / "configmap-only.yaml"
    empty.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n")
    missing = tmp_path / "missing.yaml"
    result = run_cli("validate", str(broken), str(empty), str(missing))
    assert result.returncode == 1
    assert f"{broken}: (document): not valid YAML" in result.stdout
    assert "no SeldonDeployment in this file" in result.stdout
    assert f"{missing}: (document): cannot read the file" in result.stdout
    assert "3 of 3 file(s) refused" in result.stderr
