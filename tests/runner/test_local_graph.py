"""Whole graphs from graphs/, unchanged, run by LocalRunner and called with Seldon's own client.

One runner for the module serves two deployments from one file (graphs/ab-versions.yaml and
graphs/single-cpu.yaml as written), so that killing one graph's component shows the other
still served. The models volume holds TF Serving's test models: version 1 of `half_plus_two`
answers 0.5x + 2 and version 2 answers 0.5x + 3, so every answer tells which version gave it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from seldon_core.seldon_client import SeldonClient
from seldon_core.utils import get_data_from_proto

from seldon_tfserving.runner.local import LocalRunner
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA
from tests.waiting import eventually

GRAPHS = PROJECT_ROOT / "graphs"
AB = "tfserving-ab-versions"
SINGLE = "tfserving-single-cpu"
#: what each version of half_plus_two answers for x, in the models folder built below
ANSWER_OF_VERSION = {1: lambda x: 0.5 * x + 2.0, 2: lambda x: 0.5 * x + 3.0}
ARM_VERSION = {"model-stable": 1, "model-canary": 2}

pytestmark = pytest.mark.timeout(600)


def models_volume(root: Path) -> Path:
    """half_plus_two with version 1 = TF Serving's half_plus_two, 2 = its half_plus_three."""
    model = root / "half_plus_two"
    model.mkdir(parents=True)
    (model / "1").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu" / "00000123")
    (model / "2").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_three" / "00000123")
    return root


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    root = tmp_path_factory.mktemp("graphs")
    combined = root / "two-graphs.yaml"
    combined.write_text(
        (GRAPHS / "ab-versions.yaml").read_text()
        + "\n---\n"
        + (GRAPHS / "single-cpu.yaml").read_text()
    )
    with LocalRunner(
        combined,
        volumes={"models": models_volume(root / "models")},
        log_dir=root / "logs",
        ready_timeout=240,
    ) as started:
        yield started


def client(runner: LocalRunner, deployment: str, gateway: str, transport: str) -> SeldonClient:
    port = runner.http_port if transport == "rest" else runner.grpc_port
    return SeldonClient(
        deployment_name=deployment,
        namespace="default",
        gateway=gateway,
        transport=transport,
        gateway_endpoint=f"127.0.0.1:{port}",
        client_return_type="proto",
    )


def predict(seldon: SeldonClient, x: np.ndarray[Any, Any]) -> Any:
    result = seldon.predict(data=x)
    assert result.success, result.msg
    return result


@pytest.mark.parametrize("gateway", ["istio", "ambassador"])
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_the_ab_graph_answers_from_the_version_of_the_arm_it_routed_to(
    runner: LocalRunner, gateway: str, transport: str
) -> None:
    seldon = client(runner, AB, gateway, transport)
    x = np.array([[1.0], [2.0], [5.0]])
    arms_seen = set()
    for _ in range(30):
        result = predict(seldon, x)
        branch = result.response.meta.routing["ab-router"]
        arm = ("model-stable", "model-canary")[branch]
        version = ARM_VERSION[arm]
        arms_seen.add(arm)
        answer = np.asarray(get_data_from_proto(result.response))
        np.testing.assert_allclose(answer, ANSWER_OF_VERSION[version](x))
        assert result.response.meta.tags["tfserving_version"].string_value == str(version)
    # ratio_a is 0.8: in 30 calls both arms are taken (all-stable has probability 0.8**30)
    assert arms_seen == {"model-stable", "model-canary"}


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_the_single_model_graph_is_served_beside_it(runner: LocalRunner, transport: str) -> None:
    result = predict(client(runner, SINGLE, "istio", transport), np.array([[4.0]]))
    # without a version policy TF Serving serves the latest version: 2, which adds three
    np.testing.assert_allclose(np.asarray(get_data_from_proto(result.response)), [[5.0]])


def test_graph_metadata_lists_each_arms_signature_and_version(runner: LocalRunner) -> None:
    reply = requests.get(f"{runner.http_url}/seldon/default/{AB}/api/v1.0/metadata", timeout=60)
    assert reply.status_code == 200, reply.text
    document = reply.json()
    models = document["models"]
    for arm, version in ARM_VERSION.items():
        assert models[arm]["platform"] == "tensorflow"
        assert models[arm]["versions"] == [str(version)]
    signature_input = [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}]
    signature_output = [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}]
    assert models["model-stable"]["inputs"] == signature_input
    # a router passes on its first child's ends
    assert document["graphinputs"] == signature_input
    assert document["graphoutputs"] == signature_output


