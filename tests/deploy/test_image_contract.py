"""The wrapper images' contract, checked without Docker.

There are two images (`ImageStack`): the default one on seldon-core 1.19 (BSL 1.1,
`s2i/Dockerfile`) and the Apache-2.0 one on seldon-core 1.17.1 (`s2i/Dockerfile.apache`). The
test reads what each would run: the variables of `s2i/.s2i/environment` and the Dockerfile's
ENV, and the Dockerfile's CMD. In the venv of one stack (`make test` or `make test-apache`) it
starts exactly that stack's command with exactly those variables (plus the ports and
parameters Seldon's operator sets) against our TF-Serving-compatible backend, and gets a
prediction through it; then it runs the pod the operator builds for `implementation:
TENSORFLOW_SERVER` on its own ports and paths, and asks it what the kubelet, the executor and
Prometheus ask.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import requests
from seldon_core import microservice

from seldon_tfserving.deploy import components
from seldon_tfserving.deploy.predictor_servers import OUR_IMAGES
from seldon_tfserving.deploy.render_options import DEFAULT_WRAPPER_IMAGE
from seldon_tfserving.deploy.tensorflow_server import expand_tensorflow_servers
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.grpc_runtime import IOMGR_IO_EXPERIMENTS
from seldon_tfserving.microservice.server_settings import REST_PORT_BOUNDS_ENV
from seldon_tfserving.runner.launch import LOOPBACK, microservice_ready
from tests.deploy.pod_sandbox import PodSandbox
from tests.process_tree import tree_gone_by
from tests.servers import (
    PROJECT_ROOT,
    TFSERVING_TESTDATA,
    VENV_BIN,
    Backend,
    ServerProcess,
    free_port,
    port_open,
)

S2I = PROJECT_ROOT / "s2i"
CONSTRAINTS = PROJECT_ROOT / "constraints"


@dataclass(frozen=True)
class ImageStack:
    """One of the two wrapper images: its Dockerfile and s2i requirements, the constraints file
    pinning its stack, and what that stack runs on."""

    name: str
    dockerfile: Path
    requirements: Path
    constraints: Path
    base_image: str
    seldon_core: str
    #: the `.s2i/environment` an s2i build of this stack takes
    s2i_environment: Path

    @property
    def python(self) -> str:
        """The Python of the base image (`python:3.11-slim` -> `3.11`)."""
        return self.base_image.removeprefix("python:").split("-")[0]


DEFAULT_STACK = ImageStack(
    "bsl-1.1",
    S2I / "Dockerfile",
    S2I / "requirements.txt",
    CONSTRAINTS / "bsl-1.1.txt",
    "python:3.12-slim",
    "1.19.0",
    S2I / ".s2i" / "environment",
)
APACHE_STACK = ImageStack(
    "apache-2.0",
    S2I / "Dockerfile.apache",
    S2I / "requirements-apache.txt",
    CONSTRAINTS / "apache-2.0.txt",
    "python:3.11-slim",
    "1.17.1",
    # copied over .s2i/environment for that build (s2i/README.md): its gunicorn 20.1 cannot
    # serve the bounded REST port, and a component given those bounds refuses to start
    S2I / "environment-apache",
)
STACKS = [pytest.param(stack, id=stack.name) for stack in (DEFAULT_STACK, APACHE_STACK)]


def stack_of_this_venv() -> ImageStack:
    """The image whose stack this venv is (its seldon-core and Python), for the tests that run
    the image's command here; a venv of neither stack is an error, not a pass."""
    installed = metadata.version("seldon-core")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    for stack in (DEFAULT_STACK, APACHE_STACK):
        if stack.seldon_core == installed and stack.python == python:
            return stack
    raise AssertionError(f"this venv (seldon-core {installed}, Python {python}) is no image's")


def pins(path: Path) -> list[str]:
    """The requirement lines of a requirements or constraints file (comments, wheels dropped)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "./wheels/"))]


def s2i_environment(stack: ImageStack = DEFAULT_STACK) -> dict[str, str]:
    """The stack's `.s2i/environment`: KEY=VALUE lines, as s2i reads them."""
    values = {}
    for line in stack.s2i_environment.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def dockerfile_instructions(stack: ImageStack) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in stack.dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
            pending = ""
    return instructions


