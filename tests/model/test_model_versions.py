"""Version and label pinning, Seldon's /metadata from the SignatureDef, health from model status.

The backend serves two_versions (versions 123 and 124; labels stable=123, canary=124). The
version that actually answered is read from the reply's tags, over both TF transports.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from tests.model.calls import SELDON_TRANSPORTS, seldon_predict, tags_of
from tests.model.conftest import ServeModels
from tests.servers import Backend, Microservice

#: service name -> (TfServingModel parameters, the version that must answer)
PINS: dict[str, tuple[dict[str, object], str]] = {
    "latest": ({"model_name": "two_versions"}, "124"),
    "v123_grpc": ({"model_name": "two_versions", "model_version": 123}, "123"),
    "v124_rest": ({"model_name": "two_versions", "model_version": 124, "transport": "rest"}, "124"),
    "canary_grpc": ({"model_name": "two_versions", "version_label": "canary"}, "124"),
    "stable_rest": (
        {"model_name": "two_versions", "version_label": "stable", "transport": "rest"},
        "123",
    ),
}


@pytest.fixture(scope="module")
def pinned(serve_models: ServeModels, backend: Backend) -> dict[str, Microservice]:
    return serve_models(backend, **{name: dict(params) for name, (params, _) in PINS.items()})


@pytest.mark.parametrize("name", sorted(PINS))
@pytest.mark.parametrize("transport", SELDON_TRANSPORTS)
def test_the_pinned_version_answers(
    pinned: dict[str, Microservice], name: str, transport: str
) -> None:
    answer = seldon_predict(pinned[name], transport, json_data={"instances": [[2.0]]})
    assert json_format.MessageToDict(answer.jsonData) == {"predictions": [[3.0]]}
    assert tags_of(answer)["tfserving_version"] == PINS[name][1]
    data = seldon_predict(pinned[name], transport, data=np.array([[2.0]]), payload_type="ndarray")
    assert tags_of(data) == {
        "tfserving_model": "two_versions",
        "tfserving_version": PINS[name][1],
        "tfserving_signature": "serving_default",
    }


@pytest.mark.parametrize("name", ["v123_grpc", "stable_rest", "canary_grpc"])
def test_metadata_comes_from_the_signature_def(pinned: dict[str, Microservice], name: str) -> None:
    reply = requests.get(f"{pinned[name].http_url}/metadata", timeout=30)
    assert reply.status_code == 200
    metadata = reply.json()
    assert metadata["name"] == "two_versions"
    assert metadata["versions"] == [PINS[name][1]]
    assert metadata["platform"] == "tensorflow"
    assert metadata["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}]
    assert metadata["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}]
    assert metadata["custom"]["signature_name"] == "serving_default"
    with grpc.insecure_channel(pinned[name].grpc_endpoint) as channel:
        answer = prediction_pb2_grpc.ModelStub(channel).Metadata(
            prediction_pb2.SeldonMessage(), timeout=30
        )
    assert answer.name == "two_versions" and list(answer.versions) == [PINS[name][1]]
    assert [(t.name, t.datatype, list(t.shape)) for t in answer.inputs] == [("x", "FP32", [-1, 1])]


@pytest.mark.parametrize("name", ["latest", "v124_rest", "stable_rest"])
def test_health_follows_the_model_status(pinned: dict[str, Microservice], name: str) -> None:
    reply = requests.get(f"{pinned[name].http_url}/health/status", timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["jsonData"] == {
        "model": "two_versions",
        "version": int(PINS[name][1]),
        "state": "AVAILABLE",
    }
