"""Seldon's CRD serves v1, v1alpha2 and v1alpha3: each manifest is checked against the schema
of the version its apiVersion names, built in from the real CRD, or from `--crd`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.schema_data import DATA_DIR, builtin_files
from seldon_tfserving.deploy.validate import validate_documents
from tests.deploy.manifests import REAL_CRD, deployment, load_graph, run_cli, write_docs

VERSIONS = ("v1", "v1alpha2", "v1alpha3")


def crd_documents() -> list[Any]:
    return schema.load_crd_documents(REAL_CRD)


def test_the_real_crd_serves_three_versions_and_so_does_the_builtin_one() -> None:
    assert schema.served_versions(crd_documents()) == list(VERSIONS)
    assert schema.builtin_schemas().versions == VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
def test_each_builtin_schema_is_that_versions_schema_in_the_crd(version: str) -> None:
    from_crd = schema.strip_descriptions(schema.openapi_schema_from_crd(crd_documents(), version))
    assert schema.builtin_openapi_schema(version) == from_crd


def test_the_package_data_is_what_the_generator_writes_from_the_crd() -> None:
    files = builtin_files(crd_documents())
    for name, text in files.items():
        assert (DATA_DIR / name).read_text() == text, name
    # the three versions' schemas are identical in Seldon's CRD: one file holds them
    assert sorted(files) == ["seldondeployment-v1.openapi.json", "seldondeployment-versions.json"]


@pytest.mark.parametrize("version", ["v1alpha2", "v1alpha3"])
def test_an_older_version_with_spec_name_and_transport_is_valid(version: str) -> None:
    docs = load_graph("single-cpu.yaml")
    doc = deployment(docs)
    doc["apiVersion"] = f"machinelearning.seldon.io/{version}"
    doc["spec"].update(name="single", transport="rest")
    reports = validate_documents(docs, schema.builtin_schemas())
    assert [f for r in reports for f in r.findings] == []


def test_a_version_the_crd_does_not_serve_is_refused_with_the_served_ones() -> None:
    docs = load_graph("single-cpu.yaml")
    deployment(docs)["apiVersion"] = "machinelearning.seldon.io/v2"
    [finding] = [f for r in validate_documents(docs, schema.builtin_schemas()) for f in r.findings]
    assert finding.path == "apiVersion"
    assert "'machinelearning.seldon.io/v2' is not served" in finding.message
    assert "machinelearning.seldon.io/v1alpha2, machinelearning.seldon.io/v1alpha3" in (
        finding.message
    )
    assert finding.fix == "set apiVersion: machinelearning.seldon.io/v1"


def _crd_with(versions: dict[str, Any]) -> list[Any]:
    """The real CRD with its versions replaced (name -> schema change applied to a copy)."""
    crd = copy.deepcopy(next(doc for doc in crd_documents() if doc))
    entries = []
    for name, change in versions.items():
        entry = copy.deepcopy(crd["spec"]["versions"][0])
        entry["name"] = name
        change(entry["schema"]["openAPIV3Schema"])
        entries.append(entry)
    crd["spec"]["versions"] = entries
    return [crd]


def _without_transport(openapi: dict[str, Any]) -> None:
    del openapi["properties"]["spec"]["properties"]["transport"]


def test_each_version_is_checked_against_its_own_schema(tmp_path: Path) -> None:
    """A CRD whose v1alpha2 lacks `spec.transport` refuses it there, and only there."""
    crd = write_docs(
        tmp_path / "crd.yaml", _crd_with({"v1": lambda _: None, "v1alpha2": _without_transport})
    )
    docs = load_graph("single-cpu.yaml")
    deployment(docs)["spec"]["transport"] = "rest"
    schemas = schema.load_crd_schemas(crd)
    assert [f for r in validate_documents(docs, schemas) for f in r.findings] == []
    deployment(docs)["apiVersion"] = "machinelearning.seldon.io/v1alpha2"
    [finding] = [f for r in validate_documents(docs, schemas) for f in r.findings]
    assert (finding.path, "unknown field 'transport'" in finding.message) == (
        "spec.transport",
        True,
    )

    older = write_docs(tmp_path / "older.yaml", docs)
    result = run_cli("validate", "--crd", str(crd), str(older))
    assert result.returncode == 1
    assert f"{older}: spec.transport: unknown field 'transport'" in result.stdout


def test_a_crd_serving_only_v1_refuses_v1alpha2(tmp_path: Path) -> None:
    crd = write_docs(tmp_path / "crd.yaml", _crd_with({"v1": lambda _: None}))
    docs = load_graph("single-cpu.yaml")
    deployment(docs)["apiVersion"] = "machinelearning.seldon.io/v1alpha2"
    manifest = write_docs(tmp_path / "old.yaml", docs)
    result = run_cli("validate", "--crd", str(crd), str(manifest))
    assert result.returncode == 1
    assert "apiVersion: apiVersion 'machinelearning.seldon.io/v1alpha2' is not served" in (
        result.stdout
    )
    assert "(it serves machinelearning.seldon.io/v1)" in result.stdout


def test_a_bare_validator_is_the_v1_schema_alone() -> None:
    docs = load_graph("single-cpu.yaml")
    deployment(docs)["apiVersion"] = "machinelearning.seldon.io/v1alpha3"
    [finding] = [
        f for r in validate_documents(docs, schema.builtin_validator()) for f in r.findings
    ]
    assert finding.path == "apiVersion"


def test_a_v1beta1_crd_gives_its_one_schema_to_every_version(tmp_path: Path) -> None:
    crd = next(doc for doc in crd_documents() if doc)
    openapi = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    legacy = {
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": schema.CRD_NAME},
        "spec": {
            "versions": [{"name": v, "served": True} for v in VERSIONS],
            "validation": {"openAPIV3Schema": openapi},
        },
    }
    path = tmp_path / "legacy.yaml"
    path.write_text(yaml.safe_dump(legacy))
    schemas = schema.load_crd_schemas(path)
    assert schemas.versions == VERSIONS
    docs = load_graph("single-cpu.yaml")
    deployment(docs)["apiVersion"] = "machinelearning.seldon.io/v1alpha3"
    assert [f for r in validate_documents(docs, schemas) for f in r.findings] == []
