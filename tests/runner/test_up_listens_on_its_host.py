"""`up --host` binds everything it starts there, read back from the kernel's socket tables.

One `up` for the module runs graphs/single-cpu.yaml with `--host 127.0.0.2` (on Linux every
127/8 address is this machine's loopback): then a socket on 0.0.0.0, or a caller that dials a
hard-wired 127.0.0.1, both show. Every listening TCP socket of `up` and of every process below
it (the gateway; the component's gunicorn, gRPC and metrics processes; TF Serving) must be on
127.0.0.2, answer there, and not answer on 127.0.0.1.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from seldon_core.seldon_client import SeldonClient
from seldon_core.utils import get_data_from_proto

from tests.process_kill import kill_with_its_tree
from tests.runner.process_sockets import Listener, descendants, listeners
from tests.runner.test_up_command import SINGLE_CPU, up, wait_until_printed
from tests.servers import TFSERVING_TESTDATA, free_port

HOST = "127.0.0.2"
DEPLOYMENT = "tfserving-single-cpu"

pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class Running:
    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    log_dir: Path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("bound")
    models = root / "models"
    models.mkdir()
    (models / "half_plus_two").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu")
    http_port, grpc_port = free_port(HOST), free_port(HOST)
    output = root / "up.out"
    process = up(
        [str(SINGLE_CPU), "--volume", f"models={models}", "--host", HOST]
        + ["--http-port", str(http_port), "--grpc-port", str(grpc_port)]
        + ["--log-dir", str(root / "logs")],
        output,
    )
    try:
        wait_until_printed(process, output, "Gateway up", 400)
        yield Running(process, http_port, grpc_port, root / "logs")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=60) == 0
        finally:
            kill_with_its_tree(process)


def every_listener(running: Running) -> list[Listener]:
    return listeners(running.process.pid)


def test_every_socket_of_every_process_listens_on_the_host_only(running: Running) -> None:
    found = every_listener(running)
    assert {each.host for each in found} == {HOST}, found
    ports = {each.port for each in found}
    # the gateway's 2, the component's HTTP, gRPC and metrics, TF Serving's gRPC and REST
    assert {running.http_port, running.grpc_port} <= ports
    assert len(ports) == 7, found
    # and they are held by the whole tree, not by `up` alone
    holders = {each.pid for each in found}
    assert holders - {running.process.pid}
    assert holders <= set(descendants(running.process.pid))


def test_each_port_answers_on_the_host_and_not_on_loopback(running: Running) -> None:
    for port in sorted({each.port for each in every_listener(running)}):
        with socket.create_connection((HOST, port), timeout=5):
            pass
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_the_graph_answers_through_the_gateway_on_the_host(
    running: Running, transport: str
) -> None:
    port = running.http_port if transport == "rest" else running.grpc_port
    client = SeldonClient(
        deployment_name=DEPLOYMENT,
        namespace="default",
        gateway="istio",
        transport=transport,
        gateway_endpoint=f"{HOST}:{port}",
        client_return_type="proto",
    )
    result = client.predict(data=np.array([[1.0], [3.0]]))
    assert result.success, result.msg
    np.testing.assert_allclose(np.asarray(get_data_from_proto(result.response)), [[2.5], [3.5]])


def test_the_components_log_says_where_seldons_servers_listen(running: Running) -> None:
    log = (running.log_dir / f"{DEPLOYMENT}__default__classifier.log").read_text()
    assert f"seldon-tfserving up: seldon-core's servers listen on {HOST} (not 0.0.0.0)" in log
    assert f"Listening at: http://{HOST}:" in log  # gunicorn's own word for it
