"""`up` on `implementation: TENSORFLOW_SERVER` graphs under protocol seldon, called with Seldon's
own SeldonClient over REST and gRPC.

One runner serves three deployments from one file: Seldon's mnist-grpc example as written
(its modelUri mapped with --model-uri), an A/B of two TENSORFLOW_SERVER nodes under the
executor's RANDOM_ABTEST (modelUri a local path and a file:// URI), and one under our
ABTestRouter (pvc:// through --volume, gs:// through --model-uri). Each node is our
TfServingModel beside a TF Serving of its own pod; TF Serving's half_plus_two (0.5x + 2) and
half_plus_three (0.5x + 3) tell which arm answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import yaml
from seldon_core.seldon_client import SeldonClient
from seldon_core.utils import get_data_from_proto

from seldon_tfserving.runner.local import LocalRunner
from tests.runner.tensorflow_server_models import build_mnist_model, mnist_scores
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA

MNIST_GRAPH = PROJECT_ROOT / "graphs" / "tensorflow-server" / "mnist-grpc.yaml"
MNIST_URI = "gs://seldon-models/tfserving/mnist-model"
CANARY_URI = "gs://my-bucket/models/half_plus_three"
IMAGE = "seldon-tfserving:0.1.0"
ANSWER: dict[str, Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]] = {
    "half_plus_two": lambda x: 0.5 * x + 2.0,
    "half_plus_three": lambda x: 0.5 * x + 3.0,
}
#: deployment -> (the node that routes, its arms' names and the model each serves)
AB = {
    "ab-random": ("ab", {"two": "half_plus_two", "three": "half_plus_three"}),
    "ab-router": ("router", {"stable": "half_plus_two", "canary": "half_plus_three"}),
}
CONTRACT = (
    "PREDICTIVE_UNIT_PARAMETERS",
    "PREDICTIVE_UNIT_SERVICE_PORT",
    "PREDICTIVE_UNIT_HTTP_SERVICE_PORT",
    "PREDICTIVE_UNIT_GRPC_SERVICE_PORT",
    "PREDICTIVE_UNIT_METRICS_SERVICE_PORT",
    "PREDICTIVE_UNIT_ID",
    "PREDICTIVE_UNIT_IMAGE",
    "SELDON_DEPLOYMENT_ID",
    "PREDICTOR_ID",
)

pytestmark = pytest.mark.timeout(900)


def tf_node(name: str, uri: str, **parameters: tuple[str, str]) -> dict[str, Any]:
    node: dict[str, Any] = {"name": name, "implementation": "TENSORFLOW_SERVER", "modelUri": uri}
    if parameters:
        node["parameters"] = [
            {"name": n, "type": kind, "value": value} for n, (kind, value) in parameters.items()
        ]
    return node


def own_pods(*names: str, router: bool = False) -> list[dict[str, Any]]:
    """A componentSpec per TENSORFLOW_SERVER node (a pod holds one TF Serving), the router
    in the first."""
    pods = [{"spec": {"containers": [{"name": name}]}} for name in names]
    if router:
        container = {
            "name": "router",
            "image": IMAGE,
            "env": [
                {"name": "MODEL_NAME", "value": "seldon_tfserving.ABTestRouter"},
                {"name": "SERVICE_TYPE", "value": "ROUTER"},
            ],
        }
        pods[0]["spec"]["containers"].insert(0, container)
    return pods


def deployment(name: str, graph: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name},
        "spec": {"predictors": [{"name": "default", "graph": graph, "componentSpecs": pods}]},
    }


def ab_documents() -> list[dict[str, Any]]:
    random_ab = {
        "name": "ab",
        "implementation": "RANDOM_ABTEST",
        "parameters": [{"name": "ratioA", "type": "FLOAT", "value": "0.5"}],
        "children": [
            tf_node("two", str(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu")),
            tf_node("three", f"file://{TFSERVING_TESTDATA / 'saved_model_half_plus_three'}"),
        ],
    }
    router = {
        "name": "router",
        "type": "ROUTER",
        "parameters": [{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}],
        "children": [
            # TfServingModel's own parameters work beside the operator's
            tf_node(
                "stable",
                "pvc://models/saved_model_half_plus_two_cpu",
                model_version=("INT", "123"),
                timeout_ms=("INT", "20000"),
                transport=("STRING", "rest"),
            ),
            tf_node("canary", CANARY_URI),
        ],
    }
    return [
        deployment("ab-random", random_ab, own_pods("two", "three")),
        deployment("ab-router", router, own_pods("stable", "canary", router=True)),
    ]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    root = tmp_path_factory.mktemp("tensorflow-server")
    graph = root / "graphs.yaml"
    graph.write_text(
        MNIST_GRAPH.read_text() + "\n---\n" + yaml.safe_dump_all(ab_documents(), sort_keys=False)
    )
    mnist = build_mnist_model(root / "mnist-model")
    with LocalRunner(
        graph,
        volumes={"models": TFSERVING_TESTDATA},
        model_uris={
            MNIST_URI: mnist,
            CANARY_URI: TFSERVING_TESTDATA / "saved_model_half_plus_three",
        },
        log_dir=root / "logs",
        ready_timeout=420,
    ) as started:
        yield started


def test_every_tf_serving_runs_under_a_name_of_its_own(runner: LocalRunner) -> None:
    """Two pods of one predictor each get a `tfserving` container: each is supervised (and so
    stopped) apart, not one shadowing the other."""
    assert runner.plan is not None
    names = sorted(b.name for b in runner.plan.backends)
    assert names == [
        "ab-random/default/pod0-tfserving",
        "ab-random/default/pod1-tfserving",
        "ab-router/default/pod0-tfserving",
        "ab-router/default/pod1-tfserving",
        "tfserving/default/tfserving",
    ]
    assert all(runner.supervisor.children[name].running() for name in names)


def client(runner: LocalRunner, deployment_name: str, transport: str) -> SeldonClient:
    port = runner.http_port if transport == "rest" else runner.grpc_port
    return SeldonClient(
        deployment_name=deployment_name,
        namespace="default",
        gateway="istio",
        transport=transport,
        gateway_endpoint=f"127.0.0.1:{port}",
        client_return_type="proto",
    )


@pytest.mark.parametrize("transport", ["rest", "grpc"])
@pytest.mark.parametrize("deployment_name", sorted(AB))
def test_each_arm_answers_with_its_own_model(
    runner: LocalRunner, deployment_name: str, transport: str
) -> None:
    routing_node, arms = AB[deployment_name]
    seldon = client(runner, deployment_name, transport)
    x = np.array([[1.0], [2.0], [5.0]])
    seen = set()
    for _ in range(24):
        result = seldon.predict(data=x)
        assert result.success, result.msg
        meta = result.response.meta
        arm = list(arms)[meta.routing[routing_node]]
        seen.add(arm)
        np.testing.assert_allclose(
            np.asarray(get_data_from_proto(result.response)), ANSWER[arms[arm]](x)
        )
        # as on a cluster, each node names its image in the request path
        assert meta.requestPath[arm] == IMAGE
        assert meta.tags["tfserving_model"].string_value == arm
        # TF Serving's test models are version 123 (the one `stable` pins)
        assert meta.tags["tfserving_version"].string_value == "123"
    assert seen == set(arms)  # at 0.5, missing an arm in 24 draws happens once in 8 million


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_seldons_mnist_example_answers_the_models_own_scores(
    runner: LocalRunner, transport: str
) -> None:
    images = np.random.default_rng(7).random((3, 784))
    result = client(runner, "tfserving", transport).predict(data=images)
    assert result.success, result.msg
    scores = np.asarray(get_data_from_proto(result.response))
    np.testing.assert_allclose(scores, mnist_scores(images), rtol=1e-4, atol=1e-6)
    meta = result.response.meta
    assert meta.requestPath["mnist-model"] == IMAGE
    assert meta.tags["tfserving_signature"].string_value == "predict_images"


def test_metadata_of_the_node_is_its_signature(runner: LocalRunner) -> None:
    base = f"{runner.http_url}/seldon/default/tfserving/api/v1.0/metadata"
    node = requests.get(f"{base}/mnist-model", timeout=30)
    assert node.status_code == 200, node.text
    document = node.json()
    assert document["platform"] == "tensorflow"
    assert document["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 784]}]
    assert document["outputs"] == [{"name": "scores", "datatype": "FP32", "shape": [-1, 10]}]
    graph = requests.get(base, timeout=30)
    assert graph.status_code == 200, graph.text
    assert graph.json()["graphinputs"] == document["inputs"]


def test_every_deployment_is_ready(runner: LocalRunner) -> None:
    assert requests.get(f"{runner.http_url}/ready", timeout=30).status_code == 200
    for name in ("tfserving", *AB):
        status = requests.get(
            f"{runner.http_url}/seldon/default/{name}/api/v1.0/health/status", timeout=30
        )
        assert status.status_code == 200, (name, status.text)


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().partition("=")[::2] for entry in raw if b"=" in entry)


def test_every_component_runs_with_the_operators_env(runner: LocalRunner) -> None:
    assert runner.plan is not None
    components = {c.key: c for c in runner.plan.components}
    assert set(components) == {
        "tfserving/default/mnist-model",
        "ab-random/default/two",
        "ab-random/default/three",
        "ab-router/default/router",
        "ab-router/default/stable",
        "ab-router/default/canary",
    }
    for key, planned in components.items():
        deployment_name, predictor, node = key.split("/")
        pid = runner.child(key).pid
        assert pid is not None
        env = environ(pid)
        assert {name: env.get(name) for name in CONTRACT} == {
            name: planned.env[name] for name in CONTRACT
        }
        assert env["PREDICTIVE_UNIT_ID"] == node
        assert env["PREDICTIVE_UNIT_IMAGE"] == IMAGE
        assert (env["SELDON_DEPLOYMENT_ID"], env["PREDICTOR_ID"]) == (deployment_name, predictor)
        assert env["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"] == str(planned.endpoint.http_port)
        assert env["PREDICTIVE_UNIT_GRPC_SERVICE_PORT"] == str(planned.endpoint.grpc_port)
        assert env["PREDICTIVE_UNIT_METRICS_SERVICE_PORT"] == str(planned.metrics_port)
        parameters = {p["name"]: p["value"] for p in json.loads(env["PREDICTIVE_UNIT_PARAMETERS"])}
        if node != "router":  # a TENSORFLOW_SERVER node: the operator's last model_name wins
            assert parameters["model_name"] == node
            assert parameters["grpc_endpoint"].startswith("127.0.0.1:")