def test_feedback_reaches_the_graph(runner: LocalRunner) -> None:
    seldon = client(runner, AB, "istio", "rest")
    result = predict(seldon, np.array([[1.0]]))
    feedback = seldon.feedback(
        prediction_request=result.request, prediction_response=result.response, reward=1.0
    )
    assert feedback.success, feedback.msg


def test_a_dead_backend_takes_its_pod_down_until_it_is_restarted(runner: LocalRunner) -> None:
    name = f"{AB}/default/tfserving"
    backend = runner.child(name)
    assert backend.pid is not None
    reported = len(runner.failures)
    os.killpg(backend.pid, signal.SIGKILL)
    failure = runner.wait_for_failure(timeout_s=10, since=reported)
    assert failure is not None and failure.name == name
    assert set(failure.nodes) == {f"{AB}/default/{n}" for n in ARM_VERSION} | {
        f"{AB}/default/ab-router"
    }
    url = f"{runner.http_url}/seldon/default/{AB}/api/v1.0/predictions"
    assert requests.post(url, json={"data": {"ndarray": [[1.0]]}}, timeout=10).status_code == 503
    # the other graph is untouched
    predict(client(runner, SINGLE, "istio", "rest"), np.array([[1.0]]))

    runner.restart_backend(name)
    reply = requests.post(url, json={"data": {"ndarray": [[1.0]]}}, timeout=30)
    assert reply.status_code == 200, reply.text


def test_a_killed_component_makes_its_graph_503_and_the_other_is_still_served(
    runner: LocalRunner,
) -> None:
    victim = runner.child(f"{SINGLE}/default/classifier")
    assert victim.pid is not None
    reported = len(runner.failures)
    os.killpg(victim.pid, signal.SIGKILL)
    failure = runner.wait_for_failure(timeout_s=10, since=reported)
    assert failure is not None
    assert failure.name == f"{SINGLE}/default/classifier"
    assert failure.returncode == -signal.SIGKILL
    assert failure.nodes == (f"{SINGLE}/default/classifier",)

    url = f"{runner.http_url}/seldon/default/{SINGLE}/api/v1.0/predictions"
    reply = requests.post(url, json={"data": {"ndarray": [[4.0]]}}, timeout=10)
    assert reply.status_code == 503
    assert reply.json()["status"]["status"] == "FAILURE"

    result = predict(client(runner, AB, "istio", "rest"), np.array([[2.0]]))
    assert np.asarray(get_data_from_proto(result.response)).shape == (1, 1)
    # the other processes were left alone
    assert all(
        child.running() for name, child in runner.supervisor.children.items() if SINGLE not in name
    )


def test_a_killed_backend_takes_down_the_nodes_of_its_pod(runner: LocalRunner) -> None:
    backend = runner.child(f"{SINGLE}/default/tfserving")
    assert backend.pid is not None
    reported = len(runner.failures)
    os.killpg(backend.pid, signal.SIGKILL)
    failure = runner.wait_for_failure(timeout_s=10, since=reported)
    assert failure is not None
    assert failure.name == f"{SINGLE}/default/tfserving"
    assert failure.nodes == (f"{SINGLE}/default/classifier",)
    url = f"{runner.http_url}/seldon/default/{SINGLE}/api/v1.0/predictions"
    assert requests.post(url, json={"data": {"ndarray": [[4.0]]}}, timeout=10).status_code == 503
    result = predict(client(runner, AB, "ambassador", "grpc"), np.array([[2.0]]))
    assert np.asarray(get_data_from_proto(result.response)).shape == (1, 1)


def test_stopping_ends_every_child(runner: LocalRunner) -> None:
    children = list(runner.supervisor.children.values())
    runner.stop()
    eventually(
        lambda: not any(child.running() for child in children),
        1,
        awaited="every child gone after the runner stopped",
    )
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{runner.http_url}/prometheus", timeout=2)
