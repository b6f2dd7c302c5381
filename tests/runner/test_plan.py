"""The runner's plan: what runs where, on which ports, with which flags (pure, no processes)."""

from __future__ import annotations

import itertools
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.plan import (
    ComponentProcess,
    Programs,
    RunPlan,
    find_programs,
    plan_run,
    rewrite_endpoint,
)

HERE = Path(__file__).parent
AB_LOCAL = HERE / "graphs" / "ab-local.yaml"
PROGRAMS = Programs(("model-server",), ("seldon-core-microservice",))


def ports_from(first: int) -> Callable[[], int]:
    counter = itertools.count(first)
    return lambda: next(counter)


def plan_documents(
    documents: list[dict[str, Any]],
    tmp_path: Path,
    volumes: dict[str, Path] | None = None,
    **kw: Any,
) -> RunPlan:
    return plan_run(
        documents,
        volumes=volumes if volumes is not None else {"models": tmp_path / "models"},
        scratch_dir=tmp_path / "scratch",
        allocate_port=ports_from(20000),
        programs=PROGRAMS,
        **kw,
    )


def ab_documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(AB_LOCAL.read_text()) if d]


def component(plan: RunPlan, node: str) -> ComponentProcess:
    return next(c for c in plan.components if c.key.endswith("/" + node))


def parameters(plan: RunPlan, node: str) -> dict[str, str]:
    raw = json.loads(component(plan, node).env["PREDICTIVE_UNIT_PARAMETERS"])
    return {p["name"]: p["value"] for p in raw}


def flag_values(argv: tuple[str, ...]) -> dict[str, str]:
    return dict(word[2:].partition("=")[::2] for word in argv if word.startswith("--"))


def test_tf_serving_moves_to_free_ports_and_reads_the_materialised_config(tmp_path: Path) -> None:
    plan = plan_documents(ab_documents(), tmp_path)
    (backend,) = plan.backends
    flags = flag_values(backend.argv)
    assert backend.argv[0] == "model-server"
    assert flags["port"] == str(backend.grpc_port) and flags["rest_api_port"] == str(
        backend.rest_port
    )
    assert {backend.grpc_port, backend.rest_port}.isdisjoint({8500, 8501})
    config_path = Path(flags["model_config_file"])
    assert config_path == backend.model_config_file
    assert config_path.is_relative_to(tmp_path / "scratch") and config_path.name == "models.config"
    config_text = plan.files[config_path]
    assert f'base_path: "{tmp_path / "models"}/saved_model_half_plus_two_2_versions"' in config_text
    assert 'version_labels { key: "stable" value: 123 }' in config_text
    assert backend.models == ("two_versions",)


def test_tfserving_models_of_the_pod_are_pointed_at_the_moved_backend(tmp_path: Path) -> None:
    plan = plan_documents(ab_documents(), tmp_path)
    (backend,) = plan.backends
    stable, canary = parameters(plan, "stable"), parameters(plan, "canary")
    assert stable["grpc_endpoint"] == f"127.0.0.1:{backend.grpc_port}"
    assert stable["model_version_label"] == "stable"
    # endpoints left at their in-pod defaults are spelled out with the local ports
    assert canary["grpc_endpoint"] == f"127.0.0.1:{backend.grpc_port}"
    assert canary["rest_endpoint"] == f"http://127.0.0.1:{backend.rest_port}"
    # the router is not a TfServingModel: its parameters pass through untouched
    assert parameters(plan, "router") == {"ratio_a": "0.5"}


def test_components_follow_the_s2i_image_contract_on_free_ports(tmp_path: Path) -> None:
    plan = plan_documents(ab_documents(), tmp_path)
    router = component(plan, "router")
    assert router.key == "ab-local/default/router"
    assert router.argv[:4] == (
        "seldon-core-microservice",
        "seldon_tfserving.ABTestRouter",
        "--service-type",
        "ROUTER",
    )
    ports = dict(zip(router.argv[4::2], router.argv[5::2], strict=True))
    assert (
        ports["--http-port"]
        == str(router.endpoint.http_port)
        == router.env["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"]
    )
    assert ports["--grpc-port"] == str(router.endpoint.grpc_port)
    assert router.env["PREDICTIVE_UNIT_ID"] == "router"
    assert router.env["PREDICTOR_ID"] == "default"
    assert router.env["SELDON_DEPLOYMENT_ID"] == "ab-local"
    assert router.env["PREDICTIVE_UNIT_METRICS_ENDPOINT"] == "/prometheus"
    every_port = [p for c in plan.components for p in (c.endpoint.http_port, c.endpoint.grpc_port)]
    every_port += [b.grpc_port for b in plan.backends]
    assert len(set(every_port)) == len(every_port)
    assert component(plan, "canary").endpoint.transport == "grpc"
    assert router.endpoint.transport == "rest"


