"""One reading of a pod's TF Serving container: what runs, with which flags, serving what.

The same reading serves `validate` and `up` (tests/runner/test_validate_and_up_agree.py runs
both over the same documents); here it is read directly, spelling by spelling.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.tfserving_container import (
    TfServingContainer,
    config_maps,
    is_tfserving,
    mount_holding,
    read_tfserving_container,
    served_models,
    tfserving_containers,
)

PATH = "spec.predictors[0].componentSpecs[0].spec.containers[1]"
MODELS_CONFIG = """
model_config_list {
  config {
    name: "half_plus_two"
    base_path: "/models/half_plus_two"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config { name: "other" base_path: "/models/other" }
}
"""
MOUNTS = [
    {"name": "models", "mountPath": "/models"},
    {"name": "config", "mountPath": "/config"},
]
VOLUMES: dict[str, dict[str, Any]] = {
    "models": {"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
    "config": {"name": "config", "configMap": {"name": "tfs-config"}},
}


def tfserving(**fields: Any) -> dict[str, Any]:
    base = {"name": "tfserving", "image": "tensorflow/serving:2.20.0", "volumeMounts": MOUNTS}
    return base | fields


def read(container: dict[str, Any]) -> tuple[TfServingContainer, list[Finding]]:
    server, findings = read_tfserving_container(container, PATH)
    assert server is not None, findings
    return server, findings


def test_the_image_entrypoint_builds_flags_from_env_before_the_args() -> None:
    server, findings = read(tfserving(env=[{"name": "MODEL_NAME", "value": "iris"}]))
    assert findings == []
    assert dict(server.flags) == {
        "port": "8500",
        "rest_api_port": "8501",
        "model_name": "iris",
        "model_base_path": "/models/iris",
    }
    assert server.flag_paths["model_name"] == f"{PATH}.image"
    assert (server.grpc_port, server.rest_port, server.listening_ports) == (
        8500,
        8501,
        (8500, 8501),
    )


def test_the_image_defaults_stand_without_env() -> None:
    server, _ = read(tfserving())
    assert (server.model_name, server.model_base_path) == ("model", "/models/model")


def test_the_containers_args_override_the_entrypoints_flags() -> None:
    server, findings = read(tfserving(args=["--port=9000", "--rest_api_port=0"]))
    assert findings == []
    assert (server.grpc_port, server.rest_port, server.listening_ports) == (9000, 0, (9000,))
    assert server.flag_paths["port"] == f"{PATH}.args[0]"


def test_the_binary_as_command_gets_only_the_containers_words() -> None:
    container = tfserving(
        command=["/usr/bin/tensorflow_model_server", "--port=9000"],
        args=["--model_name=a", "--model_base_path=/models/a"],
    )
    server, findings = read(container)
    assert findings == []
    assert dict(server.flags) == {
        "port": "9000",
        "model_name": "a",
        "model_base_path": "/models/a",
    }
    assert server.rest_port == 0  # the binary's default: REST off
    assert server.flag_paths["port"] == f"{PATH}.command[1]"


def test_the_entrypoint_script_as_command_keeps_the_image_flags() -> None:
    container = tfserving(command=["/usr/bin/tf_serving_entrypoint.sh", "--port=9000"])
    server, findings = read(container)
    assert findings == []
    assert (server.grpc_port, server.rest_port, server.model_name) == (9000, 8501, "model")


def test_an_image_without_entrypoint_runs_the_binary_named_in_args() -> None:
    container = {
        "name": "tfserving",
        "image": "registry.example/my-serving:1",
        "args": ["tensorflow_model_server", "--model_base_path=/models/x"],
        "volumeMounts": MOUNTS,
    }
    server, findings = read(container)
    assert findings == []
    assert dict(server.flags) == {"model_base_path": "/models/x"}
    assert server.grpc_port == 8500 and server.model_name == "default"


def test_the_binarys_name_in_the_args_of_the_serving_image_is_a_stray_word() -> None:
    server, findings = read(tfserving(args=["tensorflow_model_server", "--port=9000"]))
    assert server.grpc_port == 9000
    (finding,) = findings
    assert finding.path == f"{PATH}.args[0]"
    assert "the image's entrypoint already runs tensorflow_model_server" in finding.message


@pytest.mark.parametrize(
    ("container", "path", "says"),
    [
        (
            {
                "image": "tensorflow/serving",
                "command": ["/bin/sh", "-c", "tensorflow_model_server"],
            },
            f"{PATH}.command[0]",
            "TF Serving container runs '/bin/sh', so the flags tensorflow_model_server gets "
            "cannot be read from the manifest",
        ),
        (
            {"image": "my/image", "args": ["--flag", "tensorflow_model_server --port=1"]},
            f"{PATH}.image",
            "the entrypoint of image 'my/image' is not known here",
        ),
    ],
)
def test_a_command_line_that_cannot_be_read_is_refused(
    container: dict[str, Any], path: str, says: str
) -> None:
    server, findings = read_tfserving_container(container, PATH)
    assert server is None
    (finding,) = findings
    assert finding.path == path and says in finding.message


def test_with_a_model_config_file_the_single_model_flags_are_gone() -> None:
    server, findings = read(tfserving(args=["--model_config_file=/config/models.config"]))
    assert findings == []
    assert "model_name" not in server.flags and "model_base_path" not in server.flags
    assert server.model_config_file == "/config/models.config"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--model_config_file=/etc/models.config"], "is on no volume mounted"),
        (["--model_base_path=/data/iris"], "--model_base_path=/data/iris is on no volume"),
    ],
)
def test_model_files_must_be_on_a_mounted_volume(args: list[str], says: str) -> None:
    _, findings = read(tfserving(args=args))
    (finding,) = findings
    assert finding.path == f"{PATH}.args" and says in finding.message


def test_remote_base_paths_need_no_volume() -> None:
    _, findings = read(tfserving(args=["--model_base_path=gs://bucket/iris"], volumeMounts=[]))
    assert findings == []


def probed(probe: dict[str, Any]) -> list[Finding]:
    ports = [{"name": "rest", "containerPort": 8501}]
    return read(tfserving(readinessProbe=probe, ports=ports))[1]


@pytest.mark.parametrize(
    "probe",
    [
        {"httpGet": {"path": "/v1/models/m", "port": 8501}},
        {"httpGet": {"path": "/v1/models/m", "port": "rest"}},
        {"httpGet": {"path": "/v1/models/m", "port": "8501"}},
        {"tcpSocket": {"port": 8500}},
    ],
)
def test_a_readiness_probe_on_a_port_tf_serving_listens_on(probe: dict[str, Any]) -> None:
    assert probed(probe) == []


@pytest.mark.parametrize(
    ("probe", "path", "says"),
    [
        (
            {"tcpSocket": {"port": 9000}},
            "tcpSocket",
            "readinessProbe asks port 9000, where TF Serving does not listen (its ports: "
            "8500, 8501)",
        ),
        ({"httpGet": {"port": "metrics"}}, "httpGet", "readinessProbe names port 'metrics'"),
    ],
)
def test_a_readiness_probe_that_can_never_pass_is_refused(
    probe: dict[str, Any], path: str, says: str
) -> None:
    (finding,) = probed(probe)
    assert finding.path == f"{PATH}.readinessProbe.{path}.port"
    assert says in finding.message


def test_is_tfserving_and_graph_nodes_containers() -> None:
    assert is_tfserving({"image": "docker.io/tensorflow/serving:2.20.0-gpu"})
    assert is_tfserving({"image": "x", "command": ["/usr/local/bin/tensorflow_model_server"]})
    assert not is_tfserving({"image": "seldon-tfserving:0.1.0"})
    pod = {"containers": [tfserving(name="model"), tfserving()]}
    assert [path for path, _ in tfserving_containers(pod, "pod", {"model"})] == [
        "pod.containers[1]"
    ]


def test_config_maps_are_collected_by_name_with_text_values() -> None:
    documents: list[Any] = [
        {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"n": 1}},
        {"kind": "SeldonDeployment"},
        "not a mapping",
        {"kind": "ConfigMap", "metadata": {"name": "b"}},
    ]
    assert config_maps(documents) == {"a": {"n": "1"}, "b": {}}


def test_the_deepest_mount_holds_a_path_and_sub_paths_count() -> None:
    mounts = [
        {"name": "all", "mountPath": "/"},
        {"name": "config", "mountPath": "/config/models.config", "subPath": "models.config"},
    ]
    assert mount_holding(mounts, "/config/models.config") == (mounts[1], "models.config")
    assert mount_holding(mounts, "/other/file") == (mounts[0], "other/file")
    assert mount_holding(mounts[1:], "/config") is None


def served(
    config: str, args: tuple[str, ...] = (), volumes: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, list[Finding]]:
    server, findings = read(tfserving(args=["--model_config_file=/config/models.config", *args]))
    assert findings == []
    known = config_maps(
        [
            {
                "kind": "ConfigMap",
                "metadata": {"name": "tfs-config"},
                "data": {"models.config": config},
            }
        ]
    )
    return served_models(server, volumes or VOLUMES, known)


def test_models_labels_and_pinned_versions_come_from_the_real_proto() -> None:
    models, findings = served(MODELS_CONFIG)
    assert findings == [] and models is not None
    assert list(models) == ["half_plus_two", "other"]
    assert dict(models["half_plus_two"].labels) == {"stable": 1, "canary": 2}
    assert models["half_plus_two"].pinned_versions == frozenset({1, 2})
    assert models["other"].pinned_versions is None and not models["other"].labels


def test_a_name_in_a_comment_or_a_label_is_not_a_model() -> None:
    config = '# name: "ghost"\nmodel_config_list { config { name: "real" base_path: "/m" ' + (
        'version_labels { key: "name" value: 1 } } }'
    )
    models, _ = served(config)
    assert models is not None and list(models) == ["real"]


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (
            "model_config_list { config { nam: 'x' } }",
            "ConfigMap 'tfs-config' key 'models.config' is not a ModelServerConfig",
        ),
        (
            "model_config_list { config { name: 'x' } config { name: 'x' } }",
            "ConfigMap 'tfs-config' key 'models.config' lists model 'x' twice",
        ),
        (
            MODELS_CONFIG.replace('key: "canary" value: 2', 'key: "canary" value: 3'),
            "model 'half_plus_two': label 'canary' points at version 3, which the specific "
            "version policy does not load (1, 2); TF Serving refuses the config",
        ),
    ],
)
def test_what_makes_tf_serving_refuse_the_config(config: str, says: str) -> None:
    _, findings = served(config)
    (finding,) = findings
    assert finding.path == f"{PATH}.args" and says in finding.message


@pytest.mark.parametrize("spelling", ["", "=true", "=TRUE", "=1"])
def test_labels_for_unloaded_versions_are_allowed_when_the_flag_says_so(spelling: str) -> None:
    config = MODELS_CONFIG.replace('key: "canary" value: 2', 'key: "canary" value: 3')
    flag = f"--allow_version_labels_for_unavailable_models{spelling}"
    models, findings = served(config, (flag,))
    assert findings == [] and models is not None


def test_a_config_map_key_or_item_that_is_not_there_is_named() -> None:
    _, findings = served(
        MODELS_CONFIG,
        volumes={
            **VOLUMES,
            "config": {
                "configMap": {
                    "name": "tfs-config",
                    "items": [{"key": "models.config", "path": "other.config"}],
                }
            },
        },
    )
    (finding,) = findings
    assert "volume 'config' projects only other.config of ConfigMap 'tfs-config'" in (
        finding.message
    )
    server, _ = read(tfserving(args=["--model_config_file=/config/missing.config"]))
    _, findings = served_models(server, VOLUMES, {"tfs-config": {"models.config": ""}})
    (finding,) = findings
    assert finding.message == (
        "--model_config_file=/config/missing.config: ConfigMap 'tfs-config' has no key "
        "'missing.config' (keys: models.config)"
    )


def test_a_config_the_manifest_does_not_hold_is_unknown_not_wrong() -> None:
    assert served(MODELS_CONFIG, volumes={**VOLUMES, "config": {"emptyDir": {}}}) == (None, [])
    server, _ = read(tfserving(args=["--model_config_file=/config/models.config"]))
    known = {"tfs-config": {"models.config": MODELS_CONFIG}}
    assert served_models(server, VOLUMES, known, unseen_volumes={"config"}) == (None, [])


def test_the_single_model_flags_serve_one_model() -> None:
    server, _ = read(tfserving(env=[{"name": "MODEL_NAME", "value": "iris"}]))
    models, findings = served_models(server, VOLUMES, {})
    assert findings == [] and models is not None and list(models) == ["iris"]


def test_validate_does_not_import_tensorflow() -> None:
    code = (
        "import sys, seldon_tfserving.deploy.validate, seldon_tfserving.deploy.tfserving_container;"
        "sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
