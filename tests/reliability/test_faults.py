"""Faults: TF Serving killed under load (each transport), a model slower than the deadline, a graph
component killed.

Each failure must surface as the right clean status (503, 504) for the requests it touches
and for nothing else, and service must come back by itself once the failed part is back.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.gateway.endpoints import endpoint_key
from seldon_tfserving.runner.child import stop_together
from seldon_tfserving.runner.local import LocalRunner
from tests.reliability.conftest import ReliabilityLedger
from tests.reliability.graphs import (
    NAMESPACE,
    ab_deployment,
    models_volume,
    single_deployment,
    write_graphs,
)
from tests.reliability.load import LoadOutcome, half_plus_two, run_load, seldon_answer
from tests.servers import (
    VENV_BIN,
    Backend,
    Microservice,
    ServerProcess,
    free_port,
    port_open,
    start_microservice,
)


def _parameters(**values: str) -> list[dict[str, str]]:
    return [{"name": k, "type": "STRING", "value": v} for k, v in values.items()]


def _backend_process(log_dir: Path, testdata: Path, grpc_port: int, rest_port: int) -> Backend:
    """half_plus_two on fixed ports, so a restart comes back where the wrapper looks."""
    argv = [
        str(VENV_BIN / "seldon-tfserving"),
        "serve-models",
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        "--model_name=half_plus_two",
        f"--model_base_path={testdata / 'saved_model_half_plus_two_cpu'}",
    ]
    server = ServerProcess("restartable-backend", argv, log_dir / f"restartable-{grpc_port}.log")
    server.start()
    backend = Backend(server, grpc_port, rest_port)
    server.wait_until(
        lambda: (
            port_open(grpc_port)
            and requests.get(f"{backend.rest_endpoint}/v1/models/half_plus_two", timeout=2).ok
        )
    )
    return backend


def _is_clean_503(reply: requests.Response) -> bool:
    """A 503 with Seldon's error JSON, not an HTML page or a stack trace."""
    if reply.status_code != 503:
        return False
    try:
        body = reply.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status", {}).get("code") is not None


def _grpc_predict(service: Microservice, x: float, timeout_s: float = 10.0) -> tuple[str, float]:
    """The gRPC status name of one Seldon Model/Predict of [[x]], and the value answered."""
    message = json_format.ParseDict({"data": {"ndarray": [[x]]}}, prediction_pb2.SeldonMessage())
    with grpc.insecure_channel(service.grpc_endpoint) as channel:
        try:
            answer = prediction_pb2_grpc.ModelStub(channel).Predict(message, timeout=timeout_s)
        except grpc.RpcError as error:
            return error.code().name, float("nan")
    return "OK", float(answer.data.ndarray[0][0])


