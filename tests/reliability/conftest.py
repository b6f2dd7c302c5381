"""The reliability suite's ledger: every test adds what it sent, injected and saw.

The figures (requests sent, faults injected, mismatches, answers by status) are printed at the
end of the run, so a green run still says how much load and how many faults it survived.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.runner.local import LocalRunner
from tests.reliability.graphs import ab_deployment, models_volume, write_graphs
from tests.reliability.ledger import ReliabilityLedger, hand_over, ledger_of
from tests.servers import Backend, Microservice, start_backend, start_microservice

#: Concurrent clients of the load tests, and request threads of the components they load.
THREADS = 8
#: The request size limit every server of the reliability suite is configured with.
LIMIT_BYTES = 256 * 1024


@pytest.fixture(scope="session")
def ledger(request: pytest.FixtureRequest) -> ReliabilityLedger:
    """The session's ledger; its figures are printed in the terminal summary."""
    return ledger_of(request.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under xdist, a worker hands its figures to the controller, which prints them all."""
    hand_over(session.config)


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
