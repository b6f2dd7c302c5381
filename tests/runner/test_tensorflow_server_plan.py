"""`up`'s plan for `implementation: TENSORFLOW_SERVER`: the operator's pod, run from local
folders (pure: no processes). The model a modelUri names comes from this machine: a local path
or file:// in place, pvc:// through --volume CLAIM=DIR, any other URI through --model-uri."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from seldon_tfserving.runner.command import model_uri_mapping
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.plan import RunPlan, plan_run
from tests.runner.test_plan import PROGRAMS, component, flag_values, ports_from
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA

SERVER_GRAPHS = PROJECT_ROOT / "graphs" / "tensorflow-server"
HALF_PLUS_TWO = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"
HALF_PLUS_THREE = TFSERVING_TESTDATA / "saved_model_half_plus_three"
MNIST_URI = "gs://seldon-models/tfserving/mnist-model"
HPT_URI = "gs://seldon-models/tfserving/half_plus_two"


def graph_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((SERVER_GRAPHS / name).read_text()) if d]


def plan(
    docs: list[dict[str, Any]],
    tmp_path: Path,
    *,
    model_uris: dict[str, Path] | None = None,
    volumes: dict[str, Path] | None = None,
) -> RunPlan:
    return plan_run(
        docs,
        volumes=volumes or {},
        scratch_dir=tmp_path / "scratch",
        allocate_port=ports_from(24000),
        programs=PROGRAMS,
        model_uris=model_uris,
    )


def parameter_list(plan_: RunPlan, node: str) -> list[tuple[str, str]]:
    raw = json.loads(component(plan_, node).env["PREDICTIVE_UNIT_PARAMETERS"])
    return [(p["name"], p["value"]) for p in raw]


def test_seldons_mnist_runs_our_model_beside_tf_serving_on_local_ports(tmp_path: Path) -> None:
    models = tmp_path / "mnist"
    models.mkdir()
    result = plan(graph_docs("mnist-grpc.yaml"), tmp_path, model_uris={MNIST_URI: models})
    (backend,) = result.backends
    assert backend.name == "tfserving/default/tfserving"
    flags = flag_values(backend.argv)
    assert (flags["model_name"], flags["model_base_path"]) == ("mnist-model", str(models))
    assert backend.models == ("mnist-model",)
    proxy = component(result, "mnist-model")
    assert proxy.argv[1:4] == ("seldon_tfserving.TfServingModel", "--service-type", "MODEL")
    assert proxy.endpoint.transport == "grpc"
    # the operator's parameters, in its order, with TF Serving's in-pod address made local
    assert parameter_list(result, "mnist-model") == [
        ("signature_name", "predict_images"),
        ("model_name", "mnist-model"),
        ("model_input", "images"),
        ("model_output", "scores"),
        ("rest_endpoint", f"http://127.0.0.1:{backend.rest_port}"),
        ("grpc_endpoint", f"127.0.0.1:{backend.grpc_port}"),
        ("model_name", "mnist-model"),
    ]
    assert backend.serves == ("tfserving/default/mnist-model",)


def test_every_component_gets_the_operators_env_on_its_local_ports(tmp_path: Path) -> None:
    models = tmp_path / "mnist"
    models.mkdir()
    proxy = component(
        plan(graph_docs("mnist-grpc.yaml"), tmp_path, model_uris={MNIST_URI: models}),
        "mnist-model",
    )
    env = proxy.env
    assert env["PREDICTIVE_UNIT_ID"] == "mnist-model"
    assert env["PREDICTIVE_UNIT_IMAGE"] == "seldon-tfserving:0.1.0"
    assert env["SELDON_DEPLOYMENT_ID"] == "tfserving"  # metadata.name, not the old spec.name
    assert env["PREDICTOR_ID"] == "default"
    assert env["PREDICTOR_LABELS"] == '{"version":"default"}'
    assert env["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"] == str(proxy.endpoint.http_port)
    assert env["PREDICTIVE_UNIT_GRPC_SERVICE_PORT"] == str(proxy.endpoint.grpc_port)
    # endpoint.type GRPC: the service port is the gRPC one, as the operator sets it
    assert env["PREDICTIVE_UNIT_SERVICE_PORT"] == str(proxy.endpoint.grpc_port)
    assert env["PREDICTIVE_UNIT_METRICS_SERVICE_PORT"] == str(proxy.metrics_port)
    assert env["PREDICTIVE_UNIT_METRICS_ENDPOINT"] == "/prometheus"


def test_a_hand_written_component_gets_its_image_in_the_env_too(tmp_path: Path) -> None:
    docs = [
        d
        for d in yaml.safe_load_all(
            (Path(__file__).parent / "graphs" / "ab-local.yaml").read_text()
        )
        if d
    ]
    result = plan_run(
        docs,
        volumes={"models": tmp_path},
        scratch_dir=tmp_path / "scratch",
        allocate_port=ports_from(25000),
        programs=PROGRAMS,
    )
    for node in ("router", "stable", "canary"):
        assert component(result, node).env["PREDICTIVE_UNIT_IMAGE"] == "seldon-tfserving:0.1.0"
        assert component(result, node).env["PREDICTIVE_UNIT_ID"] == node


def test_a_remote_model_uri_without_a_mapping_is_refused_naming_uri_and_flag(
    tmp_path: Path,
) -> None:
    with pytest.raises(PlanError) as refused:
        plan(graph_docs("mnist-rest.yaml"), tmp_path)
    message = str(refused.value)
    assert f"modelUri '{MNIST_URI}', which `up` does not download" in message
    assert f"--model-uri {MNIST_URI}=DIR" in message


def test_a_pvc_uri_is_the_claims_folder(tmp_path: Path) -> None:
    claim = tmp_path / "claim"
    (claim / "export").mkdir(parents=True)
    docs = graph_docs("mnist-pvc.yaml")
    result = plan(docs, tmp_path, volumes={"seldon-mnist-tfjob-m68v5-modelpvc": claim})
    flags = flag_values(result.backends[0].argv)
    assert flags["model_base_path"] == str(claim / "export")
    with pytest.raises(PlanError, match=r"--volume seldon-mnist-tfjob-m68v5-modelpvc=DIR"):
        plan(docs, tmp_path)


@pytest.mark.parametrize("form", ["path", "file"])
def test_a_local_path_or_file_uri_is_used_in_place(form: str, tmp_path: Path) -> None:
    docs = graph_docs("half-plus-two.yaml")
    uri = str(HALF_PLUS_TWO) if form == "path" else f"file://{HALF_PLUS_TWO}"
    docs[0]["spec"]["predictors"][0]["graph"]["modelUri"] = uri
    result = plan(docs, tmp_path)
    assert flag_values(result.backends[0].argv)["model_base_path"] == str(HALF_PLUS_TWO)
    docs[0]["spec"]["predictors"][0]["graph"]["modelUri"] = str(tmp_path / "nowhere")
    with pytest.raises(PlanError, match="is not a folder on this machine"):
        plan(docs, tmp_path)


def test_under_protocol_tensorflow_the_node_is_a_backend_on_fresh_ports(tmp_path: Path) -> None:
    for name in ("half-plus-two.yaml", "half-plus-two-resources.yaml"):
        result = plan(graph_docs(name), tmp_path, model_uris={HPT_URI: HALF_PLUS_TWO})
        assert result.components == ()
        (backend,) = result.backends
        flags = flag_values(backend.argv)
        assert flags["model_name"] == "halfplustwo"
        assert flags["model_base_path"] == str(HALF_PLUS_TWO)
        assert {backend.grpc_port, backend.rest_port}.isdisjoint({9000, 9500})
        endpoint = result.served_nodes["hpt/default/halfplustwo"]
        assert (endpoint.http_port, endpoint.grpc_port) == (backend.rest_port, backend.grpc_port)
        # the operator's readiness probe (a TCP dial of the REST port), on the local port
        assert backend.readiness is not None
        assert (backend.readiness.port, backend.readiness.path) == (backend.rest_port, None)


def test_a_model_config_in_the_copied_folder_is_served_with_local_paths(tmp_path: Path) -> None:
    folder = tmp_path / "multi"
    folder.mkdir()
    (folder / "models.config").write_text(
        'model_config_list {\n  config { name: "half_plus_two" '
        'base_path: "/mnt/models/half_plus_two" model_platform: "tensorflow" }\n}\n'
    )
    uri = "gs://seldon-models/tfserving/multi-model"
    result = plan(graph_docs("multi-model.yaml"), tmp_path, model_uris={uri: folder})
    (backend,) = result.backends
    assert backend.models == ("half_plus_two",)
    # the gateway's /ready asks after the models the node's config serves, not the node's name
    assert result.served_nodes["example-tfserving/model/multi"].models == ("half_plus_two",)
    config = Path(flag_values(backend.argv)["model_config_file"])
    assert config.is_relative_to(tmp_path / "scratch")
    assert f'base_path: "{folder}/half_plus_two"' in result.files[config]


@pytest.mark.parametrize("name", ["protocol-rest.yaml", "protocol-grpc.yaml"])
def test_tf_serving_reading_gs_itself_gets_the_mapped_folder(name: str, tmp_path: Path) -> None:
    result = plan(graph_docs(name), tmp_path, model_uris={HPT_URI: HALF_PLUS_TWO})
    assert flag_values(result.backends[0].argv)["model_base_path"] == str(HALF_PLUS_TWO)
    with pytest.raises(PlanError, match=rf"--model-uri {HPT_URI}=DIR"):
        plan(graph_docs(name), tmp_path)


def two_arm_ab(protocol: str | None = None) -> list[dict[str, Any]]:
    """RANDOM_ABTEST over two TENSORFLOW_SERVER nodes, each in a pod of its own."""
    spec: dict[str, Any] = {
        "predictors": [
            {
                "name": "default",
                "graph": {
                    "name": "ab",
                    "implementation": "RANDOM_ABTEST",
                    "parameters": [{"name": "ratioA", "type": "FLOAT", "value": "0.5"}],
                    "children": [
                        {
                            "name": "two",
                            "implementation": "TENSORFLOW_SERVER",
                            "modelUri": str(HALF_PLUS_TWO),
                        },
                        {
                            "name": "three",
                            "implementation": "TENSORFLOW_SERVER",
                            "modelUri": f"file://{HALF_PLUS_THREE}",
                        },
                    ],
                },
                "componentSpecs": [
                    {"spec": {"containers": [{"name": "two"}]}},
                    {"spec": {"containers": [{"name": "three"}]}},
                ],
            }
        ]
    }
    if protocol:
        spec["protocol"] = protocol
    return [
        {
            "apiVersion": "machinelearning.seldon.io/v1",
            "kind": "SeldonDeployment",
            "metadata": {"name": "ab"},
            "spec": spec,
        }
    ]


def test_each_arm_reaches_the_tf_serving_of_its_own_pod(tmp_path: Path) -> None:
    result = plan(two_arm_ab(), tmp_path)
    assert result.gateway_nodes == ("ab/default/ab",)
    assert len(result.backends) == 2
    for arm, folder in (("two", HALF_PLUS_TWO), ("three", HALF_PLUS_THREE)):
        (own,) = [b for b in result.backends if f"ab/default/{arm}" in b.serves]
        assert dict(parameter_list(result, arm))["grpc_endpoint"] == f"127.0.0.1:{own.grpc_port}"
        assert flag_values(own.argv)["model_base_path"] == str(folder)
        assert flag_values(own.argv)["model_name"] == arm


def test_the_tf_servings_of_two_pods_are_told_apart_by_their_pod(tmp_path: Path) -> None:
    """The operator adds a container named `tfserving` to each pod: the processes, and so their
    logs and their stop, are named by the pod too (a pod alone keeps the plain name)."""
    result = plan(two_arm_ab(), tmp_path)
    by_arm = {b.serves: b.name for b in result.backends}
    assert by_arm == {
        ("ab/default/two",): "ab/default/pod0-tfserving",
        ("ab/default/three",): "ab/default/pod1-tfserving",
    }


def test_under_protocol_tensorflow_both_arms_are_tf_serving_nodes(tmp_path: Path) -> None:
    result = plan(two_arm_ab("tensorflow"), tmp_path)
    assert result.components == ()
    assert sorted(result.served_nodes) == ["ab/default/three", "ab/default/two"]


def test_two_arms_in_one_pod_are_refused_with_validates_words(tmp_path: Path) -> None:
    docs = two_arm_ab()
    predictor = docs[0]["spec"]["predictors"][0]
    del predictor["componentSpecs"]
    with pytest.raises(PlanError) as refused:
        plan(docs, tmp_path)
    assert "spec.predictors[0].graph.children[1]: TENSORFLOW_SERVER nodes 'two' and 'three'" in (
        str(refused.value)
    )


@pytest.mark.parametrize("path", sorted(SERVER_GRAPHS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_plans_with_local_folders(path: Path, tmp_path: Path) -> None:
    (tmp_path / "claim" / "export").mkdir(parents=True)
    (tmp_path / "models.config").write_text(
        'model_config_list { config { name: "m" base_path: "/mnt/models/m" } }\n'
    )
    uris = {
        MNIST_URI: tmp_path,
        HPT_URI: HALF_PLUS_TWO,
        "gs://seldon-models/tfserving/multi-model": tmp_path,
    }
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    result = plan(
        docs,
        tmp_path,
        model_uris=uris,
        volumes={"seldon-mnist-tfjob-m68v5-modelpvc": tmp_path / "claim"},
    )
    assert result.backends
    assert result.endpoints


def test_the_flag_takes_uri_then_folder(tmp_path: Path) -> None:
    assert model_uri_mapping(f"https://host/m?v=1={tmp_path}") == ("https://host/m?v=1", tmp_path)
    for text in ("gs://no-folder", f"gs://x={tmp_path / 'missing'}"):
        with pytest.raises(argparse.ArgumentTypeError):
            model_uri_mapping(text)
