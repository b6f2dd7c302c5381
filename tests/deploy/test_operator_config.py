"""`seldon-tfserving render operator-config`: the seldon-config change that makes Seldon's
operator run our image for TENSORFLOW_SERVER, ready for kubectl apply or patch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from seldon_tfserving.deploy.predictor_servers import (
    SELDON_PREDICTOR_SERVERS,
    ServerImage,
)
from tests.deploy.manifests import run_cli

IMAGE = "registry.example.com/ml/seldon-tfserving:0.1.0"


def rendered(*args: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(stdout, the ConfigMap, its predictor_servers JSON)."""
    result = run_cli("render", "operator-config", *args)
    assert result.returncode == 0, result.stderr
    [config_map] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return result.stdout, config_map, json.loads(config_map["data"]["predictor_servers"])


def test_the_output_is_seldon_config_whose_tensorflow_server_names_our_image() -> None:
    text, config_map, servers = rendered("--image", IMAGE)
    assert config_map["apiVersion"] == "v1" and config_map["kind"] == "ConfigMap"
    assert config_map["metadata"] == {"name": "seldon-config", "namespace": "seldon-system"}
    assert list(config_map["data"]) == ["predictor_servers"], "the other keys are left alone"
    assert servers["TENSORFLOW_SERVER"] == {
        "protocols": {
            "seldon": {
                "image": "registry.example.com/ml/seldon-tfserving",
                "defaultImageVersion": "0.1.0",
            },
            "tensorflow": {"image": "tensorflow/serving", "defaultImageVersion": "2.20.0"},
        }
    }
    # every other server as Seldon Core 1.18.2 ships it: the key holds the whole table
    others = {k: v for k, v in servers.items() if k != "TENSORFLOW_SERVER"}
    assert others == {k: v for k, v in SELDON_PREDICTOR_SERVERS.items() if k != "TENSORFLOW_SERVER"}
    assert set(servers) == {
        "HUGGINGFACE_SERVER",
        "MLFLOW_SERVER",
        "SKLEARN_SERVER",
        "TEMPO_SERVER",
        "TENSORFLOW_SERVER",
        "TRITON_SERVER",
        "XGBOOST_SERVER",
    }
    assert "kubectl apply -f FILE" in text
    assert "kubectl patch configmap seldon-config -n seldon-system --type merge" in text


def test_the_operators_image_name_is_image_colon_version() -> None:
    _, _, servers = rendered("--image", IMAGE)
    seldon = servers["TENSORFLOW_SERVER"]["protocols"]["seldon"]
    assert f"{seldon['image']}:{seldon['defaultImageVersion']}" == IMAGE


@pytest.mark.parametrize(
    ("reference", "image", "version"),
    [
        ("localhost:5000/seldon-tfserving:1.2", "localhost:5000/seldon-tfserving", "1.2"),
        ("localhost:5000/seldon-tfserving", "localhost:5000/seldon-tfserving", ""),
        ("repo/x@sha256:abc", "repo/x@sha256:abc", ""),
        ("seldon-tfserving:0.1.0", "seldon-tfserving", "0.1.0"),
    ],
)
def test_image_references_split_where_the_tag_starts(reference: str, image: str, version: str):
    parsed = ServerImage.parse(reference)
    assert (parsed.image, parsed.version, parsed.reference) == (image, version, reference)


def test_gpu_points_protocol_tensorflow_at_tf_servings_gpu_build() -> None:
    text, _, servers = rendered("--image", IMAGE, "--gpu")
    tensorflow = servers["TENSORFLOW_SERVER"]["protocols"]["tensorflow"]
    assert tensorflow == {"image": "tensorflow/serving", "defaultImageVersion": "2.20.0-gpu"}
    assert "CPU: tensorflow/serving:2.20.0 (the default)" in text
    assert "GPU (--gpu): tensorflow/serving:2.20.0-gpu" in text
    assert "nvidia.com/gpu: 1" in text


def test_a_namespace_and_a_file(tmp_path: Path) -> None:
    out = tmp_path / "config.yaml"
    result = run_cli(
        "render", "operator-config", "--image", IMAGE, "--namespace", "seldon", "-o", str(out)
    )
    assert result.returncode == 0 and result.stdout == ""
    [config_map] = [doc for doc in yaml.safe_load_all(out.read_text()) if doc]
    assert config_map["metadata"]["namespace"] == "seldon"
    assert "kubectl patch configmap seldon-config -n seldon --type merge" in out.read_text()


def test_a_merge_patch_keeps_the_configmaps_other_keys() -> None:
    """kubectl patch --type merge applies RFC 7386: maps merge, so only predictor_servers
    changes in the ConfigMap the operator's Helm chart made."""
    _, patch, _ = rendered("--image", IMAGE)
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "seldon-config", "namespace": "seldon-system", "uid": "u"},
        "data": {"credentials": "{}", "predictor_servers": "{}", "storageInitializer": "{}"},
    }

    def merge(target: Any, change: Any) -> Any:
        if not isinstance(change, dict):
            return change
        merged = dict(target) if isinstance(target, dict) else {}
        for key, value in change.items():
            merged[key] = merge(merged.get(key), value)
        return merged

    result = merge(live, patch)
    assert result["metadata"]["uid"] == "u"
    assert set(result["data"]) == {"credentials", "predictor_servers", "storageInitializer"}
    assert result["data"]["predictor_servers"] == patch["data"]["predictor_servers"]


def test_an_image_without_registry_is_noted_and_journey_options_refused() -> None:
    plain = run_cli("render", "operator-config")
    assert plain.returncode == 0
    assert "names no registry" in plain.stderr
    refused = run_cli("render", "operator-config", "--versions", "1,2", "--model", "m")
    assert refused.returncode == 2
    assert "--model, --versions shape a deployment, not the operator's config" in refused.stderr
    assert refused.stdout == ""
