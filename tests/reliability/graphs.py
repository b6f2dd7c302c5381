"""SeldonDeployments the reliability tests run with the LocalRunner, on half_plus_two.

Each deployment is one pod: a TF Serving container serving `half_plus_two` from the `models`
volume and the graph's components, as the manifests in graphs/ are written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.servers import TFSERVING_TESTDATA

NAMESPACE = "default"


def models_volume(root: Path) -> Path:
    """A `models` volume holding `half_plus_two/<version>/` (TF Serving's own test model)."""
    volume = root / "models"
    volume.mkdir(parents=True, exist_ok=True)
    link = volume / "half_plus_two"
    if not link.exists():
        link.symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu")
    return volume


def _model_node(name: str, extra: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "type": "MODEL",
        "parameters": [
            {"name": "model_name", "type": "STRING", "value": "half_plus_two"},
            {"name": "grpc_endpoint", "type": "STRING", "value": "localhost:8500"},
            {"name": "rest_endpoint", "type": "STRING", "value": "http://localhost:8501"},
            *(extra or []),
        ],
    }


def _container(name: str, interface: str, service_type: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "seldon-tfserving:0.1.0",
        "env": [
            {"name": "MODEL_NAME", "value": interface},
            {"name": "SERVICE_TYPE", "value": service_type},
            # closed-loop clients at concurrency 8: one request thread would serialise them
            {"name": "GUNICORN_THREADS", "value": "8"},
            {"name": "GRPC_THREADS", "value": "8"},
        ],
    }


_TFSERVING_CONTAINER: dict[str, Any] = {
    "name": "tfserving",
    "image": "tensorflow/serving:2.20.0",
    "args": [
        "--port=8500",
        "--rest_api_port=8501",
        "--model_name=half_plus_two",
        "--model_base_path=/models/half_plus_two",
    ],
    "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
}


def _deployment(name: str, graph: dict[str, Any], containers: list[dict[str, Any]]) -> Any:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "protocol": "seldon",
            "predictors": [
                {
                    "name": "default",
                    "replicas": 1,
                    "graph": graph,
                    "componentSpecs": [
                        {
                            "spec": {
                                "containers": [*containers, _TFSERVING_CONTAINER],
                                "volumes": [
                                    {
                                        "name": "models",
                                        "persistentVolumeClaim": {"claimName": "models"},
                                    }
                                ],
                            }
                        }
                    ],
                }
            ],
        },
    }


def ab_deployment(name: str = "ab") -> Any:
    """ABTestRouter (50/50) over two TfServingModel nodes on the pod's TF Serving."""
    graph = {
        "name": "router",
        "type": "ROUTER",
        "parameters": [{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}],
        "children": [_model_node("model-a"), _model_node("model-b")],
    }
    return _deployment(
        name,
        graph,
        [
            _container("router", "seldon_tfserving.ABTestRouter", "ROUTER"),
            _container("model-a", "seldon_tfserving.TfServingModel", "MODEL"),
            _container("model-b", "seldon_tfserving.TfServingModel", "MODEL"),
        ],
    )


def single_deployment(name: str = "single") -> Any:
    """One TfServingModel node on the pod's TF Serving."""
    return _deployment(
        name,
        _model_node("model"),
        [_container("model", "seldon_tfserving.TfServingModel", "MODEL")],
    )


def write_graphs(path: Path, *deployments: Any) -> Path:
    path.write_text(yaml.safe_dump_all(deployments, sort_keys=False))
    return path
