"""A `log-sink` started as its own process, waited for as its senders would."""

from __future__ import annotations

import subprocess

import requests

from tests.waiting import eventually

READY_WITHIN_S = 120


def wait_until_sink_ready(url: str, sink: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Until GET `url`ready answers 200; the process must not have exited meanwhile."""

    def ready() -> bool:
        try:
            if requests.get(url + "ready", timeout=2).ok:
                return True
        except requests.ConnectionError:
            pass
        assert sink.poll() is None, f"the sink exited ({sink.returncode}) before it was ready"
        return False

    eventually(ready, READY_WITHIN_S, interval_s=0.1, awaited=f"{url}ready answering 200")
