"""A TF Serving call made for a caller ends by the caller's deadline when it comes before the
client's own `timeout_ms` (`caller_deadline`), over both transports, retries included.

The referee is the `slow` generated model (each call busy-waits 400 ms) on the real backend:
a client with a 5 s `timeout_ms` under a 100 ms caller deadline gives up at 100 ms.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2

from seldon_tfserving.caller_deadline import caller_deadline, remaining_s
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from seldon_tfserving.errors import DeadlineExceeded, Unavailable
from seldon_tfserving.model import tfserving_endpoint
from seldon_tfserving.settings import TfServingSettings
from seldon_tfserving.tfserving import client_for
from seldon_tfserving.tfserving.client import (
    CallBudget,
    ModelSignatures,
    ModelTarget,
    RestCall,
    TfServingClient,
)
from seldon_tfserving.tfserving.grpc_client import TfServingGrpcClient
from seldon_tfserving.tfserving.rest_client import TfServingRestClient
from seldon_tfserving.tfserving.signatures import SignatureCache
from tests.grpc_servers import unavailable_tf_serving
from tests.servers import Backend

SLOW = ModelTarget("slow")
#: well under the slow model's 400 ms, well over a loopback call's cost
CALLER_DEADLINE_S = 0.1


def _client(endpoint: str, transport: str, **parameters: Any) -> TfServingClient:
    settings = TfServingSettings.from_parameters(
        model_name="slow",
        grpc_endpoint=endpoint,
        rest_endpoint=f"http://{endpoint}",
        transport=transport,
        **parameters,
    )
    return client_for(tfserving_endpoint(settings))


@pytest.fixture(params=["grpc", "rest"])
def patient(request: pytest.FixtureRequest, generated_backend: Backend) -> Iterator[Any]:
    """A client of the slow model that would wait 5 s, with its signatures already known."""
    port = generated_backend.grpc_port if request.param == "grpc" else generated_backend.rest_port
    client = _client(f"127.0.0.1:{port}", request.param, timeout_ms=5000, max_retries=0)
    signatures = SignatureCache(client.metadata)
    signatures.get(SLOW)
    yield client, signatures
    client.close()


def _slow_predict(client: TfServingClient, signatures: SignatureCache) -> Any:
    if client.settings.transport == "rest":
        call = RestCall("predict", SLOW, b'{"instances": [1.0]}')
        return client.forward_rest(call, signatures.get)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "slow"
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.asarray([1.0], dtype=np.float32)))
    return client.forward_grpc("Predict", request, signatures.get)


def test_a_call_ends_at_the_callers_deadline_before_timeout_ms(patient: Any) -> None:
    client, signatures = patient
    started = time.monotonic()
    with caller_deadline(CALLER_DEADLINE_S), pytest.raises(DeadlineExceeded) as raised:
        _slow_predict(client, signatures)
    # far under timeout_ms's 5 s (a loaded machine's pauses allowed); the message names the
    # deadline that ended it
    assert time.monotonic() - started < 2.5
    assert "within the caller's deadline" in raised.value.message
    assert raised.value.http_status == 504


def test_without_a_caller_deadline_timeout_ms_alone_bounds_the_call(patient: Any) -> None:
    client, signatures = patient
    assert remaining_s() is None
    answer = _slow_predict(client, signatures)  # 400 ms, inside the client's 5 s
    assert answer.duration_ms >= 390
    with caller_deadline(30.0):  # a caller more patient than timeout_ms changes nothing
        assert _slow_predict(client, signatures).duration_ms >= 390


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_timeout_ms_still_bounds_a_call_under_a_longer_caller_deadline(
    generated_backend: Backend, transport: str
) -> None:
    port = generated_backend.grpc_port if transport == "grpc" else generated_backend.rest_port
    client = _client(f"127.0.0.1:{port}", transport, timeout_ms=100, max_retries=0)
    signatures = SignatureCache(client.metadata)
    signatures.get(SLOW)
    try:
        with caller_deadline(30.0), pytest.raises(DeadlineExceeded, match="within 100 ms"):
            _slow_predict(client, signatures)
    finally:
        client.close()


def test_a_caller_that_already_gave_up_sends_nothing(patient: Any) -> None:
    client, signatures = patient
    with caller_deadline(0.0), pytest.raises(DeadlineExceeded) as raised:
        _slow_predict(client, signatures)
    assert "0 ms left" in raised.value.message


def test_nested_deadlines_keep_the_sooner() -> None:
    with caller_deadline(10.0):
        with caller_deadline(0.5):
            inner = remaining_s()
        with caller_deadline(60.0):
            outer = remaining_s()
    assert inner is not None and inner <= 0.5
    assert outer is not None and 9.0 < outer <= 10.0
    assert remaining_s() is None


def _no_signatures(target: ModelTarget) -> ModelSignatures:
    raise AssertionError("a gRPC request forwarded over gRPC needs no signature")


@pytest.fixture
def unavailable_endpoint() -> Iterator[str]:
    with unavailable_tf_serving("not yet") as (_, endpoint):
        yield endpoint


def test_retries_stop_at_the_callers_deadline(unavailable_endpoint: str) -> None:
    """Six retries back off 50 ms .. 1 s (about 1.5 s in all); the caller waits 100 ms. The
    answer names the cause, TF Serving unavailable, as when timeout_ms stops the retries."""
    client = _client(unavailable_endpoint, "grpc", timeout_ms=5000, max_retries=6)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "slow"
    try:
        with pytest.raises(Unavailable):  # no deadline: every retry is spent
            client.forward_grpc("Predict", request, _no_signatures)
        started = time.monotonic()
        with caller_deadline(CALLER_DEADLINE_S), pytest.raises(Unavailable):
            client.forward_grpc("Predict", request, _no_signatures)
        # well under the 1.5 s the retries take; a loaded machine adds scheduling delay
        assert time.monotonic() - started < 1.0
    finally:
        client.close()


@pytest.mark.parametrize("client_type", [TfServingGrpcClient, TfServingRestClient])
def test_a_deadline_spent_before_an_attempt_is_a_deadline_exceeded(
    client_type: type[TfServingClient],
) -> None:
    """Time can run out between a call's start (or a retry's backoff) and its next attempt on
    a loaded machine: requests refuses a timeout of 0 with a ValueError (a wrapper that died
    at start-up in CI) and gRPC may answer UNAVAILABLE first; both are a DeadlineExceeded."""

    class SpentBudget(client_type):  # type: ignore[valid-type,misc]
        def budget(self, what: str) -> CallBudget:
            return CallBudget(time.monotonic() - 1.0, iter(()))

    transport = "rest" if client_type is TfServingRestClient else "grpc"
    client = SpentBudget(_client("127.0.0.1:9", transport).settings)
    try:
        with pytest.raises(DeadlineExceeded):
            client.status(ModelTarget("slow"))
    finally:
        client.close()
