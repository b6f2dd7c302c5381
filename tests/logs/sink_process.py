"""A `log-sink` started as its own process, waited for as its senders would."""

from __future__ import annotations

import subprocess
import time

import requests

READY_WITHIN_S = 120


def wait_until_sink_ready(url: str, sink: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Until GET `url`ready answers 200; the process must not have exited meanwhile."""
    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        try:
            if requests.get(url + "ready", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline and sink.poll() is None
        time.sleep(0.1)
