"""TF Serving failing in the middle of a call: each transport ends it by its deadline, with the
status the failure stands for.

- TF Serving's REST answer cut short (it died mid-response): Unavailable (503), retried like a
  refused connection, never a raw `ChunkedEncodingError` (a 500, or gRPC UNKNOWN).
- TF Serving hung (SIGSTOP: the kernel still accepts the connection, nothing answers): a
  DeadlineExceeded (504) at `timeout_ms`, also when no connection was open yet, never an
  Unavailable after 0.1 s (the gRPC channel's connect timeout used to be 100 ms).
- Retries never outlive the deadline, and a call that spent it retrying an unavailable server
  ends with that server's problem (Unavailable), also when a backoff's sleep overran it.

The cut answers come from tiny servers that cut them on purpose (a real TF Serving cannot be
made to stop half-way on cue); the hang is a real backend, stopped and continued.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest

from seldon_tfserving.codec.tensors import as_ndarray
from seldon_tfserving.errors import DeadlineExceeded, Unavailable
from seldon_tfserving.tfserving import client_for
from seldon_tfserving.tfserving.client import (
    CallBudget,
    EndpointSettings,
    ModelTarget,
    PredictCall,
    Signature,
    TfServingClient,
)
from seldon_tfserving.tfserving.rest_client import TfServingRestClient
from seldon_tfserving.tfserving.signatures import select_signature
from tests.grpc_servers import unavailable_tf_serving
from tests.servers import Backend
from tests.waiting import eventually

HALF = ModelTarget("half_plus_two")
BODY = b'{"outputs": [[2.5], [3.0]]}'


class CuttingServer:
    """Answers the n-th connection with `replies[n]` (the last one ever after), then closes:
    a status line, headers and as much of a body as the reply holds."""

    def __init__(self, *replies: bytes) -> None:
        self.replies = replies
        self.connections = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                reply = self.replies[min(self.connections, len(self.replies) - 1)]
                self.connections += 1
                connection.recv(65536)
                connection.sendall(reply)

    def close(self) -> None:
        self._socket.close()


def _rest_call(url: str, timeout_ms: int = 2000, max_retries: int = 2) -> Any:
    endpoint = EndpointSettings(url, "rest", timeout_ms, max_retries, 1 << 20)
    call = PredictCall(ModelTarget("m"), "serving_default", {"x": np.array([[1.0], [2.0]])})
    return TfServingRestClient(endpoint).predict(call)


CUT_ANSWERS = {
    "half a body": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY[: len(BODY) // 2],
    "a chunk cut short": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"%x\r\n" % len(BODY) + BODY[:5],
    "headers, then nothing": b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n",
}


@pytest.mark.parametrize("reply", CUT_ANSWERS.values(), ids=CUT_ANSWERS.keys())
def test_an_answer_cut_short_is_unavailable_after_the_retries(reply: bytes) -> None:
    server = CuttingServer(reply)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="lost in the middle of the answer") as refused:
            _rest_call(server.url, max_retries=2)
        assert time.monotonic() - started < 2.0
        assert refused.value.http_status == 503
        assert refused.value.grpc_code == grpc.StatusCode.UNAVAILABLE
        assert "after 2 retries" in refused.value.message
        assert server.connections == 3
    finally:
        server.close()


def test_a_whole_answer_after_a_cut_one_is_taken() -> None:
    """The retry is a new connection: its whole answer is the result."""
    whole = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
    server = CuttingServer(CUT_ANSWERS["half a body"], whole)
    try:
        result = _rest_call(server.url, max_retries=2)
        assert as_ndarray(result.outputs["outputs"]).tolist() == [[2.5], [3.0]]
        assert server.connections == 2
    finally:
        server.close()


def test_rest_retries_of_503_stop_at_the_deadline() -> None:
    """Ten retries would take over 3 s of backoff; the 300 ms deadline ends the call first."""
    busy = b'{"error": "busy"}'
    server = CuttingServer(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n" % len(busy) + busy
    )
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="busy"):
            _rest_call(server.url, timeout_ms=300, max_retries=10)
        # 300 ms and a loaded machine's scheduling, far under 3 s of retries
        assert time.monotonic() - started < 1.0
        assert server.connections < 11
    finally:
        server.close()


def test_a_backoff_that_oversleeps_the_deadline_is_no_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loaded machine wakes a 40 ms backoff late, past the call's 50 ms: no attempt is made
    with no time left, so the caller hears the server's problem, not a deadline of its own."""
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: real_sleep(seconds + 0.1))
    budget = CallBudget(time.monotonic() + 0.05, iter([0.04]))
    assert budget.wait_to_retry("Predict") is False
    assert budget.retries == 0