def test_a_backend_serves_every_node_of_its_pod(tmp_path: Path) -> None:
    plan = plan_documents(ab_documents(), tmp_path)
    assert set(plan.backends[0].serves) == {
        "ab-local/default/router",
        "ab-local/default/stable",
        "ab-local/default/canary",
    }


def test_a_tfserving_model_in_another_pod_keeps_its_address(tmp_path: Path) -> None:
    documents = ab_documents()
    pod = documents[1]["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    stable = next(c for c in pod["containers"] if c["name"] == "stable")
    pod["containers"].remove(stable)
    documents[1]["spec"]["predictors"][0]["componentSpecs"].append(
        {"spec": {"containers": [stable]}}
    )
    plan = plan_documents(documents, tmp_path)
    assert parameters(plan, "stable")["grpc_endpoint"] == "localhost:8500"
    assert "ab-local/default/stable" not in plan.backends[0].serves


def test_gateway_implementations_need_no_process(tmp_path: Path) -> None:
    documents = ab_documents()
    graph = documents[1]["spec"]["predictors"][0]["graph"]
    graph["implementation"] = "RANDOM_ABTEST"
    pod = documents[1]["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    pod["containers"] = [c for c in pod["containers"] if c["name"] != "router"]
    plan = plan_documents(documents, tmp_path)
    assert plan.gateway_nodes == ("ab-local/default/router",)
    assert "ab-local/default/router" not in plan.endpoints


def test_a_volume_without_a_local_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"--volume models=DIR"):
        plan_documents(ab_documents(), tmp_path, volumes={})


def test_a_config_map_missing_from_the_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="ab-local-models"):
        plan_documents(ab_documents()[1:], tmp_path)


def test_a_node_without_container_is_named(tmp_path: Path) -> None:
    documents = ab_documents()
    documents[1]["spec"]["predictors"][0]["graph"]["children"][0]["name"] = "ghost"
    with pytest.raises(PlanError, match="'ghost'.*no container"):
        plan_documents(documents, tmp_path)


def test_a_prepackaged_server_is_refused_clearly(tmp_path: Path) -> None:
    documents = ab_documents()
    child = documents[1]["spec"]["predictors"][0]["graph"]["children"][0]
    child.update(name="sk", implementation="SKLEARN_SERVER")
    with pytest.raises(PlanError, match="SKLEARN_SERVER"):
        plan_documents(documents, tmp_path)


def single_model_documents(container: dict[str, Any]) -> list[dict[str, Any]]:
    """A one-node graph whose pod holds a TfServingModel and the given TF Serving container."""
    return [
        {
            "kind": "SeldonDeployment",
            "metadata": {"name": "single"},
            "spec": {
                "predictors": [
                    {
                        "name": "main",
                        "graph": {"name": "model", "type": "MODEL"},
                        "componentSpecs": [
                            {
                                "spec": {
                                    "containers": [
                                        {
                                            "name": "model",
                                            "env": [
                                                {
                                                    "name": "MODEL_NAME",
                                                    "value": "seldon_tfserving.TfServingModel",
                                                }
                                            ],
                                        },
                                        container,
                                    ],
                                    "volumes": [{"name": "models", "emptyDir": {}}],
                                }
                            }
                        ],
                    }
                ]
            },
        }
    ]


def test_the_serving_image_entrypoint_defaults_apply(tmp_path: Path) -> None:
    container = {
        "name": "tfserving",
        "image": "tensorflow/serving:2.20.0",
        "env": [{"name": "MODEL_NAME", "value": "iris"}],
        "volumeMounts": [{"name": "models", "mountPath": "/models"}],
    }
    plan = plan_documents(single_model_documents(container), tmp_path, volumes={"models": tmp_path})
    (backend,) = plan.backends
    flags = flag_values(backend.argv)
    assert flags["model_name"] == "iris"
    assert flags["model_base_path"] == str(tmp_path / "iris")
    assert backend.rest_port is not None and flags["rest_api_port"] == str(backend.rest_port)
    assert backend.models == ("iris",)
    params = parameters(plan, "model")
    assert params["grpc_endpoint"] == f"127.0.0.1:{backend.grpc_port}"
    # the only component is the SERVICE_TYPE default: the graph node's type
    assert component(plan, "model").argv[2:4] == ("--service-type", "MODEL")


def test_an_explicit_binary_with_later_flags_winning(tmp_path: Path) -> None:
    container = {
        "name": "tfserving",
        "image": "tensorflow/serving",
        "command": ["/usr/bin/tensorflow_model_server"],
        "args": ["--port=9000", "--model_name=a", "--model_name=b", "--model_base_path=/models/b"],
        "volumeMounts": [{"name": "models", "mountPath": "/models"}],
    }
    plan = plan_documents(single_model_documents(container), tmp_path, volumes={})
    (backend,) = plan.backends
    flags = flag_values(backend.argv)
    assert backend.rest_port is None and "rest_api_port" not in flags
    assert flags["model_name"] == "b" and backend.models == ("b",)
    # emptyDir volumes become scratch folders created before start
    assert flags["model_base_path"] == str(plan.folders[0] / "b")
    # TF Serving listens on 9000 in the pod, not on the model's default 8500: as in a cluster,
    # the model's default address is not this backend's, so nothing is spelled out for it
    assert parameters(plan, "model") == {}


