"""The wrapper image's contract, checked without Docker.

The test reads what the image would run: the variables of `s2i/.s2i/environment` and the
Dockerfile's ENV, and the Dockerfile's CMD. It starts exactly that command with exactly those
variables (plus the ports and parameters Seldon's operator sets) against our TF-Serving-
compatible backend, and gets a prediction through it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from seldon_core import microservice

from seldon_tfserving.deploy import components
from tests.servers import PROJECT_ROOT, VENV_BIN, Backend, ServerProcess, free_port, port_open

S2I = PROJECT_ROOT / "s2i"


def s2i_environment() -> dict[str, str]:
    """`.s2i/environment`: KEY=VALUE lines, as s2i reads them."""
    values = {}
    for line in (S2I / ".s2i" / "environment").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (S2I / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
            pending = ""
    return instructions


def dockerfile(instruction: str) -> list[str]:
    return [args for word, args in dockerfile_instructions() if word == instruction]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for args in dockerfile("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def dockerfile_cmd() -> list[str]:
    """The image's start command: the last CMD, in exec (JSON) form."""
    command = json.loads(dockerfile("CMD")[-1])
    assert isinstance(command, list)
    return [str(part) for part in command]


def test_s2i_environment_selects_our_model_class() -> None:
    env = s2i_environment()
    assert env == {
        "MODEL_NAME": "seldon_tfserving.TfServingModel",
        "SERVICE_TYPE": "MODEL",
        "API_TYPE": "REST",
        "PERSISTENCE": "0",
    }
    component = components.component_named(env["MODEL_NAME"])
    assert component is not None and component.service_type == env["SERVICE_TYPE"]


def test_dockerfile_defaults_are_the_s2i_environment() -> None:
    env = dockerfile_env()
    for key, value in s2i_environment().items():
        assert env.get(key) == value, key


def test_dockerfile_base_user_and_ports() -> None:
    assert dockerfile("FROM") == ["python:3.12-slim"]
    users = dockerfile("USER")
    assert users and users[-1] not in ("0", "root"), "the server must not run as root"
    exposed = {int(port) for args in dockerfile("EXPOSE") for port in args.split()}
    assert exposed == {
        microservice.DEFAULT_HTTP_PORT,
        microservice.DEFAULT_GRPC_PORT,
        microservice.DEFAULT_METRICS_PORT,
    }


def test_dockerfile_command_is_seldons_microservice_with_the_env_choices() -> None:
    command = dockerfile_cmd()
    assert command[:2] == ["sh", "-c"]
    assert shlex.split(command[2]) == [
        "exec",
        "seldon-core-microservice",
        "$MODEL_NAME",
        "--service-type",
        "$SERVICE_TYPE",
    ]


def test_files_the_dockerfile_copies_build_the_wheel_s2i_installs(tmp_path: Path) -> None:
    """The Dockerfile's COPY set is a complete build context, and its wheel carries the
    CRD schema; s2i/requirements.txt names exactly that wheel."""
    context = tmp_path / "microservice"
    context.mkdir()
    for args in dockerfile("COPY"):
        *sources, destination = args.split()
        for source in sources:
            origin = PROJECT_ROOT / source
            target = context / (source if destination.endswith("/") else destination)
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, target)
    built = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(built), str(context)],
        check=True, timeout=240, capture_output=True,
    )  # fmt: skip
    wheels = [path.name for path in built.glob("*.whl")]
    wanted = [
        line.strip().removeprefix("./wheels/")
        for line in (S2I / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert wheels == wanted
    with zipfile.ZipFile(built / wheels[0]) as archive:
        names = archive.namelist()
    assert "seldon_tfserving/deploy/data/seldondeployment-v1.openapi.json" in names
    assert "seldon_tfserving/model.py" in names


@pytest.fixture
def image_process(backend: Backend, log_dir: Path) -> Iterator[tuple[ServerProcess, int, int]]:
    """The image's CMD, started as the container would be, talking to the backend."""
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    parameters = [
        {"name": "model_name", "type": "STRING", "value": "half_plus_two"},
        {"name": "grpc_endpoint", "type": "STRING", "value": backend.grpc_endpoint},
        {"name": "rest_endpoint", "type": "STRING", "value": backend.rest_endpoint},
    ]
    env = {
        **dockerfile_env(),
        **s2i_environment(),
        # what Seldon's operator sets on the container
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http_port),
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc_port),
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics_port),
        "PREDICTIVE_UNIT_PARAMETERS": json.dumps(parameters),
        "PREDICTIVE_UNIT_ID": "classifier",
        "PREDICTOR_ID": "default",
        "SELDON_DEPLOYMENT_ID": "tfserving-single-cpu",
        # the image's PATH has the installed console scripts first, as the venv does here
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    process = ServerProcess(
        "image-cmd", dockerfile_cmd(), log_dir / f"image-cmd-{http_port}.log", env=env
    ).start()
    try:
        process.wait_until(
            lambda: (
                port_open(grpc_port)
                and requests.get(f"http://127.0.0.1:{http_port}/health/ping", timeout=2).ok
            )
        )
        yield process, http_port, metrics_port
    finally:
        process.stop()


def test_image_command_answers_a_prediction_through_tf_serving(
    image_process: tuple[ServerProcess, int, int],
) -> None:
    _, http_port, metrics_port = image_process
    reply = requests.post(
        f"http://127.0.0.1:{http_port}/api/v1.0/predictions",
        json={"data": {"ndarray": [[1.0], [2.0]]}},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["ndarray"] == [[2.5], [3.0]]
    assert port_open(metrics_port), "Seldon's metrics port follows PREDICTIVE_UNIT_METRICS_..."
