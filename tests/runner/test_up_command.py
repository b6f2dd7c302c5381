"""`seldon-tfserving up` as a user runs it: endpoints printed, served, SIGTERM stops all, exit 0."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tests.process_kill import kill_with_its_tree
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA, VENV_BIN, free_port
from tests.waiting import eventually

SINGLE_CPU = PROJECT_ROOT / "graphs" / "single-cpu.yaml"

pytestmark = pytest.mark.timeout(400)


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: parse after it
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def up(args: list[str], output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(VENV_BIN / "seldon-tfserving"), "up", *args],
        stdout=output.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )


def wait_until_printed(
    process: subprocess.Popen[bytes], output: Path, text: str, timeout_s: float
) -> str:
    """What `up` printed, once it printed `text` (within `timeout_s`, polled twice a second);
    AssertionError with all it printed if it exited first or the time ran out."""

    def printed() -> str | None:
        so_far = output.read_text()
        if text in so_far:
            return so_far
        assert process.poll() is None, output.read_text()
        return None

    return eventually(
        printed,
        timeout_s,
        interval_s=0.5,
        awaited=f"`up` printing {text!r}",
        detail=output.read_text,
    )


def test_up_serves_a_graph_and_sigterm_stops_everything(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "half_plus_two").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu")
    http_port, grpc_port = free_port(), free_port()
    output = tmp_path / "up.out"
    process = up(
        [
            str(SINGLE_CPU),
            "--volume",
            f"models={models}",
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(grpc_port),
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        output,
    )
    try:
        wait_until_printed(process, output, "Gateway up", 300)
        printed = output.read_text()
        base = f"http://127.0.0.1:{http_port}/seldon/default/tfserving-single-cpu/api/v1.0"
        assert f"{base}/predictions" in printed
        assert f'gateway_endpoint="127.0.0.1:{http_port}"' in printed
        assert "ready    backend   tfserving-single-cpu/default/tfserving" in printed
        assert "ready    component tfserving-single-cpu/default/classifier" in printed

        reply = requests.post(
            f"{base}/predictions", json={"data": {"ndarray": [[1.0], [3.0]]}}, timeout=30
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["data"]["ndarray"] == [[2.5], [3.5]]

        children = children_of(process.pid)
        assert len(children) == 2  # TF Serving and the classifier's microservice
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "Stopped." in output.read_text()
        eventually(
            lambda: not [pid for pid in children if alive(pid)],
            2,
            awaited="TF Serving and the microservice gone after up stopped",
        )
    finally:
        kill_with_its_tree(process)


def test_a_volume_without_a_folder_is_refused_before_anything_starts(tmp_path: Path) -> None:
    output = tmp_path / "up.out"
    process = up([str(PROJECT_ROOT / "graphs" / "ab-versions.yaml")], output)
    assert process.wait(timeout=120) == 2
    text = output.read_text()
    assert "--volume models=DIR" in text
    assert "Traceback" not in text


def test_a_missing_volume_folder_is_a_usage_error(tmp_path: Path) -> None:
    output = tmp_path / "up.out"
    process = up([str(SINGLE_CPU), "--volume", f"models={tmp_path / 'nowhere'}"], output)
    assert process.wait(timeout=120) == 2
    assert "does not exist" in output.read_text()


def test_a_gateway_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    output = tmp_path / "up.out"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        models = tmp_path / "models"
        models.mkdir()
        process = up(
            [str(SINGLE_CPU), "--volume", f"models={models}", "--http-port", str(taken)], output
        )
        assert process.wait(timeout=120) == 1
    text = output.read_text()
    assert f"127.0.0.1:{taken}: it is in use" in text
    assert "starting backend" not in text
