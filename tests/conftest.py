"""Fixtures that start real servers on free ports; each room's tests build on these."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.runner.child import ChildProcess, stop_together
from tests.reliability.ledger import take_over, write_summary
from tests.savedmodels import build_generated_models, generated_model_config
from tests.servers import (
    TFSERVING_TESTDATA,
    Backend,
    Microservice,
    start_backend,
    start_microservice,
)

#: The shared TF Serving test models, served under these names by the session backend.
SHARED_MODEL_CONFIG = """
model_config_list {
  config {
    name: "half_plus_two"
    base_path: "%(root)s/saved_model_half_plus_two_cpu"
    model_platform: "tensorflow"
  }
  config {
    name: "half_plus_two_tf2"
    base_path: "%(root)s/saved_model_half_plus_two_tf2_cpu"
    model_platform: "tensorflow"
  }
  config {
    name: "half_plus_three"
    base_path: "%(root)s/saved_model_half_plus_three"
    model_platform: "tensorflow"
  }
  config {
    name: "counter"
    base_path: "%(root)s/saved_model_counter"
    model_platform: "tensorflow"
  }
  config {
    name: "two_versions"
    base_path: "%(root)s/saved_model_half_plus_two_2_versions"
    model_platform: "tensorflow"
    model_version_policy { all {} }
    version_labels { key: "stable" value: 123 }
    version_labels { key: "canary" value: 124 }
  }
}
"""


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every child process writes its log (shown when it fails to start)."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def tfserving_testdata() -> Path:
    """TF Serving's own test SavedModels and metadata (../shared, tests only)."""
    assert TFSERVING_TESTDATA.is_dir(), f"missing {TFSERVING_TESTDATA}"
    return TFSERVING_TESTDATA


@pytest.fixture(scope="session")
def shared_model_config(tmp_path_factory: pytest.TempPathFactory, tfserving_testdata: Path) -> Path:
    path = tmp_path_factory.mktemp("config") / "models.config"
    path.write_text(SHARED_MODEL_CONFIG % {"root": tfserving_testdata})
    return path


@pytest.fixture(scope="session")
def backend(log_dir: Path, shared_model_config: Path) -> Iterator[Backend]:
    """One backend for the session, serving every shared TF Serving test model."""
    server = start_backend(
        log_dir, [f"--model_config_file={shared_model_config}"], ready_model="two_versions"
    )
    yield server
    server.server.stop()


@pytest.fixture(scope="session")
def generated_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Base dir of the models built by tests/savedmodels.py: `<base>/<name>/1/`, once a session."""
    return build_generated_models(tmp_path_factory.mktemp("generated_models"))


@pytest.fixture(scope="session")
def generated_backend(
    log_dir: Path, generated_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """One backend for the session serving every generated model under its own name."""
    config = tmp_path_factory.mktemp("generated_config") / "models.config"
    config.write_text(generated_model_config(generated_models))
    server = start_backend(
        log_dir, [f"--model_config_file={config}"], name="generated", ready_model="slow"
    )
    yield server
    server.server.stop()


@pytest.fixture
def backend_factory(log_dir: Path) -> Iterator[Callable[..., Backend]]:
    """Start extra backends with any tensorflow_model_server flags; all stopped afterwards."""
    started: list[ChildProcess] = []

    def start(args: list[str], ready_model: str | None = None, name: str = "backend") -> Backend:
        server = start_backend(log_dir, args, name=name, ready_model=ready_model)
        started.append(server.server)
        return server

    yield start
    stop_together(started)


@pytest.fixture
def microservice_factory(log_dir: Path) -> Iterator[Callable[..., Microservice]]:
    """Start `seldon-core-microservice` hosting a class of ours; all stopped afterwards."""
    started: list[ChildProcess] = []

    def start(interface: str, **kwargs: Any) -> Microservice:
        service = start_microservice(log_dir, interface, **kwargs)
        started.append(service.server)
        return service

    yield start
    stop_together(started)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: a worker ended; its reliability figures join the controller's."""
    take_over(node.config, getattr(node, "workeroutput", {}))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    write_summary(terminalreporter, config)
