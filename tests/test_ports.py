"""Ports handed to children: free when chosen, and never the same one twice in a process.

Two children given one port is not always an error on start: seldon-core's gRPC server binds
with SO_REUSEPORT, so both would listen and answer each other's requests.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from seldon_tfserving import ports


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    registry: set[int] = set()
    monkeypatch.setattr(ports, "_handed_out", registry)
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