def test_remote_model_paths_are_refused_with_the_fix(tmp_path: Path) -> None:
    container = {
        "name": "tfserving",
        "image": "tensorflow/serving",
        "args": ["--model_name=x", "--model_base_path=gs://bucket/x"],
    }
    with pytest.raises(PlanError, match="--volume"):
        plan_documents(single_model_documents(container), tmp_path)


def test_choosing_one_predictor(tmp_path: Path) -> None:
    documents = ab_documents()
    spec = documents[1]["spec"]
    spec["predictors"][0]["traffic"] = 75
    spec["predictors"].append(dict(spec["predictors"][0], name="other", traffic=25))
    assert len(plan_documents(documents, tmp_path).backends) == 2
    plan = plan_documents(documents, tmp_path, predictor="other")
    assert [p.name for p in plan.deployments[0].predictors] == ["other"]
    assert plan.deployments[0].predictors[0].traffic == 100
    assert all(c.key.startswith("ab-local/other/") for c in plan.components)
    with pytest.raises(PlanError, match="no predictor 'nope'"):
        plan_documents(documents, tmp_path, predictor="nope")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost:8500", "127.0.0.1:30000"),
        ("0.0.0.0:8500", "127.0.0.1:30000"),
        ("http://localhost:8501", "http://127.0.0.1:30001"),
        ("http://localhost:8501/v1", "http://127.0.0.1:30001/v1"),
        ("localhost:9999", "localhost:9999"),
        ("tfserving.other-ns:8500", "tfserving.other-ns:8500"),
        ("not an address", "not an address"),
    ],
)
def test_rewriting_in_pod_addresses(value: str, expected: str) -> None:
    assert rewrite_endpoint(value, {8500: 30000, 8501: 30001}) == expected


def make_recording_model_server(folder: Path) -> Path:
    """A stand-in `tensorflow_model_server` that only records the flags it was given."""
    folder.mkdir()
    program = folder / "tensorflow_model_server"
    program.write_text(
        f"#!{sys.executable}\nimport json, sys, pathlib\n"
        f"pathlib.Path(sys.argv[0] + '.args').write_text(json.dumps(sys.argv[1:]))\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def test_the_real_model_server_is_preferred_when_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = make_recording_model_server(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    programs = find_programs()
    assert programs.model_server == (str(fake),)
    plan = plan_run(
        ab_documents(),
        volumes={"models": tmp_path / "models"},
        scratch_dir=tmp_path / "scratch",
        allocate_port=ports_from(21000),
        programs=programs,
    )
    subprocess.run(plan.backends[0].argv, check=True, timeout=30)
    recorded = json.loads(Path(str(fake) + ".args").read_text())
    assert recorded == [
        "--port=21000",
        "--rest_api_port=21001",
        f"--model_config_file={plan.backends[0].model_config_file}",
    ]


def test_our_backend_stands_in_when_the_binary_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    programs = find_programs()
    assert programs.model_server == (sys.executable, "-m", "seldon_tfserving.cli", "serve-models")
    assert Path(programs.microservice[0]).name == "seldon-core-microservice"


GRAPH_FILES = sorted((HERE.parent.parent / "graphs").glob("*.yaml"))


@pytest.mark.parametrize("graph", GRAPH_FILES, ids=[g.name for g in GRAPH_FILES])
def test_every_graph_in_graphs_runs_locally_with_a_models_folder(
    graph: Path, tmp_path: Path
) -> None:
    documents = [d for d in yaml.safe_load_all(graph.read_text()) if d]
    plan = plan_documents(documents, tmp_path)
    assert plan.backends and plan.components
    for component_process in plan.components:
        if not component_process.argv[1].endswith("TfServingModel"):
            continue
        raw = json.loads(component_process.env["PREDICTIVE_UNIT_PARAMETERS"])
        grpc_endpoint = next(p["value"] for p in raw if p["name"] == "grpc_endpoint")
        # each model reaches a TF Serving of its own pod, on that backend's local port
        (own,) = [b for b in plan.backends if component_process.key in b.serves]
        assert grpc_endpoint == f"127.0.0.1:{own.grpc_port}"
    for backend in plan.backends:
        flags = flag_values(backend.argv)
        for path_flag in ("model_base_path", "model_config_file"):
            if path_flag in flags:
                assert Path(flags[path_flag]).is_relative_to(tmp_path)
        assert backend.models
