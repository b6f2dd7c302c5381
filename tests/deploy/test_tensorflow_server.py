"""`implementation: TENSORFLOW_SERVER` expanded into the pods Seldon's operator builds (v1.18.2),
and checked by validate like a hand-written pod.

The referees: the operator's own test expectations (args, ports, names), Seldon's
`parse_parameters` for what the container makes of its PREDICTIVE_UNIT_PARAMETERS, and the
answers Seldon's notebooks record (`meta.requestPath` names the node's image).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from seldon_core.microservice import parse_parameters

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.findings import WARNING
from seldon_tfserving.deploy.predictor_servers import OUR_IMAGES, SELDON_IMAGES
from seldon_tfserving.deploy.tensorflow_server import Expansion, expand_tensorflow_servers
from seldon_tfserving.deploy.validate import validate_documents
from tests.deploy.manifests import GRAPHS, run_cli
from tests.deploy.test_image_contract import dockerfile_env

SERVER_GRAPHS = sorted((GRAPHS / "tensorflow-server").glob("*.yaml"))
NODE = "spec.predictors[0].graph"


def sdep(graph: dict[str, Any], protocol: str | None = None, **predictor: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"predictors": [{"name": "default", "graph": graph, **predictor}]}
    if protocol:
        spec["protocol"] = protocol
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "sdep"},
        "spec": spec,
    }


def tf_node(
    name: str = "mnist-model", uri: str = "gs://bucket/mnist", **extra: Any
) -> dict[str, Any]:
    return {"name": name, "implementation": "TENSORFLOW_SERVER", "modelUri": uri, **extra}


def param(name: str, value: str, kind: str = "STRING") -> dict[str, str]:
    return {"name": name, "type": kind, "value": value}


def pod(expansion: Expansion, index: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = expansion.document["spec"]["predictors"][0]["componentSpecs"][index]
    return spec["spec"]  # type: ignore[no-any-return]


def container(expansion: Expansion, name: str, index: int = 0) -> dict[str, Any]:
    return next(c for c in pod(expansion, index)["containers"] if c["name"] == name)


def env(expanded: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in expanded["env"]}


def findings_of(doc: dict[str, Any]) -> list[Any]:
    return [f for r in validate_documents([doc], schema.builtin_schemas()) for f in r.findings]


# --- protocol seldon: our TfServingModel in the node's container, TF Serving beside it ---------


def test_the_node_runs_our_wrapper_with_the_operators_parameters_appended() -> None:
    user = [param("signature_name", "predict_images"), param("model_name", "foo")]
    expansion = expand_tensorflow_servers(sdep(tf_node(parameters=user)))
    node = container(expansion, "mnist-model")
    assert node["image"] == OUR_IMAGES.seldon.reference == "seldon-tfserving:0.1.0"
    assert env(node)["MODEL_NAME"] == "seldon_tfserving.TfServingModel"
    assert env(node)["PREDICTIVE_UNIT_PARAMETERS"] == (
        '[{"name":"signature_name","value":"predict_images","type":"STRING"},'
        '{"name":"model_name","value":"foo","type":"STRING"},'
        '{"name":"rest_endpoint","value":"http://0.0.0.0:2001","type":"STRING"},'
        '{"name":"grpc_endpoint","value":"0.0.0.0:2000","type":"STRING"},'
        '{"name":"model_name","value":"mnist-model","type":"STRING"}]'
    )
    # Seldon's own parser keeps the last value of a name: the node's name wins
    assert parse_parameters(json.loads(env(node)["PREDICTIVE_UNIT_PARAMETERS"])) == {
        "signature_name": "predict_images",
        "model_name": "mnist-model",
        "rest_endpoint": "http://0.0.0.0:2001",
        "grpc_endpoint": "0.0.0.0:2000",
    }
    graph = expansion.document["spec"]["predictors"][0]["graph"]
    assert graph["type"] == "MODEL"
    assert [p["name"] for p in graph["parameters"]] == [
        "signature_name",
        "model_name",
        "rest_endpoint",
        "grpc_endpoint",
        "model_name",
    ]


@pytest.mark.parametrize("given", ["rest_endpoint", "grpc_endpoint"])
def test_an_endpoint_given_keeps_the_operator_from_adding_either(given: str) -> None:
    user = [param(given, "localhost:2000" if given == "grpc_endpoint" else "http://x:1")]
    user.append(param("transport", "grpc" if given == "grpc_endpoint" else "rest"))
    node = container(expand_tensorflow_servers(sdep(tf_node(parameters=user))), "mnist-model")
    parameters = parse_parameters(json.loads(env(node)["PREDICTIVE_UNIT_PARAMETERS"]))
    assert set(parameters) == {given, "transport", "model_name"}


def test_tf_serving_beside_it_serves_the_node_from_mnt_models() -> None:
    expansion = expand_tensorflow_servers(sdep(tf_node()))
    server = container(expansion, "tfserving")
    assert server["image"] == "tensorflow/serving:2.20.0"
    assert server["args"] == [
        "--port=2000",
        "--rest_api_port=2001",
        "--model_name=mnist-model",
        "--model_base_path=/mnt/models",
    ]
    assert server["ports"] == [
        {"containerPort": 2000, "protocol": "TCP"},
        {"containerPort": 2001, "protocol": "TCP"},
    ]
    assert server["volumeMounts"] == [
        {"name": "tfserving-provision-location", "mountPath": "/mnt/models", "readOnly": True}
    ]
    assert "env" not in server and "readinessProbe" not in server
    [initializer] = pod(expansion)["initContainers"]
    assert initializer["name"] == "tfserving-model-initializer"
    assert initializer["image"] == "seldonio/rclone-storage-initializer:1.18.2"
    assert initializer["args"] == ["gs://bucket/mnist", "/mnt/models"]
    assert pod(expansion)["volumes"] == [{"name": "tfserving-provision-location", "emptyDir": {}}]
    [source] = expansion.model_sources
    assert (source.node, source.uri, source.volume) == (
        "mnist-model",
        "gs://bucket/mnist",
        "tfserving-provision-location",
    )


def test_a_pvc_uri_is_mounted_and_still_copied() -> None:
    node = tf_node(uri="pvc://claim/some/export", storageInitializerImage="my/init:1")
    node["envSecretRefName"] = "creds"
    expansion = expand_tensorflow_servers(sdep(node))
    volumes = pod(expansion)["volumes"]
    assert {"name": "kfserving-pvc-source", "persistentVolumeClaim": {"claimName": "claim"}} in (
        volumes
    )
    [initializer] = pod(expansion)["initContainers"]
    assert initializer["args"] == ["/mnt/pvc/some/export", "/mnt/models"]
    assert initializer["image"] == "my/init:1"
    assert initializer["envFrom"] == [{"secretRef": {"name": "creds"}}]
    mounts = {m["name"]: m["mountPath"] for m in container(expansion, "tfserving")["volumeMounts"]}
    assert mounts == {
        "kfserving-pvc-source": "/mnt/pvc",
        "tfserving-provision-location": "/mnt/models",
    }
    [source] = expansion.model_sources
    assert (source.claim, source.claim_path) == ("claim", "some/export")


def test_every_node_container_gets_the_operators_env_ports_and_probes() -> None:
    expansion = expand_tensorflow_servers(sdep(tf_node(), labels={"team": "ml"}))
    node = container(expansion, "mnist-model")
    values = env(node)
    assert {
        k: values[k] for k in values if k.startswith(("PREDICTIVE_UNIT", "SELDON", "PREDICTOR"))
    } == {
        "PREDICTIVE_UNIT_SERVICE_PORT": "9000",
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "9000",
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": "9500",
        "PREDICTIVE_UNIT_PARAMETERS": values["PREDICTIVE_UNIT_PARAMETERS"],
        "PREDICTIVE_UNIT_ID": "mnist-model",
        "PREDICTIVE_UNIT_IMAGE": "seldon-tfserving:0.1.0",
        "PREDICTOR_ID": "default",
        "PREDICTOR_LABELS": '{"team":"ml","version":"default"}',
        "SELDON_DEPLOYMENT_ID": "sdep",
        "SELDON_EXECUTOR_ENABLED": "true",
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": "6000",
        "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
    }
    assert node["ports"] == [
        {"name": "metrics", "containerPort": 6000, "protocol": "TCP"},
        {"name": "http", "containerPort": 9000, "protocol": "TCP"},
        {"name": "grpc", "containerPort": 9500, "protocol": "TCP"},
    ]
    assert node["readinessProbe"]["tcpSocket"] == {"port": 9000}
    assert node["readinessProbe"]["initialDelaySeconds"] == 20
    assert node["livenessProbe"]["initialDelaySeconds"] == 60
    assert node["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sh", "-c", "/bin/sleep 10"]


def test_under_grpc_the_probes_and_service_port_are_the_grpc_port() -> None:
    expansion = expand_tensorflow_servers(sdep(tf_node(endpoint={"type": "GRPC"})))
    node = container(expansion, "mnist-model")
    assert node["readinessProbe"]["tcpSocket"] == {"port": 9500}
    assert env(node)["PREDICTIVE_UNIT_SERVICE_PORT"] == "9500"
    graph = expansion.document["spec"]["predictors"][0]["graph"]
    assert graph["endpoint"] == {
        "type": "GRPC",
        "httpPort": 9000,
        "grpcPort": 9500,
        "service_port": 9500,
    }


def test_seldons_own_images_give_the_proxy_its_notebooks_show() -> None:
    expansion = expand_tensorflow_servers(sdep(tf_node()), SELDON_IMAGES)
    node = container(expansion, "mnist-model")
    assert env(node)["PREDICTIVE_UNIT_IMAGE"] == "seldonio/tfserving-proxy:1.18.2"
    assert "MODEL_NAME" not in env(node)
    assert container(expansion, "tfserving")["image"] == "tensorflow/serving:2.1.0"


def test_the_wrapper_images_env_is_its_dockerfiles() -> None:
    baked = dockerfile_env()
    assert {k: baked[k] for k in OUR_IMAGES.seldon_image_env} == dict(OUR_IMAGES.seldon_image_env)


def test_ports_are_numbered_across_every_container_as_the_operator_does() -> None:
    graph = {
        "name": "ab",
        "implementation": "RANDOM_ABTEST",
        "parameters": [param("ratioA", "0.5", "FLOAT")],
        "children": [tf_node("a"), tf_node("b")],
    }
    pods = [
        {"spec": {"containers": [{"name": "sidecar", "image": "x"}, {"name": "a"}]}},
        {"spec": {"containers": [{"name": "b", "resources": {"requests": {"cpu": "1"}}}]}},
    ]
    expansion = expand_tensorflow_servers(sdep(graph, componentSpecs=pods))
    a, b = container(expansion, "a", 0), container(expansion, "b", 1)
    # the sidecar takes 9000/9500 without being a node; each node its own metrics port
    assert [p["containerPort"] for p in a["ports"]] == [6000, 9001, 9501]
    assert [p["containerPort"] for p in b["ports"]] == [6001, 9002, 9502]
    assert b["resources"] == {"requests": {"cpu": "1"}}, "what the user wrote is kept"
    assert findings_of(sdep(graph, componentSpecs=pods)) == []


def test_a_document_without_the_server_is_not_copied() -> None:
    doc = sdep({"name": "m", "type": "MODEL"})
    assert expand_tensorflow_servers(doc).document is doc


# --- protocol tensorflow: the node's container is TF Serving itself ----------------------------


def test_under_protocol_tensorflow_the_node_is_tf_serving_on_its_own_ports() -> None:
    expansion = expand_tensorflow_servers(sdep(tf_node("halfplustwo"), "tensorflow"))
    [server] = pod(expansion)["containers"]
    assert server["name"] == "halfplustwo"
    assert server["image"] == "tensorflow/serving:2.20.0"
    assert server["args"] == [
        "--port=9500",
        "--rest_api_port=9000",
        "--model_name=halfplustwo",
        "--model_base_path=/mnt/models",
    ]
    assert env(server)["PREDICTIVE_UNIT_IMAGE"] == "", "the image is filled after the env"
    assert server["readinessProbe"]["tcpSocket"] == {"port": 9000}
    [initializer] = pod(expansion)["initContainers"]
    assert initializer["name"] == "halfplustwo-model-initializer"
    assert pod(expansion)["volumes"] == [{"name": "halfplustwo-provision-location", "emptyDir": {}}]


def test_a_written_tf_serving_container_keeps_its_args_and_ports() -> None:
    written = {
        "name": "multi",
        "image": "tensorflow/serving",
        "args": ["--port=8500", "--rest_api_port=8501", "--model_config_file=/mnt/models/m.config"],
        "ports": [{"name": "http", "containerPort": 8501}, {"name": "grpc", "containerPort": 8500}],
    }
    doc = sdep(tf_node("multi"), "tensorflow", componentSpecs=[{"spec": {"containers": [written]}}])
    server = container(expand_tensorflow_servers(doc), "multi")
    assert server["args"] == written["args"]
    assert server["image"] == "tensorflow/serving"
    assert server["readinessProbe"]["tcpSocket"] == {"port": 8501}


def test_a_model_name_other_than_the_node_is_reported_under_either_protocol() -> None:
    for protocol, words in ((None, "the operator appends"), ("tensorflow", "reaches nothing")):
        doc = sdep(tf_node(parameters=[param("model_name", "other")]), protocol)
        [finding] = findings_of(doc)
        assert (finding.severity, finding.path) == (WARNING, f"{NODE}.parameters[0].value")
        assert words in finding.message


# --- what the operator would build but could not run -------------------------------------------


def test_two_nodes_sharing_one_pod_under_seldon_are_refused() -> None:
    graph = {
        "name": "ab",
        "implementation": "RANDOM_ABTEST",
        "parameters": [param("ratioA", "0.5", "FLOAT")],
        "children": [tf_node("a"), tf_node("b")],
    }
    paths = {f.path: f.message for f in findings_of(sdep(graph)) if f.is_error}
    assert "nodes 'a' and 'b' are in one pod" in paths[f"{NODE}.children[1]"]


@pytest.mark.parametrize("protocol", ["kfserving", "v2"])
def test_protocols_without_a_tf_image_are_refused(protocol: str) -> None:
    refused, consequence = findings_of(sdep(tf_node(), protocol))
    assert refused.path == f"{NODE}.implementation"
    assert f"no image for protocol {protocol}" in refused.message
    # and the pod as built is checked too: its node's container has no image
    assert (consequence.path, consequence.is_error) == (NODE, True)
    assert consequence.message.startswith("container has no image (in container 'mnist-model'")


def test_one_endpoint_without_the_other_is_refused_when_the_transport_needs_it() -> None:
    [finding] = findings_of(sdep(tf_node(parameters=[param("rest_endpoint", "http://h:1")])))
    assert finding.is_error and finding.path == f"{NODE}.parameters[0].name"
    assert "grpc_endpoint stays TfServingModel's default" in finding.message
    rest = [param("rest_endpoint", "http://h:1"), param("transport", "rest")]
    [note] = findings_of(sdep(tf_node(parameters=rest)))
    assert note.severity == WARNING


def test_a_finding_inside_what_the_operator_added_points_at_the_node() -> None:
    [finding] = findings_of(sdep(tf_node("mnist_model")))
    assert finding.path == NODE
    assert "'mnist_model' is not a DNS-1123 label" in finding.message
    assert "(in container 'mnist_model' the operator adds for the node)" in finding.message


def test_an_unknown_parameter_of_our_class_is_found_where_the_user_wrote_it() -> None:
    [finding] = findings_of(sdep(tf_node(parameters=[param("signatur", "x")])))
    assert finding.path == f"{NODE}.parameters[0].name"
    assert "TfServingModel does not accept parameter 'signatur'" in finding.message


# --- Seldon's documented examples, written in graphs/tensorflow-server/ -------------------------

#: file -> the warnings validate gives it (the TF Serving containers written out without a
#: readinessProbe of their own); none for the others
EXPECTED_WARNINGS = {"protocol-rest.yaml": 1, "protocol-grpc.yaml": 1}


@pytest.mark.parametrize(
    "crd_args", [[], ["--crd", "../shared/schemas/seldondeployment-crd-v1.yaml"]]
)
def test_seldons_examples_validate_through_the_cli(crd_args: list[str]) -> None:
    result = run_cli("validate", *crd_args, *map(str, SERVER_GRAPHS))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in SERVER_GRAPHS:
        assert f"{path}: valid (" in result.stdout
    assert len(SERVER_GRAPHS) == 8


@pytest.mark.parametrize("path", SERVER_GRAPHS, ids=lambda p: p.name)
def test_each_example_is_commented_and_has_only_its_expected_findings(path: Any) -> None:
    text = path.read_text()
    assert (
        text.startswith("#")
        and f"seldon-tfserving validate graphs/tensorflow-server/{path.name}" in text
    )
    docs = [d for d in yaml.safe_load_all(text) if d]
    findings = [f for r in validate_documents(docs, schema.builtin_schemas()) for f in r.findings]
    assert [f for f in findings if f.is_error] == []
    assert len(findings) == EXPECTED_WARNINGS.get(path.name, 0), findings
    readme = (GRAPHS / "README.md").read_text()
    assert f"[`{path.name}`](tensorflow-server/{path.name})" in readme
