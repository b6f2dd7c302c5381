"""`render` writes a deployment for each journey that the cluster's checks accept as is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.cli import main
from tests.deploy.manifests import REAL_CRD, deployment, run_cli, write_docs

JOURNEYS: dict[str, list[str]] = {
    "single-cpu": ["single", "--model", "half_plus_two"],
    "single-gpu-from-uri": ["single", "--gpu", "--model-uri", "gs://bucket/models"],
    "ab-ratio": ["ab", "--versions", "1,2", "--labels", "stable,canary", "--ratio-a", "0.8"],
    "ab-three-weights": ["ab", "--versions", "1,2,3", "--weights", "0.5,0.3,0.2"],
    "canary": ["canary", "--model", "half_plus_two", "--model", "half_plus_three",
               "--traffic", "80,20"],
    "shadow": ["shadow", "--model", "half_plus_two", "--model", "half_plus_three"],
    "bandit": ["bandit", "--versions", "1,2,3", "--policy", "thompson"],
    "bandit-ucb1": ["bandit", "--versions", "1,2", "--policy", "ucb1"],
    "ensemble": ["ensemble", "--model", "half_plus_two", "--model", "half_plus_three"],
    "ensemble-weighted": ["ensemble", "--model", "a", "--model", "b", "--combiner",
                          "weighted-mean", "--weights", "2,1"],
    "autoscaled-logged": ["single", "--hpa", "2:10:60", "--logger-url",
                          "http://logger.seldon-logs:8080/", "--replicas", "3"],
}  # fmt: skip


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each journey written with `seldon-tfserving render ... -o FILE`."""
    folder = tmp_path_factory.mktemp("rendered")
    files = {}
    for journey, args in JOURNEYS.items():
        path = folder / f"{journey}.yaml"
        assert main(["render", *args, "--name", f"tfs-{journey}", "-o", str(path)]) == 0
        files[journey] = path
    return files


def docs_of(path: Path) -> list[dict[str, Any]]:
    import yaml

    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_rendered_journey_validates_against_the_real_crd(rendered: dict[str, Path]):
    result = run_cli("validate", "--crd", str(REAL_CRD), *map(str, rendered.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in rendered.values():
        assert f"{path}: valid (" in result.stdout


def predictors(path: Path) -> list[dict[str, Any]]:
    return list(deployment(docs_of(path))["spec"]["predictors"])


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def test_ab_pins_two_labels_and_splits_by_ratio(rendered: dict[str, Path]) -> None:
    docs = docs_of(rendered["ab-ratio"])
    config = docs[0]["data"]["models.config"]
    assert 'version_labels { key: "stable" value: 1 }' in config
    assert 'version_labels { key: "canary" value: 2 }' in config
    graph = predictors(rendered["ab-ratio"])[0]["graph"]
    assert graph["parameters"] == [{"name": "ratio_a", "type": "FLOAT", "value": "0.8"}]
    labels = [
        p["value"] for child in graph["children"] for p in child["parameters"]
        if p["name"] == "version_label"
    ]  # fmt: skip
    assert labels == ["stable", "canary"]
    containers = predictors(rendered["ab-ratio"])[0]["componentSpecs"][0]["spec"]["containers"]
    assert env_of(containers[0])["MODEL_NAME"] == "seldon_tfserving.ABTestRouter"


def test_canary_splits_traffic_between_two_predictors(rendered: dict[str, Path]) -> None:
    shares = {p["name"]: p["traffic"] for p in predictors(rendered["canary"])}
    assert shares == {"main": 80, "canary": 20}


def test_shadow_marks_the_second_predictor(rendered: dict[str, Path]) -> None:
    main_predictor, shadow = predictors(rendered["shadow"])
    assert main_predictor["traffic"] == 100 and not main_predictor.get("shadow")
    assert shadow["shadow"] is True


def test_bandit_has_one_branch_per_version_and_the_chosen_policy(rendered: dict[str, Path]):
    graph = predictors(rendered["bandit-ucb1"])[0]["graph"]
    assert graph["parameters"] == [{"name": "n_branches", "type": "INT", "value": "2"}]
    assert [c["name"] for c in graph["children"]] == ["version-1", "version-2"]
    router = predictors(rendered["bandit-ucb1"])[0]["componentSpecs"][0]["spec"]["containers"][0]
    assert env_of(router) == {"MODEL_NAME": "seldon_tfserving.UCB1Router", "SERVICE_TYPE": "ROUTER"}


def test_gpu_journey_asks_for_a_whole_gpu_on_a_gpu_node(rendered: dict[str, Path]) -> None:
    pod = predictors(rendered["single-gpu-from-uri"])[0]["componentSpecs"][0]["spec"]
    server = pod["containers"][-1]
    assert server["image"] == "tensorflow/serving:2.20.0-gpu"
    assert server["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["initContainers"][0]["args"] == ["gs://bucket/models", "/models"]


def test_autoscaled_journey_has_hpa_and_logger(rendered: dict[str, Path]) -> None:
    predictor = predictors(rendered["autoscaled-logged"])[0]
    hpa = predictor["componentSpecs"][0]["hpaSpec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"][0]["resource"]["targetAverageUtilization"] == 60
    assert "replicas" not in predictor, "with an HPA the operator ignores replicas"
    assert predictor["graph"]["logger"] == {"mode": "all", "url": "http://logger.seldon-logs:8080/"}


def test_weighted_ensemble_passes_weights_to_the_combiner(rendered: dict[str, Path]) -> None:
    graph = predictors(rendered["ensemble-weighted"])[0]["graph"]
    assert graph["type"] == "COMBINER"
    assert graph["parameters"] == [{"name": "weights", "type": "STRING", "value": "2,1"}]
    assert [c["name"] for c in graph["children"]] == ["model-a", "model-b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["canary", "--model", "only_one"], "canary needs two --model"),
        (["canary", "--model", "a", "--model", "b", "--traffic", "90,20"], "sum to 100"),
        (["ab", "--versions", "1,2,3", "--labels", "a,b"], "one --labels entry per version"),
        (["single", "--hpa", "5:2"], "1 <= MIN <= MAX"),
    ],
)
def test_render_refuses_flags_that_make_no_deployment(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", *args]) == 2
    assert message in capsys.readouterr().err


def test_rendered_output_refused_after_a_hand_edit(rendered: dict[str, Path], tmp_path: Path):
    """The rendered file is a normal manifest: breaking it is caught like any other."""
    docs = docs_of(rendered["canary"])
    deployment(docs)["spec"]["predictors"][1]["traffic"] = 30
    result = run_cli("validate", str(write_docs(tmp_path / "edited.yaml", docs)))
    assert result.returncode == 1
    assert "Traffic must sum to 100" in result.stdout
