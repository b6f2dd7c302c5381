"""A pod's TF Serving container planned as a local process: its paths, ports and name."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.runner.backend_process import BackendPlanner, BackendPod
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.programs import Programs
from seldon_tfserving.runner.volumes import Mount, MountTable

SERVE_MODELS = Programs(model_server=("serve-models",), microservice=("ms",), binds_host=True)


def _container(*args: str, name: str = "tfserving") -> dict[str, Any]:
    return {
        "name": name,
        "image": "tensorflow/serving:2.20.0",
        "command": ["/usr/bin/tensorflow_model_server"],
        "args": list(args),
        "volumeMounts": [{"name": "models", "mountPath": "/mnt/models"}],
    }


def _pod(tmp_path: Path, *, shared: bool = False) -> BackendPod:
    return BackendPod(
        deployment="dep",
        predictor="main",
        pod_index=1,
        pod_volumes={"models": {"name": "models", "emptyDir": {}}},
        volume_dirs={"models": tmp_path / "models"},
        mounts=MountTable((Mount("models", "/mnt/models", tmp_path / "models"),)),
        scratch=tmp_path / "scratch",
        name_shared_by_pods=shared,
    )


def _planner(programs: Programs = SERVE_MODELS) -> BackendPlanner:
    ports = itertools.count(41000)
    return BackendPlanner(programs, lambda: next(ports), "127.0.0.1", {}, {})


def test_a_container_listens_on_free_ports_and_loads_its_models_from_local_folders(
    tmp_path: Path,
) -> None:
    container = _container(
        "--port=9000", "--rest_api_port=8501", "--model_name=m", "--model_base_path=/mnt/models/m"
    )
    port_map: dict[int, int] = {}
    backend = _planner().plan(container, "spec.containers[0]", _pod(tmp_path), port_map, {})
    assert port_map == {9000: 41000, 8501: 41001}, "the pod's other containers are told these"
    assert (backend.grpc_port, backend.rest_port) == (41000, 41001)
    assert backend.argv[0] == "serve-models"
    flags = set(backend.argv[1:])
    assert {"--port=41000", "--rest_api_port=41001", "--bind_address=127.0.0.1"} <= flags
    assert f"--model_base_path={tmp_path / 'models' / 'm'}" in flags
    assert backend.models == ("m",)
    assert backend.name == "dep/main/tfserving"


def test_a_real_tensorflow_model_server_is_not_given_our_bind_address(tmp_path: Path) -> None:
    real = Programs(model_server=("tensorflow_model_server",), microservice=("ms",))
    container = _container("--port=9000", "--model_name=m", "--model_base_path=/mnt/models/m")
    backend = _planner(real).plan(container, "spec.containers[0]", _pod(tmp_path), {}, {})
    assert backend.rest_port is None
    assert not any(word.startswith("--bind_address") for word in backend.argv)


def test_a_name_two_pods_share_is_told_apart_by_its_pod(tmp_path: Path) -> None:
    container = _container("--port=9000", "--model_name=m", "--model_base_path=/mnt/models/m")
    pod = _pod(tmp_path, shared=True)
    backend = _planner().plan(container, "spec.containers[0]", pod, {}, {})
    assert backend.name == "dep/main/pod1-tfserving"


def test_two_containers_of_one_pod_on_one_port_are_refused(tmp_path: Path) -> None:
    container = _container("--port=9000", "--model_name=m", "--model_base_path=/mnt/models/m")
    with pytest.raises(PlanError, match="both listen on port 9000"):
        _planner().plan(container, "spec.containers[1]", _pod(tmp_path), {9000: 40999}, {})
