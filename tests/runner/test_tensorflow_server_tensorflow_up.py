"""`up` on TF Serving graphs under protocol tensorflow, called with TF Serving's own API: plain
HTTP and the tensorflow_serving.apis stubs, each answer the model's own.

One runner serves four deployments from one file: Seldon's half_plus_two example
(`TENSORFLOW_SERVER`, the node is TF Serving itself; gs:// through --model-uri), the protocol
examples notebook's REST and gRPC manifests (TF Serving reading gs:// itself) and an A/B of two
TENSORFLOW_SERVER nodes under RANDOM_ABTEST (a local path and pvc:// through --volume);
another serves Seldon's multi-model example (the TF Serving container written out, a model
config in the copied folder). The notebooks' answers: {"instances": [1.0, 2.0, 5.0]} ->
[2.5, 3.0, 4.5].
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
import yaml
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.runner.local import LocalRunner
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA

GRAPHS = PROJECT_ROOT / "graphs" / "tensorflow-server"
HPT_URI = "gs://seldon-models/tfserving/half_plus_two"
MULTI_URI = "gs://seldon-models/tfserving/multi-model"
HALF_PLUS_TWO = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
HALF_PLUS_THREE = TFSERVING_TESTDATA / "saved_model_half_plus_three"
ANSWER = {"half_plus_two": 2.0, "half_plus_three": 3.0}
#: Seldon's half_plus_two examples: TENSORFLOW_SERVER, then the protocol notebook's REST and gRPC
EXAMPLES = ("hpt", "example-tfserving", "grpc-tfserving")

pytestmark = pytest.mark.timeout(900)


def multi_model_folder(root: Path) -> Path:
    """What the storage initializer would copy for the multi-model example: a model config
    naming /mnt/models paths, and one folder per model."""
    folder = root / "multi-model"
    folder.mkdir()
    (folder / "half_plus_two").symlink_to(HALF_PLUS_TWO)
    (folder / "half_plus_three").symlink_to(HALF_PLUS_THREE)
    entries = "".join(
        f'  config {{ name: "{name}" base_path: "/mnt/models/{name}" model_platform: '
        '"tensorflow" }\n'
        for name in ANSWER
    )
    (folder / "models.config").write_text(f"model_config_list {{\n{entries}}}\n")
    return folder


def tf_ab() -> dict[str, Any]:
    """RANDOM_ABTEST over two TENSORFLOW_SERVER nodes, named as the models they serve."""
    graph = {
        "name": "ab",
        "implementation": "RANDOM_ABTEST",
        "parameters": [{"name": "ratioA", "type": "FLOAT", "value": "0.5"}],
        "children": [
            {
                "name": "half-plus-two",
                "implementation": "TENSORFLOW_SERVER",
                "modelUri": str(HALF_PLUS_TWO),
            },
            {
                "name": "half-plus-three",
                "implementation": "TENSORFLOW_SERVER",
                "modelUri": "pvc://models/saved_model_half_plus_three",
            },
        ],
    }
    return {
        "apiVersion": "machinelearning.seldon.io/v1alpha3",
        "kind": "SeldonDeployment",
        "metadata": {"name": "tf-ab"},
        "spec": {"protocol": "tensorflow", "predictors": [{"name": "default", "graph": graph}]},
    }


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    root = tmp_path_factory.mktemp("tensorflow-protocol")
    graph = root / "graphs.yaml"
    examples = ("half-plus-two.yaml", "protocol-rest.yaml", "protocol-grpc.yaml")
    texts = [(GRAPHS / name).read_text() for name in examples]
    graph.write_text("\n---\n".join([*texts, yaml.safe_dump(tf_ab(), sort_keys=False)]))
    with LocalRunner(
        graph,
        volumes={"models": TFSERVING_TESTDATA},
        model_uris={HPT_URI: HALF_PLUS_TWO},
        log_dir=root / "logs",
        ready_timeout=420,
    ) as started:
        yield started


@pytest.fixture(scope="module")
def multi_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    """The multi-model example alone: its node is named after no model, and the gateway's
    /ready asks TF Serving for the model named like each node."""
    root = tmp_path_factory.mktemp("multi-model")
    with LocalRunner(
        GRAPHS / "multi-model.yaml",
        model_uris={MULTI_URI: multi_model_folder(root)},
        log_dir=root / "logs",
        ready_timeout=420,
    ) as started:
        yield started


def post(runner: LocalRunner, deployment: str, path: str, body: Any) -> requests.Response:
    return requests.post(
        f"{runner.http_url}/seldon/default/{deployment}{path}", json=body, timeout=30
    )


@pytest.mark.parametrize("deployment", EXAMPLES)
@pytest.mark.parametrize(
    "path", ["/v1/models/halfplustwo/:predict", "/v1/models/halfplustwo:predict"]
)
def test_seldons_half_plus_two_examples_answer_as_the_notebooks_say(
    runner: LocalRunner, deployment: str, path: str
) -> None:
    answer = post(runner, deployment, path, {"instances": [1.0, 2.0, 5.0]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [2.5, 3.0, 4.5]}


def metadata(deployment: str) -> tuple[tuple[str, str], ...]:
    return (("seldon", deployment), ("namespace", "default"))


def predict_request(model: str, x: list[float]) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.asarray(x, dtype=np.float32)))
    return request


@pytest.mark.parametrize("deployment", EXAMPLES)
def test_its_grpc_predict_answers_with_the_version_tf_serving_loaded(
    runner: LocalRunner, deployment: str
) -> None:
    with grpc.insecure_channel(runner.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        answer = stub.Predict(
            predict_request("halfplustwo", [1.0, 2.0, 3.0]),
            metadata=metadata(deployment),
            timeout=30,
        )
    assert tensor_proto_to_ndarray(answer.outputs["y"]).tolist() == [2.5, 3.0, 3.5]
    assert (answer.model_spec.name, answer.model_spec.version.value) == ("halfplustwo", 123)
    assert answer.model_spec.signature_name == "serving_default"


def test_status_and_metadata_of_the_node_over_rest_and_grpc(runner: LocalRunner) -> None:
    base = f"{runner.http_url}/seldon/default/hpt/v1/models/halfplustwo"
    status = requests.get(base, timeout=30)
    assert status.status_code == 200, status.text
    [version] = status.json()["model_version_status"]
    assert (version["version"], version["state"]) == ("123", "AVAILABLE")
    described = requests.get(f"{base}/metadata", timeout=30)
    assert described.status_code == 200, described.text
    signatures = described.json()["metadata"]["signature_def"]["signature_def"]
    assert "serving_default" in signatures
    with grpc.insecure_channel(runner.grpc_target) as channel:
        model_status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "halfplustwo"}),
            metadata=metadata("hpt"),
            timeout=30,
        )
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec={"name": "halfplustwo"}, metadata_field=["signature_def"]
        )
        described_grpc = prediction_service_pb2_grpc.PredictionServiceStub(
            channel
        ).GetModelMetadata(request, metadata=metadata("hpt"), timeout=30)
    assert [s.version for s in model_status.model_version_status] == [123]
    assert described_grpc.model_spec.version.value == 123


@pytest.mark.parametrize("model", sorted(ANSWER))
def test_the_multi_model_example_serves_each_model_its_config_names(
    multi_runner: LocalRunner, model: str
) -> None:
    assert multi_runner.plan is not None
    (backend,) = multi_runner.plan.backends
    assert sorted(backend.models) == sorted(ANSWER)
    answer = post(
        multi_runner, "example-tfserving", f"/v1/models/{model}:predict", {"instances": [4.0]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [0.5 * 4.0 + ANSWER[model]]}


def test_the_tf_ab_routes_between_two_tf_serving_nodes_over_rest_and_grpc(
    runner: LocalRunner,
) -> None:
    arms = ["half-plus-two", "half-plus-three"]
    seen = set()
    for _ in range(16):
        answer = post(runner, "tf-ab", "/v1/models:predict", {"instances": [2.0]})
        assert answer.status_code == 200, answer.text
        arm = arms[json.loads(answer.headers["Seldon-Routing"])["ab"]]
        seen.add(arm)
        assert answer.json() == {"predictions": [1.0 + ANSWER[arm.replace("-", "_")]]}
    with grpc.insecure_channel(runner.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for _ in range(16):
            reply, call = stub.Predict.with_call(
                predict_request("", [2.0]), metadata=metadata("tf-ab"), timeout=30
            )
            arm = arms[json.loads(dict(call.trailing_metadata())["seldon-routing"])["ab"]]
            seen.add(arm)
            assert tensor_proto_to_ndarray(reply.outputs["y"]).tolist() == [
                1.0 + ANSWER[arm.replace("-", "_")]
            ]
    assert seen == set(arms)


def test_the_gateway_is_ready_once_every_model_is_available(runner: LocalRunner) -> None:
    assert requests.get(f"{runner.http_url}/ready", timeout=30).status_code == 200
    assert runner.plan is not None
    assert sorted(runner.plan.served_nodes) == [
        "example-tfserving/model/halfplustwo",
        "grpc-tfserving/model/halfplustwo",
        "hpt/default/halfplustwo",
        "tf-ab/default/half-plus-three",
        "tf-ab/default/half-plus-two",
    ]
    assert runner.plan.components == ()


def test_the_resources_variant_fills_the_written_container_and_serves_the_same(
    tmp_path: Path,
) -> None:
    """Seldon's half_plus_two with a container named after the node, resources only."""
    with LocalRunner(
        GRAPHS / "half-plus-two-resources.yaml",
        model_uris={HPT_URI: HALF_PLUS_TWO},
        log_dir=tmp_path / "logs",
        ready_timeout=420,
    ) as runner:
        answer = post(
            runner, "hpt", "/v1/models/halfplustwo:predict", {"instances": [1.0, 2.0, 5.0]}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": [2.5, 3.0, 4.5]}
        assert runner.plan is not None and list(runner.plan.served_nodes) == [
            "hpt/default/halfplustwo"
        ]
