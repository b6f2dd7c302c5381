"""`validate` warns on container env that chooses which code runs, and only on that.

On a cluster the image owner decides whether a manifest may set LD_PRELOAD or PYTHONPATH, so
these are warnings: the manifest still validates (exit 0), and each warning names the
container, the variable, what it makes the process load, and up's `--allow-env`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.code_loading_env import (
    CODE_LOADING_ENV,
    check_code_loading_env,
    code_loading_reason,
)
from seldon_tfserving.deploy.findings import WARNING
from seldon_tfserving.deploy.validate import validate_documents
from tests.deploy.manifests import deployment, load_graph, run_cli, write_docs

Docs = list[dict[str, Any]]
POD = "spec.predictors[0].componentSpecs[0].spec"


def ab_with_env(name: str, value: str, container: str = "model-stable") -> Docs:
    """graphs/ab-versions.yaml with one more env entry on one container."""
    docs = load_graph("ab-versions.yaml")
    pod = deployment(docs)["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    target = next(c for c in pod["containers"] if c["name"] == container)
    target.setdefault("env", []).append({"name": name, "value": value})
    return docs


def container_index(docs: Docs, name: str) -> int:
    pod = deployment(docs)["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    return next(i for i, c in enumerate(pod["containers"]) if c["name"] == name)


def env_index(docs: Docs, container: str, name: str) -> int:
    pod = deployment(docs)["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    env = pod["containers"][container_index(docs, container)]["env"]
    return next(i for i, e in enumerate(env) if e["name"] == name)


def warnings_of(docs: Docs) -> list[Any]:
    reports = validate_documents(docs, schema.builtin_schemas())
    (report,) = [r for r in reports if r.kind == "SeldonDeployment"]
    assert report.checked and not report.errors, report.errors
    return report.warnings


@pytest.mark.parametrize("name", sorted(CODE_LOADING_ENV))
def test_each_code_loading_variable_is_a_warning_at_its_env_entry(name: str) -> None:
    docs = ab_with_env(name, "/tmp/elsewhere")
    (found,) = warnings_of(docs)
    index = container_index(docs, "model-stable")
    assert found.severity == WARNING
    assert found.path == f"{POD}.containers[{index}].env[{env_index(docs, 'model-stable', name)}]"
    assert f"container 'model-stable' sets {name}, which {CODE_LOADING_ENV[name]}" in found.message
    assert "the manifest, not the image, chooses code" in found.message
    assert f"--allow-env {name}" in found.fix


@pytest.mark.parametrize(
    ("value", "warned"),
    [
        ("ignore", False),
        ("ignore::DeprecationWarning", False),
        ("error::UserWarning:mymodule", False),  # the module field is matched, never imported
        ("ignore::mypackage.MyWarning", True),
        ("default,ignore::evil.Category:x:1", True),
    ],
)
def test_pythonwarnings_is_a_warning_only_when_a_category_names_a_module(
    value: str, warned: bool
) -> None:
    assert (code_loading_reason("PYTHONWARNINGS", value) is not None) is warned
    found = warnings_of(ab_with_env("PYTHONWARNINGS", value))
    assert [f.message for f in found if "PYTHONWARNINGS" in f.message] == (
        [
            "container 'model-stable' sets PYTHONWARNINGS, which makes Python import the module "
            "its category names: the manifest, not the image, chooses code that runs there"
        ]
        if warned
        else []
    )


@pytest.mark.parametrize(
    "name",
    ["PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "GUNICORN_THREADS", "TF_CPP_MIN_LOG_LEVEL"],
)
def test_variables_that_only_tune_a_process_are_not_warned(name: str) -> None:
    assert code_loading_reason(name, "1") is None
    assert warnings_of(ab_with_env(name, "1")) == []


def test_every_container_of_every_pod_is_looked_at_and_value_from_is_left_alone() -> None:
    docs = ab_with_env("LD_PRELOAD", "/lib/evil.so", container="tfserving")
    pod = deployment(docs)["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    pod["initContainers"] = [
        {"name": "fetch", "image": "busybox", "env": [{"name": "BASH_ENV", "value": "/x.sh"}]}
    ]
    router = pod["containers"][container_index(docs, "ab-router")]
    router["env"].append({"name": "PYTHONPATH", "valueFrom": {"fieldRef": {"fieldPath": "x"}}})
    findings = check_code_loading_env(deployment(docs))
    assert sorted(f.path for f in findings) == sorted(
        [
            f"{POD}.containers[{container_index(docs, 'tfserving')}].env[0]",
            f"{POD}.initContainers[0].env[0]",
        ]
    )
    assert all(f.severity == WARNING for f in findings)


def test_the_real_cli_prints_the_warning_and_still_accepts_the_manifest(tmp_path: Path) -> None:
    path = write_docs(tmp_path / "preload.yaml", ab_with_env("LD_PRELOAD", "/tmp/hook.so"))
    result = run_cli("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"warning: container 'model-stable' sets LD_PRELOAD, which {CODE_LOADING_ENV['LD_PRELOAD']}"
        in result.stdout
    )
    assert "fix: leave LD_PRELOAD to the image" in result.stdout
    assert "SeldonDeployment/tfserving-ab-versions; built-in schema; 1 warning)" in (result.stdout)


def test_the_shipped_graphs_set_none_of_them() -> None:
    from tests.deploy.manifests import GRAPH_FILES

    for graph in GRAPH_FILES:
        for doc in load_graph(graph.name):
            if doc.get("kind") == "SeldonDeployment":
                assert check_code_loading_env(doc) == [], graph.name
