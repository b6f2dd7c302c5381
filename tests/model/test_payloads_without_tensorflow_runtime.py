"""Every payload test of `test_model_payloads`, again, on wrappers started by our entry
without TensorFlow's runtime (`python -m seldon_tfserving.microservice`); and those serving
processes hold only the protos: TensorFlow's runtime library is not mapped in any of them.

The tests are the same functions with every assertion (collected here from that module, so a
payload test added there runs here too); only `serve_models` differs: it starts our entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seldon_tfserving.bench.memory import children_of
from seldon_tfserving.runner.launch import MICROSERVICE
from tests.model import test_model_payloads
from tests.model.conftest import ServeModels, serving_models
from tests.servers import Backend, Microservice

#: The shared object TensorFlow's Python runtime loads (`tensorflow/python/...`).
TENSORFLOW_RUNTIME_LIBRARY = "_pywrap_tensorflow_internal"

_FIXTURES = ("half", "half_plus_two", "generated")
globals().update(
    {
        name: value
        for name, value in vars(test_model_payloads).items()
        if name.startswith("test_") or name in _FIXTURES
    }
)


@pytest.fixture(scope="module")
def serve_models(log_dir: Path) -> Iterator[ServeModels]:
    """The wrappers of this module, started by our protos-only entry."""
    yield from serving_models(log_dir, MICROSERVICE)


def maps_tensorflow_runtime(pid: int) -> bool:
    """Whether `pid` or any of its descendants has TensorFlow's runtime library mapped."""
    for process in (pid, *children_of(pid)):
        try:
            maps = Path(f"/proc/{process}/maps").read_text()
        except OSError:
            continue
        if TENSORFLOW_RUNTIME_LIBRARY in maps:
            return True
    return False


def test_the_wrappers_serve_without_tensorflows_runtime(
    half: dict[str, Microservice], generated: dict[str, Microservice], backend: Backend
) -> None:
    services = [*half.values(), *generated.values()]
    for service in services:
        pid = service.server.pid
        assert pid is not None
        assert children_of(pid), "gunicorn's workers (and Seldon's metrics manager) run too"
        assert not maps_tensorflow_runtime(pid), f"{service.server.name} loaded TensorFlow"
    backend_pid = backend.server.pid
    assert backend_pid is not None
    assert maps_tensorflow_runtime(backend_pid), "the check sees TensorFlow where it is loaded"
