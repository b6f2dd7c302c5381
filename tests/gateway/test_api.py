"""The external API's edges: paths, puid, errors with their real status, body limits, and the
executor's metrics on /prometheus."""

from __future__ import annotations

import re
from dataclasses import replace

import grpc
import pytest
import requests
from google.protobuf import empty_pb2
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.gateway.conftest import NAMESPACE, Components, endpoints_for
from tests.servers import free_port

REQUEST = {"data": {"ndarray": [[1.0, 2.0]]}}


def seldon_path(name: str, operation: str = "predictions") -> str:
    return f"/seldon/{NAMESPACE}/{name}/api/v1.0/{operation}"


def test_a_component_error_keeps_its_status_and_body(gateway: Gateway) -> None:
    """ScaleModel refuses negative input with 400: the executor passes that answer on."""
    reply = requests.post(
        gateway.http_url + seldon_path("ensemble"),
        json={"data": {"ndarray": [[-1.0]]}},
        timeout=20,
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["status"]["info"] == "ScaleModel takes non-negative input only"

    channel = grpc.insecure_channel(f"127.0.0.1:{gateway.http_port}")
    request = prediction_pb2.SeldonMessage()
    request.data.tensor.shape.extend([1, 1])
    request.data.tensor.values.append(-1.0)
    with pytest.raises(grpc.RpcError) as caught:
        prediction_pb2_grpc.SeldonStub(channel).Predict(
            request, metadata=[("seldon", "ensemble"), ("namespace", NAMESPACE)], timeout=20
        )
    channel.close()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "non-negative" in (caught.value.details() or "")


def test_bad_bodies_are_refused_with_their_status(
    components: Components, deployments: list[SeldonDeployment]
) -> None:
    settings = GatewaySettings(max_body_bytes=2048)
    with Gateway(
        deployments,
        endpoints_for(deployments, components),
        http_port=free_port(),
        grpc_port=free_port(),
        settings=settings,
    ) as small:
        url = small.http_url + seldon_path("ensemble")
        big = {"data": {"ndarray": [[1.0] * 1000]}}
        with requests.Session() as session:
            too_large = session.post(url, json=big, timeout=20)
            assert too_large.status_code == 413
            assert too_large.json()["status"]["status"] == "FAILURE"
            # the same client goes on (on a new connection: the refused body is never read)
            assert session.post(url, json=REQUEST, timeout=20).status_code == 200
        empty = requests.post(url, data=b"", timeout=20)
        assert empty.status_code == 400
        # not JSON: the component says so, as it does behind the executor
        garbage = requests.post(
            url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=20
        )
        assert garbage.status_code == 400
        # and the gateway still serves
        assert requests.post(url, json=REQUEST, timeout=20).status_code == 200


def test_prometheus_has_the_executors_server_and_client_histograms(gateway: Gateway) -> None:
    requests.post(gateway.http_url + seldon_path("ensemble"), json=REQUEST, timeout=20)
    channel = grpc.insecure_channel(gateway.grpc_target)
    request = prediction_pb2.SeldonMessage()
    request.data.tensor.shape.extend([1, 1])
    request.data.tensor.values.append(1.0)
    for _ in range(5):
        prediction_pb2_grpc.SeldonStub(channel).Predict(
            request, metadata=[("seldon", "ab-test"), ("namespace", NAMESPACE)], timeout=20
        )
    channel.close()

    text = requests.get(gateway.http_url + "/prometheus", timeout=10).text
    samples = _samples(text)
    server = "seldon_api_executor_server_requests_seconds_count"
    client = "seldon_api_executor_client_requests_seconds_count"
    assert (
        samples[
            (
                server,
                _labels(
                    deployment_name="ensemble",
                    predictor_name="default",
                    predictor_version="",
                    service="predictions",
                    method="post",
                    code="200",
                ),
            )
        ]
        >= 1
    )
    assert (
        samples[
            (
                server,
                _labels(
                    deployment_name="ab-test",
                    predictor_name="default",
                    predictor_version="",
                    service="/seldon.protos.Seldon/Predict",
                    method="unary",
                    code="OK",
                ),
            )
        ]
        >= 5
    )
    assert (
        samples[
            (
                client,
                _labels(
                    deployment_name="ensemble",
                    predictor_name="default",
                    predictor_version="",
                    service="/aggregate",
                    model_name="combiner",
                    model_image="tests/meancombiner",
                    model_version="0.1",
                    method="post",
                    code="200",
                ),
            )
        ]
        >= 1
    )
    routed = sum(
        value
        for (name, labels), value in samples.items()
        if name == "seldon_api_executor_routing_total"
        and 'deployment_name="ab-test"' in labels
        and 'model_name="ab"' in labels
    )
    assert routed >= 5


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


def _samples(text: str) -> dict[tuple[str, str], float]:
    samples: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)\{(.*)\} (\S+)", line)
        if match:
            labels = ",".join(sorted(re.findall(r'[a-z_]+="[^"]*"', match.group(2))))
            samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def test_components_declared_grpc_are_called_over_grpc_whatever_the_request(
    components: Components, deployments: list[SeldonDeployment]
) -> None:
    """With `component_transport="endpoint"` each component is called as its endpoint says;
    payloads are converted between JSON and protos where the transports meet."""
    endpoints = endpoints_for(deployments, components)
    endpoints = {
        key: replace(endpoint, transport="grpc") if key.endswith("/model-a") else endpoint
        for key, endpoint in endpoints.items()
    }
    with Gateway(
        deployments,
        endpoints,
        http_port=free_port(),
        grpc_port=free_port(),
        settings=GatewaySettings(component_transport="endpoint"),
    ) as mixed:
        reply = requests.post(mixed.http_url + seldon_path("ensemble"), json=REQUEST, timeout=20)
        assert reply.status_code == 200, reply.text
        assert reply.json()["data"]["ndarray"] == [[5.5, 11.0]]

        channel = grpc.insecure_channel(mixed.grpc_target)
        request = prediction_pb2.SeldonMessage()
        request.data.ndarray.extend([[1.0, 2.0]])
        response = prediction_pb2_grpc.SeldonStub(channel).Predict(
            request, metadata=[("seldon", "ensemble"), ("namespace", NAMESPACE)], timeout=20
        )
        channel.close()
        assert [list(row) for row in response.data.ndarray] == [[5.5, 11.0]]

        samples = _samples(requests.get(mixed.http_url + "/prometheus", timeout=10).text)
        services = {
            (
                dict(re.findall(r'([a-z_]+)="([^"]*)"', labels))["model_name"],
                dict(re.findall(r'([a-z_]+)="([^"]*)"', labels))["service"],
            )
            for (name, labels), _ in samples.items()
            if name == "seldon_api_executor_client_requests_seconds_count"
        }
        assert ("model-a", "/seldon.protos.Model/Predict") in services
        assert ("model-a", "/predict") not in services
        assert ("model-b", "/predict") in services
        assert ("combiner", "/aggregate") in services


def test_model_metadata_is_the_components_own(gateway: Gateway, components: Components) -> None:
    own = requests.get(components.services["model-a"].http_url + "/metadata", timeout=10)
    assert own.status_code == 200
    through = requests.get(
        gateway.http_url + f"/seldon/{NAMESPACE}/ensemble/api/v1.0/metadata/model-a", timeout=10
    )
    assert through.status_code == 200, through.text
    assert through.json() == own.json()
    missing = requests.get(
        gateway.http_url + f"/seldon/{NAMESPACE}/ensemble/api/v1.0/metadata/nobody", timeout=10
    )
    assert missing.status_code == 404

    direct = grpc.insecure_channel(components.services["model-a"].grpc_endpoint)
    expected = prediction_pb2_grpc.ModelStub(direct).Metadata(empty_pb2.Empty(), timeout=10)
    direct.close()
    channel = grpc.insecure_channel(gateway.grpc_target)
    answer = prediction_pb2_grpc.SeldonStub(channel).ModelMetadata(
        prediction_pb2.SeldonModelMetadataRequest(name="model-a"),
        metadata=[("seldon", "ensemble"), ("namespace", NAMESPACE)],
        timeout=10,
    )
    channel.close()
    assert answer == expected
