"""Ports handed to children: free when chosen, outside the ephemeral range, and never the same
one twice in a process nor, while claimed, across processes.

Two children given one port is not always an error on start: seldon-core's gRPC server binds
with SO_REUSEPORT, so both would listen and answer each other's requests.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from seldon_tfserving import ports


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> set[int]:
    """This process's registry, and claims in a folder of the test's own."""
    registry: set[int] = set()
    monkeypatch.setattr(ports, "_handed_out", registry)
    monkeypatch.setattr(ports, "CLAIMS", tmp_path / ports.CLAIMS.name)
    return registry


def os_offers(monkeypatch: pytest.MonkeyPatch, offers: Iterator[int]) -> None:
    """The OS's `bind(0)` answers replaced by `offers`, in order."""
    monkeypatch.setattr(ports, "_probe", lambda host: next(offers))


def test_a_port_the_os_offers_again_is_not_handed_out_again(
    fresh_registry: set[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    os_offers(monkeypatch, iter([40001, 40001, 40001, 40002]))
    assert ports.free_port() == 40001
    assert ports.free_port() == 40002
    assert fresh_registry == {40001, 40002}


def test_when_the_os_only_offers_handed_out_ports_it_says_so(
    fresh_registry: set[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    os_offers(monkeypatch, itertools.repeat(40001))
    assert ports.free_port() == 40001
    with pytest.raises(RuntimeError, match="no free port on 127.0.0.1"):
        ports.free_port()


def test_ports_asked_for_from_many_threads_are_all_different_and_bindable(
    fresh_registry: set[int],
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        handed = list(pool.map(lambda _: ports.free_port(), range(400)))
    assert len(set(handed)) == len(handed) == 400
    assert all(ports.port_is_free("127.0.0.1", port) for port in handed[:3])


def test_a_port_someone_listens_on_is_open_and_not_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ports.port_open(port)
        assert not ports.port_is_free("127.0.0.1", port)
    assert not ports.port_open(port)


def test_ports_are_drawn_outside_the_range_clients_connect_from(fresh_registry: set[int]) -> None:
    low, high = ports.ephemeral_range()
    handed = [ports.free_port() for _ in range(200)]
    assert all(ports.FIRST_UNPRIVILEGED <= port <= 65535 for port in handed)
    assert not [port for port in handed if low <= port <= high]


def test_a_port_another_process_was_handed_is_not_handed_out_here(
    fresh_registry: set[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = subprocess.run(
        [sys.executable, "-c", "from seldon_tfserving import ports; print(ports.free_port())"],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    theirs = int(other.stdout)
    os_offers(monkeypatch, iter([theirs, theirs, 40002]))
    assert ports.free_port() == 40002


def test_a_claim_older_than_its_time_is_taken_over(
    fresh_registry: set[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ports.CLAIMS.mkdir()
    stale, fresh = ports.CLAIMS / "40001", ports.CLAIMS / "40002"
    stale.touch()
    fresh.touch()
    long_ago = time.time() - ports.CLAIM_S - 1
    os.utime(stale, (long_ago, long_ago))
    os_offers(monkeypatch, iter([40002, 40001]))
    assert ports.free_port() == 40001
    assert time.time() - stale.stat().st_mtime < ports.CLAIM_S, "renewed as this process's"


def test_where_claims_cannot_be_written_ports_are_still_handed_out_once(
    fresh_registry: set[int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(ports, "CLAIMS", tmp_path / "a-file" / "claims")
    os_offers(monkeypatch, iter([40001, 40001, 40002]))
    assert [ports.free_port(), ports.free_port()] == [40001, 40002]
