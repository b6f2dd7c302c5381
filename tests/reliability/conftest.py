"""The reliability suite's ledger: every test adds what it sent, injected and saw.

The figures (requests sent, faults injected, mismatches, answers by status) are printed at the
end of the run, so a green run still says how much load and how many faults it survived.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.runner.local import LocalRunner
from tests.reliability.graphs import ab_deployment, models_volume, write_graphs
from tests.servers import Backend, Microservice, start_backend, start_microservice

#: Concurrent clients of the load tests, and request threads of the components they load.
THREADS = 8
#: The request size limit every server of the reliability suite is configured with.
LIMIT_BYTES = 256 * 1024


@dataclass
class ReliabilityLedger:
    """Thread-safe counters shared by the reliability tests of one pytest session."""

    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    mismatches: int = 0
    drops: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, status: str, count: int = 1) -> None:
        with self._lock:
            self.requests += count
            self.statuses[status] += count

    def mismatched(self, count: int = 1) -> None:
        with self._lock:
            self.mismatches += count

    def dropped(self, count: int = 1) -> None:
        with self._lock:
            self.drops += count

    def injected(self, fault: str) -> None:
        with self._lock:
            self.faults[fault] += 1

    def summary_lines(self) -> list[str]:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"
        faults = ", ".join(f"{k}: {v}" for k, v in sorted(self.faults.items())) or "none"
        return [
            f"requests sent: {self.requests}",
            f"faults injected: {sum(self.faults.values())} ({faults})",
            f"mismatches: {self.mismatches}, drops: {self.drops}",
            f"answers by status: {statuses}",
        ]


_LEDGER_KEY = pytest.StashKey[ReliabilityLedger]()


@pytest.fixture(scope="session")
def ledger(request: pytest.FixtureRequest) -> ReliabilityLedger:
    """The session's ledger; its figures are printed in the terminal summary."""
    config = request.config
    if _LEDGER_KEY not in config.stash:
        config.stash[_LEDGER_KEY] = ReliabilityLedger()
    return config.stash[_LEDGER_KEY]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    recorded = config.stash.get(_LEDGER_KEY, None)
    if recorded is None:
        return
    terminalreporter.section("reliability figures")
    for line in recorded.summary_lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def limited_backend(log_dir: Path, tfserving_testdata: Path) -> Iterator[Backend]:
    """half_plus_two on a backend that refuses requests over LIMIT_BYTES."""
    server = start_backend(
        log_dir,
        [
            "--model_name=half_plus_two",
            f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_two_cpu'}",
            f"--max_request_bytes={LIMIT_BYTES}",
        ],
        name="limited",
        ready_model="half_plus_two",
    )
    yield server
    server.server.stop()


@pytest.fixture(scope="session")
def wrapper(log_dir: Path, limited_backend: Backend) -> Iterator[Microservice]:
    """TfServingModel on half_plus_two, as many request threads as clients, LIMIT_BYTES."""
    service = start_microservice(
        log_dir,
        "seldon_tfserving.TfServingModel",
        parameters=[
            {"name": "model_name", "type": "STRING", "value": "half_plus_two"},
            {"name": "grpc_endpoint", "type": "STRING", "value": limited_backend.grpc_endpoint},
            {"name": "rest_endpoint", "type": "STRING", "value": limited_backend.rest_endpoint},
            {"name": "max_message_bytes", "type": "INT", "value": str(LIMIT_BYTES)},
        ],
        extra_args=["--threads", str(THREADS), "--grpc-threads", str(THREADS)],
    )
    yield service
    service.server.stop()


@pytest.fixture(scope="session")
def ab_graph(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[LocalRunner]:
    """An A/B graph (ABTestRouter over two TfServingModels) behind a gateway with LIMIT_BYTES."""
    root = tmp_path_factory.mktemp("ab-graph")
    manifest = write_graphs(root / "ab.yaml", ab_deployment("ab"))
    settings = GatewaySettings(max_body_bytes=LIMIT_BYTES, grpc_max_message_bytes=LIMIT_BYTES)
    with LocalRunner(
        manifest,
        volumes={"models": models_volume(root)},
        log_dir=log_dir,
        gateway_settings=settings,
    ) as runner:
        yield runner
