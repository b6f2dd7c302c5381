"""Debian's Prometheus for the tests: promtool, and a real server on a free loopback port with a
config of ours, queried through its HTTP API. `make test` installs the package."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from seldon_tfserving.ports import free_port
from tests.waiting import eventually

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0


def binary(name: str) -> str:
    """The path of `prometheus` or `promtool`; a failure that says how to get it."""
    found = shutil.which(name)
    assert found is not None, f"{name} is not installed: `make prometheus` installs Debian's"
    return found


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@dataclass(frozen=True)
class Prometheus:
    """A running Prometheus and its HTTP API."""

    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector; AssertionError with Prometheus's error if any."""
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def get(self, path: str) -> Any:
        answer = requests.get(f"{self.url}{path}", timeout=10)
        answer.raise_for_status()
        return answer.json()["data"]


@contextmanager
def running_prometheus(config: Path, data_dir: Path, log: Path) -> Iterator[Prometheus]:
    """Prometheus serving `config` on a free loopback port until the block ends."""
    port = free_port(HOST)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--web.listen-address={HOST}:{port}",
                f"--storage.tsdb.path={data_dir}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{HOST}:{port}"

    def ready() -> bool:
        assert process.poll() is None, f"prometheus exited: {log.read_text()[-2000:]}"
        try:
            return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        eventually(
            ready,
            READY_TIMEOUT_S,
            interval_s=0.2,
            awaited="prometheus ready",
            detail=lambda: log.read_text()[-2000:],
        )
        yield Prometheus(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
