"""A port taken between planning and binding: the runner starts again on fresh ports."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import requests

from seldon_tfserving.runner import local
from seldon_tfserving.runner.local import LocalRunner
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA, free_port

pytestmark = pytest.mark.timeout(300)


def test_a_backend_that_lost_its_port_is_started_again_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "half_plus_two").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu")
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    handed_out: list[int] = []

    def first_one_taken(host: str = "127.0.0.1") -> int:
        # the first port planned (the backend's gRPC port) is held by someone else
        port = taken if not handed_out else free_port()
        handed_out.append(port)
        return port

    monkeypatch.setattr(local, "free_port", first_one_taken)
    try:
        with LocalRunner(
            PROJECT_ROOT / "graphs" / "single-cpu.yaml",
            volumes={"models": models},
            http_port=free_port(),
            grpc_port=free_port(),
            log_dir=tmp_path / "logs",
        ) as runner:
            assert runner.plan is not None
            assert runner.plan.backends[0].grpc_port != taken
            reply = requests.post(
                f"{runner.http_url}/seldon/default/tfserving-single-cpu/api/v1.0/predictions",
                json={"data": {"ndarray": [[2.0]]}},
                timeout=30,
            )
            assert reply.status_code == 200, reply.text
            np.testing.assert_allclose(reply.json()["data"]["ndarray"], [[3.0]])
            assert runner.failures == []
    finally:
        squatter.close()
    assert handed_out[0] == taken
