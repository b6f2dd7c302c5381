"""TF Serving hung (SIGSTOP) before the wrapper ever connected: a clean status, then service
back by itself (kill -9 under load, for each transport, is in test_faults.py).

- SIGSTOP: the kernel still accepts connections, nothing answers. With no connection open yet
  the gRPC channel's 100 ms connect timeout turned it into a 503 within 0.1 s; now each
  transport answers 504 / DEADLINE_EXCEEDED at `timeout_ms`, and 200 after SIGCONT.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import requests

from seldon_tfserving.runner.child import stop_together
from tests.reliability.conftest import ReliabilityLedger
from tests.reliability.test_faults import _grpc_predict, _parameters
from tests.servers import Backend, Microservice, start_microservice, wait_until_ready
from tests.waiting import eventually

TIMEOUT_MS = 1000


@pytest.mark.timeout(300)
def test_a_hung_tfserving_never_connected_to_is_a_504_at_the_deadline_then_answers(
    backend_factory: Callable[..., Backend],
    tfserving_testdata: Path,
    log_dir: Path,
    ledger: ReliabilityLedger,
) -> None:
    backend = backend_factory(
        [
            "--model_name=half_plus_two",
            f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_two_cpu'}",
        ],
        ready_model="half_plus_two",
        name="hung",
    )
    assert backend.server.pid is not None
    group = backend.server.pid
    os.killpg(group, signal.SIGSTOP)  # before any wrapper connected to it
    ledger.injected("TF Serving hung (SIGSTOP)")
    wrappers: dict[str, Microservice] = {}
    try:
        try:
            took = _hung_calls(wrappers, backend, log_dir, ledger)
        finally:
            os.killpg(group, signal.SIGCONT)
        # cut at the deadline, not before it; the bound above only keeps a loaded machine's
        # pauses apart from the client's own 30 s (the backend never answers)
        assert all(0.95 < seconds < TIMEOUT_MS / 1000 + 4.0 for seconds in took.values()), took
        for transport, wrapper in wrappers.items():
            assert _answered_again(wrapper) == (200, "OK"), transport
            ledger.answered("200")
    finally:
        stop_together([wrapper.server for wrapper in wrappers.values()])


def _hung_calls(
    wrappers: dict[str, Microservice], backend: Backend, log_dir: Path, ledger: ReliabilityLedger
) -> dict[str, float]:
    """Start a wrapper per transport on the hung backend; how long each face took to 504."""
    for transport in ("grpc", "rest"):
        wrappers[transport] = start_microservice(
            log_dir,
            "seldon_tfserving.TfServingModel",
            parameters=[
                *_parameters(
                    model_name="half_plus_two",
                    grpc_endpoint=backend.grpc_endpoint,
                    rest_endpoint=backend.rest_endpoint,
                    transport=transport,
                ),
                {"name": "timeout_ms", "type": "INT", "value": str(TIMEOUT_MS)},
                {"name": "ready_timeout_s", "type": "FLOAT", "value": "0"},
            ],
            wait_ready=False,
        )
    wait_until_ready(*wrappers.values(), timeout_s=240)
    took: dict[str, float] = {}
    for transport, wrapper in wrappers.items():
        started = time.monotonic()
        reply = _rest_predict(wrapper)
        took[f"{transport} via Seldon REST"] = time.monotonic() - started
        ledger.answered(str(reply.status_code))
        assert reply.status_code == 504, (transport, reply.text)
        assert reply.json()["status"]["reason"] == "MICROSERVICE_TIMEOUT"
        assert f"within {TIMEOUT_MS} ms" in reply.json()["status"]["info"]
        started = time.monotonic()
        code, _ = _grpc_predict(wrapper, 1.0)
        took[f"{transport} via Seldon gRPC"] = time.monotonic() - started
        ledger.answered(f"grpc {code}")
        assert code == "DEADLINE_EXCEEDED", (transport, code)
    return took


def _rest_predict(wrapper: Microservice) -> requests.Response:
    return requests.post(
        f"{wrapper.http_url}/api/v1.0/predictions", json={"data": {"ndarray": [[1.0]]}}, timeout=30
    )


def _rest_answered(wrapper: Microservice) -> requests.Response | None:
    """The REST reply once it is a 200; every other answer must be a 503 or a 504."""
    reply = _rest_predict(wrapper)
    if reply.status_code == 200:
        return reply
    assert reply.status_code in (503, 504), reply.text
    return None


def _grpc_answered(wrapper: Microservice) -> tuple[str, float] | None:
    """The gRPC answer once it is OK; every other must be UNAVAILABLE or DEADLINE_EXCEEDED."""
    answer = _grpc_predict(wrapper, 1.0)
    if answer[0] == "OK":
        return answer
    assert answer[0] in ("UNAVAILABLE", "DEADLINE_EXCEEDED"), answer
    return None


def _answered_again(wrapper: Microservice) -> tuple[int, str]:
    """Both faces' first right answer (2.5 for 1.0) within 30 s; failures meanwhile must be
    the clean ones of a backend coming back (503/504, UNAVAILABLE/DEADLINE_EXCEEDED)."""
    deadline = time.monotonic() + 30
    reply = eventually(
        partial(_rest_answered, wrapper),
        30,
        interval_s=0.2,
        awaited="a REST answer after SIGCONT",
    )
    assert reply.json()["data"]["ndarray"] == [[2.5]]
    answer = eventually(
        partial(_grpc_answered, wrapper),
        deadline - time.monotonic(),
        interval_s=0.2,
        awaited="a gRPC answer in what is left of the 30 s after SIGCONT",
    )
    assert answer[1] == 2.5
    return reply.status_code, answer[0]
