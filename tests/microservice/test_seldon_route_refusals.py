"""Every Seldon route of a real `seldon-core-microservice` answers bad input with a 4xx and
Seldon's error JSON, never a 500: a body that is not JSON (415), a method the route lacks
(405), and a user class's ValueError on each route, over REST (400) and gRPC
(INVALID_ARGUMENT). seldon-core's catch-all made each of these a 500 or UNKNOWN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from tests.microservice.refusing_class import REFUSAL
from tests.servers import Microservice, start_microservice

MESSAGE = {"data": {"ndarray": [[1.0]]}}
FEEDBACK = {"request": MESSAGE, "response": MESSAGE, "reward": 1.0}
#: Seldon's POST routes and a body each one takes
POST_ROUTES = {
    "/predict": MESSAGE,
    "/api/v1.0/predictions": MESSAGE,
    "/send-feedback": FEEDBACK,
    "/api/v1.0/feedback": FEEDBACK,
    "/route": MESSAGE,
    "/aggregate": {"seldonMessages": [MESSAGE, MESSAGE]},
    "/transform-input": MESSAGE,
    "/transform-output": MESSAGE,
}
GET_ROUTES = ["/health/ping", "/health/status", "/metadata", "/api/v1.0/metadata"]


@pytest.fixture(scope="module")
def refusing(log_dir: Path) -> Iterator[Microservice]:
    service = start_microservice(log_dir, "tests.microservice.refusing_class.RefusingComponent")
    yield service
    service.server.stop()


def _assert_seldon_error(reply: requests.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    document: dict[str, Any] = reply.json()
    assert document["status"]["code"] == status
    assert document["status"]["status"] == "FAILURE"
    return document


@pytest.mark.parametrize("path", list(POST_ROUTES))
def test_a_user_class_value_error_is_a_400_on_every_route(
    refusing: Microservice, path: str
) -> None:
    reply = requests.post(f"{refusing.http_url}{path}", json=POST_ROUTES[path], timeout=30)
    document = _assert_seldon_error(reply, 400)
    assert REFUSAL in document["status"]["info"]


def test_a_health_status_value_error_is_a_400(refusing: Microservice) -> None:
    reply = requests.get(f"{refusing.http_url}/health/status", timeout=30)
    _assert_seldon_error(reply, 400)


@pytest.mark.parametrize("path", list(POST_ROUTES))
def test_a_body_without_json_content_type_is_a_415(refusing: Microservice, path: str) -> None:
    reply = requests.post(
        f"{refusing.http_url}{path}",
        data=b'{"data": {"ndarray": [[1.0]]}}',
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    document = _assert_seldon_error(reply, 415)
    assert document["status"]["reason"] == "MICROSERVICE_BAD_DATA"


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH"])
@pytest.mark.parametrize("path", [*POST_ROUTES, *GET_ROUTES])
def test_a_method_a_route_lacks_is_a_405(refusing: Microservice, method: str, path: str) -> None:
    reply = requests.request(method, f"{refusing.http_url}{path}", json=MESSAGE, timeout=30)
    _assert_seldon_error(reply, 405)


@pytest.mark.parametrize("path", ["/health/ping", "/metadata", "/api/v1.0/metadata"])
def test_a_post_to_a_get_route_is_a_405(refusing: Microservice, path: str) -> None:
    reply = requests.post(f"{refusing.http_url}{path}", json=MESSAGE, timeout=30)
    _assert_seldon_error(reply, 405)


def test_metadata_and_ping_still_answer(refusing: Microservice) -> None:
    assert requests.get(f"{refusing.http_url}/health/ping", timeout=30).status_code == 200
    assert requests.get(f"{refusing.http_url}/metadata", timeout=30).status_code == 200


def _message() -> prediction_pb2.SeldonMessage:
    message = prediction_pb2.SeldonMessage()
    message.data.tensor.shape.extend([1, 1])
    message.data.tensor.values.append(1.0)
    return message


def _grpc_calls(channel: grpc.Channel) -> dict[str, Any]:
    generic = prediction_pb2_grpc.GenericStub(channel)
    model = prediction_pb2_grpc.ModelStub(channel)
    feedback = prediction_pb2.Feedback(request=_message(), response=_message(), reward=1.0)
    messages = prediction_pb2.SeldonMessageList(seldonMessages=[_message(), _message()])
    return {
        "Predict": lambda: model.Predict(_message(), timeout=30),
        "SendFeedback": lambda: model.SendFeedback(feedback, timeout=30),
        "Route": lambda: generic.Route(_message(), timeout=30),
        "Aggregate": lambda: generic.Aggregate(messages, timeout=30),
        "TransformInput": lambda: generic.TransformInput(_message(), timeout=30),
        "TransformOutput": lambda: generic.TransformOutput(_message(), timeout=30),
    }


@pytest.mark.parametrize(
    "method",
    ["Predict", "SendFeedback", "Route", "Aggregate", "TransformInput", "TransformOutput"],
)
def test_a_user_class_value_error_is_invalid_argument_over_grpc(
    refusing: Microservice, method: str
) -> None:
    with grpc.insecure_channel(refusing.grpc_endpoint) as channel:
        with pytest.raises(grpc.RpcError) as raised:
            _grpc_calls(channel)[method]()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert REFUSAL in (raised.value.details() or "")


@pytest.mark.parametrize("path", ["/route", "/transform-input", "/send-feedback", "/aggregate"])
def test_a_payload_seldon_core_cannot_decode_is_a_400(refusing: Microservice, path: str) -> None:
    """A tensor without `values` fails inside seldon-core's own decoding (KeyError), before
    the class is called: the request's fault, a 400 (schemathesis found it as a 500)."""
    message = {"data": {"names": [], "tensor": {}}}
    bodies = {
        "/send-feedback": {"request": message, "response": MESSAGE, "reward": 1.0},
        "/aggregate": {"seldonMessages": [message, message]},
    }
    reply = requests.post(f"{refusing.http_url}{path}", json=bodies.get(path, message), timeout=30)
    document = _assert_seldon_error(reply, 400)
    assert (
        "cannot be decoded" in document["status"]["info"] or REFUSAL in document["status"]["info"]
    )
