"""What a manifest may run under `up`: our classes, and only what the user names (pure).

`up` imports a node's MODEL_NAME and calls it with the node's parameters, as the user, with the
container's env; a plan error names the node, the class or variable, and the flag that allows
it, before anything starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.deploy.code_loading_env import CODE_LOADING_ENV
from seldon_tfserving.deploy.components import COMPONENTS
from seldon_tfserving.runner import command
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.plan import RunPlan, plan_run
from seldon_tfserving.runner.trusted_code import (
    OUR_CLASSES,
    TrustedCode,
    class_name,
    env_name,
)
from tests.runner.test_plan import PROGRAMS, ab_documents, component, ports_from

ROUTER = "graph node 'router' of predictor 'default' (SeldonDeployment 'ab-local')"


def ab_with_router(model_name: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """tests/runner/graphs/ab-local.yaml with the router's container running `model_name`."""
    docs = ab_documents()
    pod = docs[1]["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    router = next(c for c in pod["containers"] if c["name"] == "router")
    router["env"] = [{"name": "MODEL_NAME", "value": model_name}] + [
        {"name": k, "value": v} for k, v in (env or {}).items()
    ]
    return docs


def plan(tmp_path: Path, docs: list[dict[str, Any]], trusted: TrustedCode | None = None) -> RunPlan:
    return plan_run(
        docs,
        volumes={"models": tmp_path / "models"},
        scratch_dir=tmp_path / "scratch",
        allocate_port=ports_from(20000),
        programs=PROGRAMS,
        **({} if trusted is None else {"trusted": trusted}),
    )


def refusal(tmp_path: Path, docs: list[dict[str, Any]], trusted: TrustedCode | None = None) -> str:
    with pytest.raises(PlanError) as raised:
        plan(tmp_path, docs, trusted)
    return str(raised.value)


def test_our_graph_classes_run_by_either_spelling_of_their_name(tmp_path: Path) -> None:
    for seldon_class in COMPONENTS.values():
        for name in (seldon_class.interface, f"{seldon_class.module}.{seldon_class.name}"):
            assert name in OUR_CLASSES
            assert TrustedCode().allows_class(name)
    planned = plan(tmp_path, ab_with_router("seldon_tfserving.routers.ABTestRouter"))
    assert component(planned, "router").argv[1] == "seldon_tfserving.routers.ABTestRouter"


def test_a_manifest_naming_popen_is_refused_naming_node_class_and_flag(tmp_path: Path) -> None:
    message = refusal(tmp_path, ab_with_router("subprocess.Popen"))
    assert message == (
        f"{ROUTER} runs 'subprocess.Popen', which is not one of seldon_tfserving's graph "
        f"classes: `up` imports a node's MODEL_NAME and runs it on this machine as you, so it "
        f"runs another class only when you name it: --allow-class subprocess.Popen (or its "
        f"module: --allow-class subprocess)"
    )


@pytest.mark.parametrize(
    "model_name",
    [
        "os.system",
        "seldon_tfserving.cli.main",  # in our package, but no graph class
        "seldon_tfserving.runner.child.subprocess",
        "seldon_tfserving_evil.TfServingModel",
    ],
)
def test_anything_but_our_graph_classes_is_refused(tmp_path: Path, model_name: str) -> None:
    assert f"runs {model_name!r}, which is not one of" in refusal(
        tmp_path, ab_with_router(model_name)
    )


def test_a_bare_class_name_is_imported_from_the_working_directory_so_it_is_not_ours(
    tmp_path: Path,
) -> None:
    message = refusal(tmp_path, ab_with_router("ABTestRouter"))
    assert message.endswith(
        "--allow-class ABTestRouter; for ours write seldon_tfserving.ABTestRouter (a bare name "
        "is imported from the working directory)"
    )


@pytest.mark.parametrize(
    ("allowed", "model_name", "runs"),
    [
        ("my_models.iris.IrisModel", "my_models.iris.IrisModel", True),
        ("my_models.iris", "my_models.iris.IrisModel", True),
        ("my_models", "my_models.iris.IrisModel", True),
        ("IrisModel", "IrisModel", True),
        ("my_models.iris.IrisModel", "my_models.iris.Other", False),
        ("my", "my_models.IrisModel", False),  # whole names only, dot by dot
        ("my_models.iris", "my_models.iris_v2.IrisModel", False),
    ],
)
def test_allow_class_names_a_class_or_every_class_under_a_module(
    tmp_path: Path, allowed: str, model_name: str, runs: bool
) -> None:
    trusted = TrustedCode.allowing(classes=[allowed])
    assert trusted.allows_class(model_name) is runs
    docs = ab_with_router(model_name)
    if runs:
        assert component(plan(tmp_path, docs, trusted), "router").argv[1] == model_name
    else:
        assert f"--allow-class {model_name}" in refusal(tmp_path, docs, trusted)


@pytest.mark.parametrize("name", sorted(CODE_LOADING_ENV))
def test_env_that_chooses_code_is_refused_unless_allowed_by_name(tmp_path: Path, name: str) -> None:
    docs = ab_with_router("seldon_tfserving.ABTestRouter", {name: "/tmp/elsewhere"})
    assert refusal(tmp_path, docs) == (
        f"{ROUTER}: its container sets {name}, which {CODE_LOADING_ENV[name]}; `up` runs "
        f"containers on this machine as you, so it passes {name} on only when you name it: "
        f"--allow-env {name}"
    )
    # another variable allowed does not let it through
    assert f"--allow-env {name}" in refusal(tmp_path, docs, TrustedCode.allowing(env=["OTHER"]))
    planned = plan(tmp_path, docs, TrustedCode.allowing(env=[name]))
    assert component(planned, "router").env[name] == "/tmp/elsewhere"


def test_pythonwarnings_is_refused_only_when_it_would_import_a_module(tmp_path: Path) -> None:
    plain = ab_with_router("seldon_tfserving.ABTestRouter", {"PYTHONWARNINGS": "ignore"})
    assert component(plan(tmp_path, plain), "router").env["PYTHONWARNINGS"] == "ignore"
    importing = ab_with_router(
        "seldon_tfserving.ABTestRouter", {"PYTHONWARNINGS": "ignore::evil.Warning"}
    )
    assert "sets PYTHONWARNINGS, which makes Python import the module its category names" in (
        refusal(tmp_path, importing)
    )


def test_env_that_only_tunes_a_process_is_passed_on(tmp_path: Path) -> None:
    docs = ab_with_router(
        "seldon_tfserving.ABTestRouter", {"GUNICORN_THREADS": "4", "PYTHONUNBUFFERED": "1"}
    )
    env = component(plan(tmp_path, docs), "router").env
    assert (env["GUNICORN_THREADS"], env["PYTHONUNBUFFERED"]) == ("4", "1")


def test_the_flags_take_names_only() -> None:
    assert class_name("my_models.IrisModel") == "my_models.IrisModel"
    assert env_name("LD_PRELOAD") == "LD_PRELOAD"
    for bad in ("my models", "my..model", ".model", "model.", "1model", ""):
        with pytest.raises(ValueError, match="is not a class or module name"):
            class_name(bad)
    for bad in ("LD-PRELOAD", "A=B", ""):
        with pytest.raises(ValueError, match="is not an environment variable's name"):
            env_name(bad)


def test_up_parses_repeated_allow_flags_into_what_it_trusts(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    command.configure(parser)
    args = parser.parse_args(
        ["g.yaml", "--allow-class", "my_models", "--allow-class", "other.Model"]
        + ["--allow-env", "LD_LIBRARY_PATH", "--host", "localhost"]
    )
    assert (args.allow_class, args.allow_env, args.host) == (
        ["my_models", "other.Model"],
        ["LD_LIBRARY_PATH"],
        "127.0.0.1",
    )
    for bad in (["--allow-class", "a b"], ["--allow-env", "A=B"], ["--host", "::1"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["g.yaml", *bad])
        assert exited.value.code == 2
