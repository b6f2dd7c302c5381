"""SIGTERM to `up` under load: every request taken before it is answered, then all goes, exit 0.

One `up` for the module (the user's command, default `--host`) runs two deployments from one
file: graphs/single-cpu.yaml as written (a TfServingModel and its TF Serving) and a node of the
user's own class, a module in the working directory allowed with `--allow-class`, whose process
tree ignores SIGTERM outside its process group (stubborn_model.py). REST and gRPC clients
keep the single-cpu graph busy through the gateway; SIGTERM comes mid-load. Then:

- every call begun before the signal was answered, and answered right (0 lost), but for a
  gRPC call still on its way as the gateway's server stops, which gRPC's core ends as
  CANCELLED without running it (grpc/grpc#41785; below);
- no call at all got a 5xx or a wrong answer: later ones were answered or refused;
- the gateway stopped taking connections at once (readiness fails) while the rest stopped;
- `up` exited 0 within the bound: the gateway's drain, then one grace for every child, after
  which SIGKILL ends even the stubborn tree; every process that was below `up` is gone.

Before the signal the same processes are read back from the kernel: none listens on the
wildcard address, all on 127.0.0.1 (the default `--host`).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
import requests
import yaml
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.runner.child import STOP_GRACE_S
from seldon_tfserving.runner.process_tree import TreeMember, alive, process_tree
from tests.process_kill import kill_with_its_tree
from tests.runner.process_sockets import Listener, listeners
from tests.runner.test_up_command import SINGLE_CPU, wait_until_printed
from tests.servers import TFSERVING_TESTDATA, VENV_BIN, free_port

pytestmark = pytest.mark.timeout(600)

SINGLE = "tfserving-single-cpu"
#: Load before the signal, and how long clients keep calling after it.
LOAD_BEFORE_S = 4.0
LOAD_AFTER_S = 3.0
REST_CLIENTS, GRPC_CLIENTS = 3, 2
#: `up`'s stop: the gateway's drain, one grace shared by every child, then the SIGKILLs; plus
#: what a loaded two-core machine adds (reaping, the interpreter's exit).
STOP_BOUND_S = GatewaySettings().drain_timeout_s + STOP_GRACE_S + 5.0
#: How soon after the signal the gateway must refuse new connections.
READINESS_GONE_S = 2.0
#: How long before the signal a gRPC call may have been sent and still be one the gateway's
#: server had not taken up when it stopped: `up` handles SIGTERM at its interpreter's next
#: switch and stops REST first, on a loaded machine tens of milliseconds
STOP_LATENCY_S = 0.5


def stubborn_deployment(pid_file: Path) -> dict[str, object]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "stubborn"},
        "spec": {
            "predictors": [
                {
                    "name": "default",
                    "graph": {
                        "name": "stubborn",
                        "type": "MODEL",
                        "parameters": [
                            {"name": "pid_file", "type": "STRING", "value": str(pid_file)}
                        ],
                    },
                    "componentSpecs": [
                        {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "stubborn",
                                        "image": "my/stubborn:1",
                                        "env": [
                                            {
                                                "name": "MODEL_NAME",
                                                "value": "stubborn_model.StubbornModel",
                                            },
                                            {"name": "SERVICE_TYPE", "value": "MODEL"},
                                        ],
                                    }
                                ]
                            }
                        }
                    ],
                }
            ]
        },
    }


@dataclass
class Call:
    """One client call: when it began and ended, and what came back."""

    transport: str
    began: float
    ended: float = 0.0
    #: HTTP status, or the gRPC code's name; None when no answer came (refused, reset)
    status: int | str | None = None
    right: bool = False
    error: str = ""


@dataclass
class Stopped:
    """What the module's run saw."""

    calls: list[Call]
    signalled_at: float
    exited_at: float
    returncode: int
    output: str
    listening: list[Listener]
    tree: tuple[TreeMember, ...]
    stubborn_helper: TreeMember
    readiness_after_signal: list[str] = field(default_factory=list)


