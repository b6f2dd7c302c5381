"""A component's error travels back as it came, with every status read from `errors.py`."""

from __future__ import annotations

import json

import grpc

from seldon_tfserving.errors import InvalidInput, UpstreamFailure
from seldon_tfserving.gateway.component_client import ComponentFailure


def test_a_components_rest_error_keeps_its_status_and_body() -> None:
    body = b'{"status": {"code": 400, "info": "bad shape", "status": "FAILURE"}}'
    failure = ComponentFailure("model-a", 400, body, "application/json")
    assert isinstance(failure, UpstreamFailure)
    assert failure.http_status == 400
    assert failure.seldon_body() == (body, "application/json")
    assert failure.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.seldon_reason == "MICROSERVICE_BAD_DATA"
    assert failure.message == f"component 'model-a' answered 400: {body.decode()}"


def test_a_status_errors_py_has_no_class_for_is_relayed_all_the_same() -> None:
    failure = ComponentFailure("model-a", 418, b"teapot", None)
    assert failure.http_status == 418
    assert failure.seldon_body() == (b"teapot", "application/json")  # Seldon's default type
    assert failure.grpc_code == grpc.StatusCode.INTERNAL


def test_a_grpc_components_code_is_kept_as_it_answered() -> None:
    failure = ComponentFailure("model-a", 400, b"{}", None, grpc.StatusCode.OUT_OF_RANGE)
    assert (failure.http_status, failure.grpc_code) == (400, grpc.StatusCode.OUT_OF_RANGE)


def test_our_own_errors_answer_with_seldons_error_json() -> None:
    body, content_type = InvalidInput("expected a Seldon JSON message").seldon_body()
    assert content_type == "application/json"
    assert json.loads(body) == {
        "status": {
            "code": 400,
            "info": "expected a Seldon JSON message",
            "reason": "MICROSERVICE_BAD_DATA",
            "status": "FAILURE",
        }
    }
