"""SIGTERM under load: a gateway in its own process over the A/B graph's components, eight
closed-loop clients, then SIGTERM. Every request in flight at that moment is answered with its
own result (0 lost), later ones are refused at connect (never half-served), readiness fails at
within a second of the signal, and the process exits 0 within 5 s."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from seldon_tfserving.runner.local import LocalRunner
from tests.gateway.gateway_child import write_spec
from tests.reliability.conftest import THREADS, ReliabilityLedger
from tests.reliability.graphs import NAMESPACE
from tests.reliability.stop_outcome import StopOutcome, rest_client
from tests.servers import PROJECT_ROOT, VENV_BIN, free_port

PATH = f"/seldon/{NAMESPACE}/ab/api/v1.0/predictions"
EXIT_WITHIN_S = 5.0
#: SIGTERM reaches the gateway's handler asynchronously (a busy interpreter runs it at its next
#: switch), so a probe sent the same instant may still be answered 200; a load balancer polls
READINESS_FAILS_WITHIN_S = 1.0


def readiness_once_signalled(port: int, within_s: float) -> int | str:
    """Poll `/ready` until it stops answering 200 or `within_s` passes: its last answer (a
    status, or "refused" once the listener is closed, its connection refused or reset)."""
    deadline = time.monotonic() + within_s
    while True:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            probe.request("GET", "/ready")
            status: int | str = probe.getresponse().status
        except (ConnectionRefusedError, ConnectionResetError):
            # a probe whose handshake the kernel completed in the instant the listener closed
            # is reset, not refused: either way the gateway takes no more connections (a
            # kubelet counts both as a failed probe)
            status = "refused"
        finally:
            probe.close()
        if status != 200 or time.monotonic() >= deadline:
            return status
        time.sleep(0.02)


@pytest.mark.timeout(240)
def test_sigterm_under_load_loses_no_request_in_flight_and_exits_0_within_5_s(
    ab_graph: LocalRunner, tmp_path: Path, ledger: ReliabilityLedger
) -> None:
    assert ab_graph.plan is not None
    port = free_port()
    spec = write_spec(
        tmp_path / "gateway.json",
        [dict(d.raw) for d in ab_graph.plan.deployments],
        ab_graph.plan.endpoints,
        port,
        free_port(),
    )
    child = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "tests.gateway.gateway_child", str(spec)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "gateway.log").open("w"),
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        outcome = StopOutcome()
        signalled: list[float] = []
        done = threading.Event()
        clients = [
            threading.Thread(target=rest_client, args=(port, PATH, t, outcome, signalled, done))
            for t in range(THREADS)
        ]
        for client in clients:
            client.start()
        time.sleep(3.0)
        signalled.append(time.monotonic())
        child.send_signal(signal.SIGTERM)
        ready_status = readiness_once_signalled(port, READINESS_FAILS_WITHIN_S)
        returncode = child.wait(timeout=30)
        exited_after = time.monotonic() - signalled[0]
        done.set()
        for client in clients:
            client.join(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    ledger.injected("SIGTERM under load")
    ledger.answered("200", outcome.answered)
    for status in outcome.other_statuses:
        ledger.answered(status.split(" ", 1)[0])
    ledger.answered("no answer", len(outcome.lost))
    ledger.dropped(len(outcome.lost))
    ledger.mismatched(len(outcome.wrong))
    assert returncode == 0
    log = (tmp_path / "gateway.log").read_text()[-2000:]
    assert exited_after <= EXIT_WITHIN_S, f"exited {exited_after:.1f} s after SIGTERM: {log}"
    assert ready_status in (503, "refused")
    assert outcome.lost == [], outcome.lost[:3]
    assert outcome.wrong == [] and outcome.other_statuses == []
    assert outcome.answered > 100
    assert outcome.in_flight_answered > 0
    assert outcome.refused == THREADS  # each client, once its connection closed