def test_grpc_retries_of_unavailable_stop_at_the_deadline() -> None:
    with unavailable_tf_serving("overloaded") as (servicer, endpoint):
        client = client_for(EndpointSettings(endpoint, "grpc", 300, 10, 1 << 20))
        try:
            started = time.monotonic()
            with pytest.raises(Unavailable, match="overloaded"):
                client.predict(PredictCall(ModelTarget("m"), "s", {"x": np.array([1.0])}))
            assert time.monotonic() - started < 1.0  # as above, over gRPC
            assert servicer.calls < 11
        finally:
            client.close()


# --- a hung TF Serving ----------------------------------------------------------------------


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A port whose kernel accepts connections that nobody ever reads or answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_a_server_that_never_answers_is_a_504_at_the_deadline(
    silent_listener: str, transport: str
) -> None:
    endpoint = silent_listener if transport == "grpc" else f"http://{silent_listener}"
    client = client_for(EndpointSettings(endpoint, transport, 700, 2, 1 << 20))  # type: ignore[arg-type]
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="within 700 ms") as refused:
            client.status(HALF)
        took = time.monotonic() - started
        assert refused.value.http_status == 504
        # under the per-call deadline, not one per attempt (two attempts would take 1.4 s); the
        # slack above 700 ms is for a loaded machine's scheduling
        assert 0.65 < took < 1.35, took
    finally:
        client.close()


@dataclass
class StoppableBackend:
    """A backend of its own (the session's is shared), whose process group can be stopped
    (SIGSTOP) and continued (SIGCONT)."""

    backend: Backend
    stopped: bool = False

    def signal(self, sig: signal.Signals) -> None:
        assert self.backend.server.pid is not None
        os.killpg(self.backend.server.pid, sig)
        self.stopped = sig == signal.SIGSTOP


@pytest.fixture
def stoppable(
    backend_factory: Callable[..., Backend], tfserving_testdata: Any
) -> Iterator[StoppableBackend]:
    """Always continued afterwards, so that it can be stopped for good."""
    backend = backend_factory(
        [
            "--model_name=half_plus_two",
            f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_two_cpu'}",
        ],
        ready_model="half_plus_two",
        name="stoppable",
    )
    stoppable = StoppableBackend(backend)
    yield stoppable
    if stoppable.stopped:
        stoppable.signal(signal.SIGCONT)


def _client(backend: Backend, transport: str, timeout_ms: int) -> TfServingClient:
    endpoint = backend.grpc_endpoint if transport == "grpc" else backend.rest_endpoint
    return client_for(EndpointSettings(endpoint, transport, timeout_ms, 2, 1 << 24))  # type: ignore[arg-type]


def _predict_until_it_answers(client: TfServingClient, signature: Signature) -> Any:
    def answered() -> tuple[Any] | None:
        """The answer (in a tuple: any answer is one), or None while it is a 504 or 503."""
        try:
            x = np.array([[1.0]], np.float32)
            call = PredictCall(HALF, signature.name, {"x": x}, signature=signature)
            return (as_ndarray(client.predict(call).outputs["y"]).tolist(),)
        except (DeadlineExceeded, Unavailable):
            return None

    (answer,) = eventually(answered, 30, interval_s=0.2, awaited="an answer after SIGCONT")
    return answer


def test_a_stopped_tf_serving_is_a_504_at_the_deadline_then_answers_once_continued(
    stoppable: StoppableBackend,
) -> None:
    """Both with a connection open before the hang and with none yet (the hang then meets
    the connect: TCP is accepted by the kernel, the HTTP/2 or HTTP exchange never starts)."""
    clients = {
        (opened, transport): _client(stoppable.backend, transport, 1000)
        for opened in ("open", "none yet")
        for transport in ("grpc", "rest")
    }
    signature = select_signature(clients["open", "grpc"].metadata(HALF), "serving_default")
    clients["open", "rest"].status(HALF)
    stoppable.signal(signal.SIGSTOP)
    took: dict[tuple[str, str], float] = {}
    for key, client in clients.items():
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="within 1000 ms") as refused:
            client.status(HALF)
        took[key] = time.monotonic() - started
        assert refused.value.http_status == 504
    stoppable.signal(signal.SIGCONT)
    # one deadline per call, not per attempt (two attempts: 2 s), with a loaded machine's slack
    assert all(0.95 < seconds < 1.9 for seconds in took.values()), took
    for key, client in clients.items():
        assert _predict_until_it_answers(client, signature) == [[2.5]], key
        client.close()
