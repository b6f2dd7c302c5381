"""A gRPC caller's deadline bounds what a TfServingModel asks of TF Serving for it, on its TF
face and on Seldon's gRPC path alike, when it is sooner than the wrapper's `timeout_ms`.

The wrapper waits 5 s (`timeout_ms`) for the `slow` model (400 ms a call), and its gRPC server
has seldon-core's one thread: a call still waiting for an answer nobody reads would hold up
every call behind it. The wrapper's log says which deadline it kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from tensorflow_serving.apis import get_model_status_pb2

from tests.model.calls import ndarray_message
from tests.model.conftest import ServeModels
from tests.model.tf_calls import TIMEOUT_S, predict_request, tf_stubs
from tests.servers import Backend, Microservice
from tests.waiting import eventually

TRANSPORTS = ["grpc", "rest"]
#: the caller's deadline: well under the model's 400 ms
CALLER_DEADLINE_S = 0.1
KEPT_THE_CALLERS = "within the caller's deadline"


@pytest.fixture(scope="module")
def patient(serve_models: ServeModels, generated_backend: Backend) -> dict[str, Microservice]:
    """Wrappers of the slow model that would each wait 5 s for it, one per TF transport."""
    return serve_models(
        generated_backend,
        grpc={"model_name": "slow", "timeout_ms": 5000, "max_retries": 0},
        rest={"model_name": "slow", "timeout_ms": 5000, "max_retries": 0, "transport": "rest"},
    )


def _gives_up(call: Callable[..., Any], request: Any) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        call(request, timeout=CALLER_DEADLINE_S)
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def _log_count(service: Microservice, text: str) -> int:
    """How often the wrapper's log says `text` by now."""
    return service.server.log_path.read_text(errors="replace").count(text)


def _await_log_says(service: Microservice, text: str, count: int) -> None:
    """Until the wrapper's log says `text` `count` times (within 10 s)."""
    eventually(
        lambda: _log_count(service, text) >= count,
        10,
        interval_s=0.1,
        awaited=f"the wrapper's log saying {text!r} {count} times",
        detail=lambda: f"it says it {_log_count(service, text)} times",
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_tf_face_stops_waiting_for_tf_serving_when_its_caller_does(
    patient: dict[str, Microservice], transport: str
) -> None:
    service = patient[transport]
    before = _log_count(service, KEPT_THE_CALLERS)
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "any"
    with tf_stubs(service.grpc_endpoint) as via:
        started = time.monotonic()
        for _ in range(3):
            _gives_up(via.prediction.Predict, predict_request("any", [1.0]))
        # the one gRPC thread is free again: held to 5 s (or 3 x 400 ms), this call would wait
        answered = via.models.GetModelStatus(status, timeout=TIMEOUT_S)
        assert time.monotonic() - started < 1.0
    assert [v.state for v in answered.model_version_status] == [
        get_model_status_pb2.ModelVersionStatus.AVAILABLE
    ]
    _await_log_says(service, KEPT_THE_CALLERS, before + 3)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_seldons_grpc_predict_keeps_the_callers_deadline_too(
    patient: dict[str, Microservice], transport: str
) -> None:
    from seldon_core.proto import prediction_pb2_grpc

    service = patient[transport]
    before = _log_count(service, KEPT_THE_CALLERS)
    with grpc.insecure_channel(service.grpc_endpoint) as channel:
        _gives_up(prediction_pb2_grpc.ModelStub(channel).Predict, ndarray_message([1.0]))
    _await_log_says(service, KEPT_THE_CALLERS, before + 1)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_patient_caller_is_still_answered(
    patient: dict[str, Microservice], transport: str
) -> None:
    with tf_stubs(patient[transport].grpc_endpoint) as via:
        answer = via.prediction.Predict(predict_request("any", [1.0]), timeout=TIMEOUT_S)
    assert list(answer.outputs) == ["y"]