def dockerfile(instruction: str, stack: ImageStack = DEFAULT_STACK) -> list[str]:
    return [args for word, args in dockerfile_instructions(stack) if word == instruction]


def dockerfile_env(stack: ImageStack = DEFAULT_STACK) -> dict[str, str]:
    env = {}
    for args in dockerfile("ENV", stack):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def dockerfile_cmd(stack: ImageStack = DEFAULT_STACK) -> list[str]:
    """The image's start command: the last CMD, in exec (JSON) form."""
    command = json.loads(dockerfile("CMD", stack)[-1])
    assert isinstance(command, list)
    return [str(part) for part in command]


@pytest.mark.parametrize("stack", STACKS)
def test_s2i_environment_selects_our_model_class(stack: ImageStack) -> None:
    env = s2i_environment(stack)
    bounds = {
        "MODEL_NAME": "seldon_tfserving.TfServingModel",
        "SERVICE_TYPE": "MODEL",
        "API_TYPE": "REST",
        "PERSISTENCE": "0",
        "GUNICORN_THREADS": "8",
        "GRPC_THREADS": "8",
        # what our entrypoint sets too; s2i's run script starts seldon-core-microservice itself
        "GRPC_EXPERIMENTS": IOMGR_IO_EXPERIMENTS,
        "SELDON_TFSERVING_STOP_GRACE_S": "3",
    }
    rest_port_bounds = {
        "SELDON_TFSERVING_REST_HEADER_TIMEOUT_S": "10",
        "SELDON_TFSERVING_REST_BODY_TIMEOUT_S": "60",
        "SELDON_TFSERVING_REST_MAX_CONNECTIONS": "1000",
    }
    assert set(rest_port_bounds) == set(REST_PORT_BOUNDS_ENV)
    assert env == (bounds if stack is APACHE_STACK else {**bounds, **rest_port_bounds})
    component = components.component_named(env["MODEL_NAME"])
    assert component is not None and component.service_type == env["SERVICE_TYPE"]


@pytest.mark.parametrize("stack", STACKS)
def test_dockerfile_defaults_are_the_s2i_environment(stack: ImageStack) -> None:
    env = dockerfile_env(stack)
    for key, value in s2i_environment(stack).items():
        assert env.get(key) == value, key


@pytest.mark.parametrize("stack", STACKS)
def test_dockerfile_base_user_and_ports(stack: ImageStack) -> None:
    assert dockerfile("FROM", stack) == [stack.base_image]
    users = dockerfile("USER", stack)
    assert users and users[-1] not in ("0", "root"), "the server must not run as root"
    exposed = {int(port) for args in dockerfile("EXPOSE", stack) for port in args.split()}
    assert exposed == {
        microservice.DEFAULT_HTTP_PORT,
        microservice.DEFAULT_GRPC_PORT,
        microservice.DEFAULT_METRICS_PORT,
    }