def rest_call(session: requests.Session, url: str) -> Callable[[Call], None]:
    def call(record: Call) -> None:
        reply = session.post(url, json={"data": {"ndarray": [[1.0], [3.0]]}}, timeout=30)
        record.status = reply.status_code
        record.right = reply.status_code == 200 and reply.json()["data"]["ndarray"] == [
            [2.5],
            [3.5],
        ]

    return call


def grpc_call(stub: prediction_pb2_grpc.SeldonStub) -> Callable[[Call], None]:
    request = json_format.ParseDict({"data": {"ndarray": [[1.0]]}}, prediction_pb2.SeldonMessage())
    metadata = (("seldon", SINGLE), ("namespace", "default"))

    def call(record: Call) -> None:
        try:
            reply = stub.Predict(request, metadata=metadata, timeout=30)
        except grpc.RpcError as error:
            record.status = error.code().name
            return
        record.status = grpc.StatusCode.OK.name
        answer = reply.data.ndarray.values[0].list_value.values[0].number_value
        record.right = answer == 2.5

    return call


def keep_calling(
    transport: str, call: Callable[[Call], None], until: threading.Event, calls: list[Call]
) -> None:
    while not until.is_set():
        record = Call(transport, time.monotonic())
        try:
            call(record)
        except (requests.RequestException, OSError) as error:
            record.error = type(error).__name__
        record.ended = time.monotonic()
        calls.append(record)
        if not record.right:
            time.sleep(0.02)  # refused: do not spin


def probe_readiness(url: str) -> str:
    try:
        return str(requests.get(url, timeout=2).status_code)
    except requests.RequestException as error:
        return type(error).__name__


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stopped]:
    root = tmp_path_factory.mktemp("stop")
    models = root / "models"
    models.mkdir()
    (models / "half_plus_two").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu")
    pid_file = root / "stubborn-helper.pid"
    graph = root / "two.yaml"
    graph.write_text(
        SINGLE_CPU.read_text() + "\n---\n" + yaml.safe_dump(stubborn_deployment(pid_file))
    )
    http_port, grpc_port = free_port(), free_port()
    output = root / "up.out"
    # the user's own module, in the folder `up` is run from
    shutil.copy(Path(__file__).with_name("stubborn_model.py"), root / "stubborn_model.py")
    process = subprocess.Popen(
        [str(VENV_BIN / "seldon-tfserving"), "up", str(graph), "--volume", f"models={models}"]
        + ["--allow-class", "stubborn_model"]
        + ["--http-port", str(http_port), "--grpc-port", str(grpc_port)]
        + ["--log-dir", str(root / "logs")],
        stdout=output.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,
    )
    try:
        yield run_and_stop(process, output, http_port, grpc_port, pid_file)
    finally:
        kill_with_its_tree(process)