@pytest.mark.timeout(240)
@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_tfserving_killed_under_load_gives_correct_answers_or_clean_503s_then_recovers(
    log_dir: Path, tfserving_testdata: Path, ledger: ReliabilityLedger, transport: str
) -> None:
    """kill -9 under load on Seldon's REST and gRPC faces, for each transport to TF Serving:
    every request is its own correct 200 or a clean 503 / UNAVAILABLE (with `transport: rest`,
    answers cut mid-response once came back as 500 / UNKNOWN), readiness follows TF Serving
    down and up, and traffic recovers without restarting the wrapper."""
    grpc_port, rest_port = free_port(), free_port()
    backend = _backend_process(log_dir, tfserving_testdata, grpc_port, rest_port)
    wrapper = start_microservice(
        log_dir,
        "seldon_tfserving.TfServingModel",
        parameters=_parameters(
            model_name="half_plus_two",
            grpc_endpoint=backend.grpc_endpoint,
            rest_endpoint=backend.rest_endpoint,
            transport=transport,
            timeout_ms="2000",
        ),
        extra_args=["--threads", "4", "--grpc-threads", "4"],
    )
    url = f"{wrapper.http_url}/api/v1.0/predictions"
    unclean: list[tuple[int, str]] = []
    outcome = LoadOutcome()
    grpc_codes: Counter[str] = Counter()
    grpc_wrong: list[tuple[float, float]] = []
    stop = threading.Event()
    restarted: Backend | None = None

    def send(session: requests.Session, x: float) -> requests.Response:
        reply = session.post(url, json={"data": {"ndarray": [[x]]}}, timeout=10)
        if reply.status_code != 200 and not _is_clean_503(reply):
            unclean.append((reply.status_code, reply.text[:200]))
        return reply

    def grpc_load() -> None:
        x = 0.25
        while not stop.is_set():
            code, y = _grpc_predict(wrapper, x)
            grpc_codes[code] += 1
            if code == "OK" and y != half_plus_two(x):
                grpc_wrong.append((x, y))
            x += 1.0

    try:
        load = threading.Thread(target=run_load, args=(send, 4, 100_000, outcome, stop))
        grpc_thread = threading.Thread(target=grpc_load)
        load.start()
        grpc_thread.start()
        time.sleep(1.5)
        answered_before = outcome.statuses["200"]
        backend.server.kill()
        ledger.injected(f"TF Serving killed (transport {transport})")
        time.sleep(2.0)
        readiness_while_down = requests.get(f"{wrapper.http_url}/health/status", timeout=5)
        failed_while_down = outcome.statuses["503"]
        restarted = _backend_process(log_dir, tfserving_testdata, grpc_port, rest_port)
        recovered_at = outcome.statuses["200"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and outcome.statuses["200"] < recovered_at + 200:
            time.sleep(0.2)
        stop.set()
        load.join(timeout=30)
        grpc_thread.join(timeout=30)
        readiness_after = requests.get(f"{wrapper.http_url}/health/status", timeout=5)
    finally:
        stop.set()
        stop_together([wrapper.server, backend.server, *([restarted.server] if restarted else [])])
    for status, count in outcome.statuses.items():
        ledger.answered(status, count)
    for code, count in grpc_codes.items():
        ledger.answered(f"grpc {code}", count)
    ledger.mismatched(len(outcome.mismatches) + len(grpc_wrong))
    ledger.dropped(len(outcome.drops))

    assert answered_before > 0, "traffic flowed before the fault"
    assert outcome.mismatches == [] and grpc_wrong == [], "every answer is its own request's"
    assert outcome.drops == [], "every request got an answer"
    assert unclean == [], f"only 200 or a clean 503 over Seldon REST: {unclean[:3]}"
    assert set(grpc_codes) <= {"OK", "UNAVAILABLE"}, grpc_codes
    assert failed_while_down > 0, "requests during the outage got 503"
    assert readiness_while_down.status_code == 503, "readiness drops while TF Serving is down"
    assert outcome.statuses["200"] >= recovered_at + 200, "traffic recovered after the restart"
    assert readiness_after.status_code == 200, "readiness is back without restarting the wrapper"


def _thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _process_tree_threads(root_pid: int) -> int:
    """Threads of a process and its children (gunicorn serves REST from a worker process)."""
    total = _thread_count(root_pid)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == root_pid:
            total += _process_tree_threads(int(entry))
    return total


@pytest.fixture(scope="module")
def slow_wrapper(log_dir: Path, generated_backend: Backend) -> Iterator[Microservice]:
    service = start_microservice(
        log_dir,
        "seldon_tfserving.TfServingModel",
        parameters=_parameters(
            model_name="slow",
            grpc_endpoint=generated_backend.grpc_endpoint,
            rest_endpoint=generated_backend.rest_endpoint,
            timeout_ms="150",
            max_retries="0",
        ),
        extra_args=["--threads", "4", "--grpc-threads", "4"],
    )
    yield service
    service.server.stop()


@pytest.mark.timeout(120)
def test_a_slow_model_gives_504_within_the_deadline_and_leaks_no_threads(
    slow_wrapper: Microservice, ledger: ReliabilityLedger
) -> None:
    assert slow_wrapper.server.process is not None
    pid = slow_wrapper.server.process.pid
    url = f"{slow_wrapper.http_url}/api/v1.0/predictions"
    body: dict[str, Any] = {"data": {"ndarray": [[1.0]]}}
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client(calls: int) -> None:
        with requests.Session() as session:
            for _ in range(calls):
                began = time.monotonic()
                reply = session.post(url, json=body, timeout=10)
                with lock:
                    results.append((reply.status_code, time.monotonic() - began))

    def round_of(calls: int) -> None:
        clients = [threading.Thread(target=client, args=(calls,)) for _ in range(4)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        time.sleep(1.0)  # the slow model's own calls finish server-side; nothing may stay

    round_of(2)  # the servers' thread pools grow to 4 clients once; that is no leak
    threads_after_first_round = _process_tree_threads(pid)
    round_of(10)
    threads_after_more_rounds = _process_tree_threads(pid)
    ledger.injected("model slower than the deadline")
    for status, _ in results:
        ledger.answered(str(status))

    assert [status for status, _ in results] == [504] * 48
    # a 150 ms deadline: the 400 ms model call is not waited for (the median says so; the
    # slowest only bounds a loaded machine's scheduling pauses, not the model)
    assert sorted(seconds for _, seconds in results)[24] < 0.4
    assert max(seconds for _, seconds in results) < 0.4 + 2.0
    assert threads_after_more_rounds <= threads_after_first_round + 1, (
        "40 more timed-out calls must not leave threads behind",
        threads_after_first_round,
        threads_after_more_rounds,
    )


@pytest.fixture(scope="module")
def two_graphs(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[LocalRunner]:
    root = tmp_path_factory.mktemp("two-graphs")
    manifest = write_graphs(root / "two.yaml", ab_deployment("ab"), single_deployment("single"))
    with LocalRunner(manifest, volumes={"models": models_volume(root)}, log_dir=log_dir) as runner:
        yield runner


@pytest.mark.timeout(120)
def test_a_killed_component_takes_down_its_graph_only(
    two_graphs: LocalRunner, ledger: ReliabilityLedger
) -> None:
    def predict(name: str, x: float) -> requests.Response:
        url = f"{two_graphs.http_url}/seldon/{NAMESPACE}/{name}/api/v1.0/predictions"
        reply = requests.post(url, json={"data": {"ndarray": [[x]]}}, timeout=10)
        ledger.answered(str(reply.status_code))
        return reply

    assert [predict("ab", 1.0).status_code, predict("single", 1.0).status_code] == [200, 200]
    two_graphs.child(endpoint_key("ab", "default", "router")).process.kill()  # type: ignore[union-attr]
    ledger.injected("graph component killed")
    assert two_graphs.wait_for_failure(10.0) is not None, "the runner saw the router exit"

    ab_replies = [predict("ab", float(i)) for i in range(5)]
    single_replies = [predict("single", float(i)) for i in range(5)]
    assert all(_is_clean_503(reply) for reply in ab_replies), [r.text[:200] for r in ab_replies]
    assert [r.status_code for r in single_replies] == [200] * 5
    assert [seldon_answer(r) for r in single_replies] == [half_plus_two(i) for i in range(5)]