@pytest.mark.parametrize("stack", STACKS)
def test_dockerfile_command_is_seldons_microservice_through_ours_with_the_env_choices(
    stack: ImageStack,
) -> None:
    command = dockerfile_cmd(stack)
    assert command[:2] == ["sh", "-c"]
    assert shlex.split(command[2]) == [
        "exec",
        "python",
        "-m",
        "seldon_tfserving.microservice",
        "$MODEL_NAME",
        "--service-type",
        "$SERVICE_TYPE",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_dockerfile_installs_the_package_under_its_stacks_constraints(stack: ImageStack) -> None:
    """The image pins its stack with the constraints file it copies in, and the s2i
    requirements of the same image pin exactly the same releases."""
    installs = [args for args in dockerfile("RUN", stack) if args.startswith("pip install")]
    relative = stack.constraints.relative_to(PROJECT_ROOT)
    assert installs and installs[0].startswith(f"pip install . -c {relative} "), installs
    assert pins(stack.requirements) == pins(stack.constraints)
    assert f"seldon-core=={stack.seldon_core}" in pins(stack.constraints)


def test_the_apache_image_differs_from_the_default_only_in_base_and_stack() -> None:
    """Same user, files, env, ports and command: a team choosing the Apache-2.0 image changes
    its licence and stack, nothing of the contract (but the REST port's bounds, which its
    gunicorn cannot serve)."""

    def served(args: str) -> str:
        return " ".join(
            word for word in args.split() if word.split("=", 1)[0] not in REST_PORT_BOUNDS_ENV
        )

    def contract(stack: ImageStack) -> list[tuple[str, str]]:
        pinned_by = str(stack.constraints.relative_to(PROJECT_ROOT))
        return [
            (word, served(args.replace(pinned_by, "<constraints>")))
            for word, args in dockerfile_instructions(stack)
            if word != "FROM"
        ]

    assert contract(APACHE_STACK) == contract(DEFAULT_STACK)


@pytest.mark.parametrize("stack", STACKS)
def test_files_the_dockerfile_copies_build_the_wheel_s2i_installs(
    stack: ImageStack, tmp_path: Path
) -> None:
    """The Dockerfile's COPY set is a complete build context, and its wheel carries the
    CRD schema; the stack's s2i requirements name exactly that wheel."""
    context = tmp_path / "microservice"
    context.mkdir()
    for args in dockerfile("COPY", stack):
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
        for line in stack.requirements.read_text().splitlines()
        if line.strip().startswith("./wheels/")
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
    stack = stack_of_this_venv()
    env = {
        **dockerfile_env(stack),
        **s2i_environment(stack),
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
        "image-cmd", dockerfile_cmd(stack), log_dir / f"image-cmd-{http_port}.log", env=env
    ).start()
    try:
        address = ServerAddress(LOOPBACK, http_port, grpc_port)
        process.wait_until(lambda: microservice_ready(address))
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


def test_image_command_stops_on_sigterm_within_5_s_with_exit_code_0(
    image_process: tuple[ServerProcess, int, int],
) -> None:
    """Kubernetes sends SIGTERM to the container's PID 1 (the CMD's exec'd python): the whole
    process tree ends within 5 s, code 0, instead of waiting out the grace period."""
    process, http_port, _ = image_process
    assert process.process is not None and process.pid is not None
    session = process.pid
    signalled = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    returncode = process.process.wait(timeout=30)
    took = time.monotonic() - signalled
    assert returncode == 0, process.log_tail()
    assert took <= 5.0, f"{took:.1f} s: {process.log_tail()}"
    assert not port_open(http_port)
    left = tree_gone_by(session, signalled + 5.0)
    assert left == [], f"processes of the image still running 5 s after SIGTERM: {left}"


# --- the pod Seldon's operator builds for implementation: TENSORFLOW_SERVER -----------------
#
# With `render operator-config` applied, the operator runs this image as the node's container
# of every TENSORFLOW_SERVER node, beside TF Serving. Both run here in a pod's own namespaces
# (tests/deploy/pod_sandbox.py), on the operator's own ports and paths: the image's CMD with
# exactly the env the operator gives the container, TF Serving with exactly its args.

OPERATOR_NODE = "classifier"
#: Every variable of the operator's the wrapper reads (seldon_core's env and metrics).
OPERATOR_ENV = (
    "PREDICTIVE_UNIT_PARAMETERS",
    "PREDICTIVE_UNIT_SERVICE_PORT",
    "PREDICTIVE_UNIT_HTTP_SERVICE_PORT",
    "PREDICTIVE_UNIT_GRPC_SERVICE_PORT",
    "PREDICTIVE_UNIT_METRICS_SERVICE_PORT",
    "PREDICTIVE_UNIT_METRICS_ENDPOINT",
    "PREDICTIVE_UNIT_ID",
    "PREDICTIVE_UNIT_IMAGE",
    "SELDON_DEPLOYMENT_ID",
    "PREDICTOR_ID",
    "PREDICTOR_LABELS",
)


def operator_pod() -> dict[str, Any]:
    """The pod spec the operator builds for one TENSORFLOW_SERVER node (protocol seldon)."""
    doc = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "tfserving"},
        "spec": {
            "predictors": [
                {
                    "name": "default",
                    "graph": {
                        "name": OPERATOR_NODE,
                        "implementation": "TENSORFLOW_SERVER",
                        "modelUri": "gs://my-bucket/half_plus_two",
                    },
                }
            ]
        },
    }
    expanded = expand_tensorflow_servers(doc).document
    pod: dict[str, Any] = expanded["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    return pod


def containers_of_pod(pod: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    by_name = {c["name"]: c for c in pod["containers"]}
    return by_name[OPERATOR_NODE], by_name["tfserving"]


def operator_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's env as the operator writes it (the image's own ENV left to the image)."""
    return {
        e["name"]: e["value"]
        for e in container["env"]
        if e["name"] not in OUR_IMAGES.seldon_image_env
    }


def test_the_operator_gives_the_image_every_variable_it_reads() -> None:
    node, _ = containers_of_pod(operator_pod())
    env = operator_env(node)
    assert set(OPERATOR_ENV) <= set(env)
    assert node["image"] == env["PREDICTIVE_UNIT_IMAGE"] == DEFAULT_WRAPPER_IMAGE
    # the operator's ports, not the image's EXPOSE defaults: the env moves them
    assert [
        env[f"PREDICTIVE_UNIT_{kind}_SERVICE_PORT"] for kind in ("HTTP", "GRPC", "METRICS")
    ] == [
        "9000",
        "9500",
        "6000",
    ]
    assert "MODEL_NAME" not in env, "the image's own ENV chooses TfServingModel"


@pytest.fixture
def operator_pod_running(log_dir: Path) -> Iterator[tuple[PodSandbox, dict[str, Any]]]:
    pod = operator_pod()
    node, server = containers_of_pod(pod)
    model = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    stack = stack_of_this_venv()
    env = {
        **dockerfile_env(stack),
        **s2i_environment(stack),
        **operator_env(node),
        "PATH": path,
    }
    with PodSandbox({"/mnt/models": model}) as sandbox:
        tfserving = ServerProcess(
            "pod-tfserving",
            sandbox.command([str(VENV_BIN / "seldon-tfserving"), "serve-models", *server["args"]]),
            log_dir / "pod-tfserving.log",
        ).start()
        image = ServerProcess(
            "pod-image-cmd",
            sandbox.command(dockerfile_cmd(stack)),
            log_dir / "pod-image-cmd.log",
            env=env,
        ).start()
        try:
            yield sandbox, node
        finally:
            image.stop()
            tfserving.stop()


def test_the_image_answers_the_pod_the_operator_builds_for_tensorflow_server(
    operator_pod_running: tuple[PodSandbox, dict[str, Any]],
) -> None:
    sandbox, node = operator_pod_running
    env = operator_env(node)
    spec = {
        "readiness_port": node["readinessProbe"]["tcpSocket"]["port"],
        "liveness_port": node["livenessProbe"]["tcpSocket"]["port"],
        "http_port": int(env["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"]),
        "grpc_port": int(env["PREDICTIVE_UNIT_GRPC_SERVICE_PORT"]),
        "metrics_port": int(env["PREDICTIVE_UNIT_METRICS_SERVICE_PORT"]),
        "metrics_path": env["PREDICTIVE_UNIT_METRICS_ENDPOINT"],
        "deadline_s": 240,
        "payload": [[1.0], [2.0]],
    }
    checks = sandbox.run(
        [sys.executable, "-m", "tests.deploy.pod_checks", json.dumps(spec)],
        {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        timeout_s=300,
    )
    assert checks.returncode == 0, checks.stderr[-3000:]
    report = json.loads(checks.stdout.splitlines()[-1])
    assert report["readiness"] and report["liveness"], "the operator's tcpSocket probes pass"
    rest = report["rest"]
    assert rest is not None and rest["status"] == 200, rest
    assert rest["body"]["data"]["ndarray"] == [[2.5], [3.0]]
    # PREDICTIVE_UNIT_ID and _IMAGE name the node and its image, as a cluster shows them
    assert rest["body"]["meta"]["requestPath"] == {OPERATOR_NODE: DEFAULT_WRAPPER_IMAGE}
    assert report["grpc"]["data"]["ndarray"] == [[2.5], [3.0]]
    metrics = report["metrics"]
    assert metrics["status"] == 200
    image, _, version = DEFAULT_WRAPPER_IMAGE.rpartition(":")
    labelled = [
        line
        for line in metrics["lines"]
        if f'model_image="{image}"' in line
        and f'model_version="{version}"' in line
        and f'model_name="{OPERATOR_NODE}"' in line
        and 'deployment_name="tfserving"' in line
        and 'predictor_name="default"' in line
    ]
    assert labelled, metrics["lines"][:5]