def run_and_stop(
    process: subprocess.Popen[bytes], output: Path, http_port: int, grpc_port: int, pid_file: Path
) -> Stopped:
    wait_until_printed(process, output, "Gateway up", 400)
    base = f"http://127.0.0.1:{http_port}/seldon/default/{SINGLE}/api/v1.0"
    until, calls = threading.Event(), list[Call]()
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    clients = [
        threading.Thread(
            target=keep_calling,
            args=("rest", rest_call(requests.Session(), f"{base}/predictions"), until, calls),
        )
        for _ in range(REST_CLIENTS)
    ] + [
        threading.Thread(
            target=keep_calling,
            args=("grpc", grpc_call(prediction_pb2_grpc.SeldonStub(channel)), until, calls),
        )
        for _ in range(GRPC_CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(LOAD_BEFORE_S)
        listening = listeners(process.pid)
        tree = process_tree(process.pid)
        helper = process_tree(int(pid_file.read_text()))[0]
        signalled_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        readiness = []
        while time.monotonic() < signalled_at + READINESS_GONE_S:
            readiness.append(probe_readiness(f"http://127.0.0.1:{http_port}/ready"))
            time.sleep(0.1)
        time.sleep(max(0.0, signalled_at + LOAD_AFTER_S - time.monotonic()))
        returncode = process.wait(timeout=120)
        exited_at = time.monotonic()
    finally:
        until.set()
        for client in clients:
            client.join(timeout=60)
        channel.close()
    return Stopped(
        calls,
        signalled_at,
        exited_at,
        returncode,
        output.read_text(),
        listening,
        tree,
        helper,
        readiness,
    )


def test_before_the_signal_nothing_listens_on_the_wildcard_address(stopped: Stopped) -> None:
    assert stopped.listening
    assert {each.host for each in stopped.listening} == {"127.0.0.1"}, stopped.listening
    # the gateway's 2; each component's HTTP, gRPC and metrics; TF Serving's gRPC and REST
    assert len({each.port for each in stopped.listening}) == 2 + 2 * 3 + 2


def refused_by_the_stop(call: Call, signalled_at: float) -> bool:
    """A gRPC call that reached the gateway's server just as it stopped, before any handler took
    it: gRPC's core ends such a call as CANCELLED (grpc/grpc#41785; UNAVAILABLE is what it
    means), or as UNAVAILABLE when the server's GOAWAY reached the client first; never run. It
    was sent at most a stop's latency before the signal and ended as the server stopped, not
    when the drain ran out (a call cut off mid-run would end then)."""
    return (
        call.status in ("CANCELLED", "UNAVAILABLE")
        and call.began >= signalled_at - STOP_LATENCY_S
        and signalled_at <= call.ended < signalled_at + GatewaySettings().drain_timeout_s
    )


def test_every_call_begun_before_the_signal_was_answered_right(stopped: Stopped) -> None:
    before = [c for c in stopped.calls if c.began < stopped.signalled_at]
    assert len(before) > 50
    refused = [c for c in before if refused_by_the_stop(c, stopped.signalled_at)]
    assert len(refused) <= GRPC_CLIENTS, refused
    lost = [c for c in before if not c.right and c not in refused]
    assert lost == []
    in_flight = [c for c in before if c.ended > stopped.signalled_at]
    assert in_flight, "no call was in flight at the signal: nothing was drained"
    assert {c.transport for c in before} == {"rest", "grpc"}


def test_no_call_got_a_server_error_or_a_wrong_answer(stopped: Stopped) -> None:
    answered = [c for c in stopped.calls if c.status is not None]
    cancelled = [c for c in answered if c.status == "CANCELLED"]
    assert all(refused_by_the_stop(c, stopped.signalled_at) for c in cancelled), cancelled
    statuses = {c.status for c in answered} - {"CANCELLED"}
    assert statuses <= {200, "OK", "UNAVAILABLE"}, statuses
    assert all(c.right for c in answered if c.status in (200, "OK"))
    unanswered = {c.error for c in stopped.calls if c.status is None}
    assert unanswered <= {"ConnectionError"}, unanswered


def test_the_gateway_stops_taking_connections_at_once(stopped: Stopped) -> None:
    assert stopped.readiness_after_signal
    assert stopped.readiness_after_signal[-1] != "200"
    # and up was still stopping its children meanwhile: refusing came first
    assert stopped.exited_at > stopped.signalled_at + READINESS_GONE_S


def test_up_exits_0_within_the_bound_with_every_process_gone(stopped: Stopped) -> None:
    assert stopped.returncode == 0, stopped.output
    took = stopped.exited_at - stopped.signalled_at
    assert took < STOP_BOUND_S, f"{took:.1f} s"
    assert "Stopping ...\n" in stopped.output and "Stopped." in stopped.output
    left = [m for m in stopped.tree if alive(m)]
    assert left == []
    # the helper that left its group and ignores SIGTERM is gone too, killed after the grace
    assert not alive(stopped.stubborn_helper)
    assert took >= STOP_GRACE_S
