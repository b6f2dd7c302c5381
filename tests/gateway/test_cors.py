"""CORS off unless origins are named: a page of another origin can neither read answers nor
post a simple-request body (text/plain, form, multipart) that would run the graph or teach a
router through /feedback; named origins get the executor's CORS answers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import pytest
import requests

from seldon_tfserving.deploy.model import SeldonDeployment, parse_deployment
from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.runner.command import configure, gateway_settings
from tests.gateway.components import read_events
from tests.gateway.conftest import NAMESPACE, Components, endpoints_for
from tests.gateway.tf_fakes import FakeComponents
from tests.servers import free_port

ALLOWED = "https://app.example"
OTHER = "https://evil.example"
BODY = '{"data": {"ndarray": [[1.0, 2.0]]}}'
SIMPLE_TYPES = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
]
TF_DOC = {
    "apiVersion": "machinelearning.seldon.io/v1",
    "kind": "SeldonDeployment",
    "metadata": {"name": "tf-cors", "namespace": NAMESPACE},
    "spec": {
        "protocol": "tensorflow",
        "predictors": [{"name": "default", "graph": {"name": "model-b", "type": "MODEL"}}],
    },
}


@pytest.fixture(scope="module")
def cors_gateway(components: Components, deployments: list[SeldonDeployment]) -> Iterator[Gateway]:
    endpoints = endpoints_for(deployments, components)
    endpoints[endpoint_key("tf-cors", "default", "model-b")] = ComponentEndpoint("127.0.0.1", 1, 2)
    with Gateway(
        [*deployments, parse_deployment(TF_DOC)],
        endpoints,
        http_port=free_port(),
        grpc_port=free_port(),
        settings=GatewaySettings(component_timeout_s=20, cors_allowed_origins=(ALLOWED,)),
        tf_clients=FakeComponents().factory,
    ) as gateway:
        yield gateway


def url(gateway: Gateway, deployment: str, operation: str = "predictions") -> str:
    return f"{gateway.http_url}/seldon/{NAMESPACE}/{deployment}/api/v1.0/{operation}"


def test_a_named_origin_gets_the_preflight_and_the_answers_headers(
    cors_gateway: Gateway,
) -> None:
    preflight = requests.options(
        url(cors_gateway, "chain"),
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert preflight.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    assert preflight.headers["Vary"] == "Origin"
    for content_type in ["application/json", *SIMPLE_TYPES[:2]]:
        reply = requests.post(
            url(cors_gateway, "chain"),
            data=BODY,
            headers={"Origin": ALLOWED, "Content-Type": content_type},
            timeout=20,
        )
        assert reply.status_code == 200, reply.text
        assert reply.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_another_origin_gets_no_cors_headers(cors_gateway: Gateway) -> None:
    preflight = requests.options(url(cors_gateway, "chain"), headers={"Origin": OTHER}, timeout=10)
    assert preflight.status_code == 200
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Methods" not in preflight.headers
    reply = requests.post(
        url(cors_gateway, "chain"),
        data=BODY,
        headers={"Origin": OTHER, "Content-Type": "application/json"},
        timeout=20,
    )
    assert reply.status_code == 200  # only after a preflight no page can pass
    assert "Access-Control-Allow-Origin" not in reply.headers


@pytest.mark.parametrize("content_type", [*SIMPLE_TYPES, None])
def test_a_simple_request_from_another_origin_is_415_and_never_reaches_a_router(
    cors_gateway: Gateway, components: Components, content_type: str | None
) -> None:
    reward = 7.25 + len(content_type or "")
    feedback = json.dumps(
        {
            "request": json.loads(BODY),
            "response": {"meta": {"routing": {"router": 1}}},
            "reward": reward,
        }
    )
    headers = {"Origin": OTHER}
    if content_type is not None:
        headers["Content-Type"] = content_type
    for operation, body in (("feedback", feedback), ("predictions", BODY)):
        reply = requests.post(
            url(cors_gateway, "bandit", operation), data=body, headers=headers, timeout=20
        )
        assert reply.status_code == 415, reply.text
        assert "--cors-origin" in reply.json()["status"]["info"]
    recorded = read_events(components.state_file("router"))
    assert not any(event.get("reward") == reward for event in recorded)


def test_clients_that_are_not_browsers_send_what_they_like(cors_gateway: Gateway) -> None:
    reply = requests.post(
        url(cors_gateway, "chain"), data=BODY, headers={"Content-Type": "text/plain"}, timeout=20
    )
    assert reply.status_code == 200, reply.text


def test_the_tf_face_refuses_a_simple_request_in_tfs_shape(cors_gateway: Gateway) -> None:
    reply = requests.post(
        f"{cors_gateway.http_url}/seldon/{NAMESPACE}/tf-cors/v1/models/model-b:predict",
        data='{"instances": [1.0]}',
        headers={"Origin": OTHER, "Content-Type": "text/plain"},
        timeout=20,
    )
    assert reply.status_code == 415
    assert set(reply.json()) == {"error"}
    allowed = requests.options(
        f"{cors_gateway.http_url}/seldon/{NAMESPACE}/tf-cors/v1/models/model-b:predict",
        headers={"Origin": ALLOWED},
        timeout=10,
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_origins_are_named_on_ups_command_line_or_refused_when_malformed() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(
        ["g.yaml", "--cors-origin", "https://a.example", "--cors-origin", "http://b:3000, *"]
    )
    settings = gateway_settings(args.cors_origin)
    assert settings is not None
    assert settings.cors_allowed_origins == ("https://a.example", "http://b:3000", "*")
    assert gateway_settings([]) is None  # the gateway reads CORS_ALLOWED_ORIGINS itself
    with pytest.raises(ConfigurationError, match="cors_allowed_origins"):
        gateway_settings(["app.example"])
