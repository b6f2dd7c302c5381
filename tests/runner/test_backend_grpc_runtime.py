"""A backend that is not ours (the real tensorflow_model_server) runs with gRPC as its makers
ship it; `serve-models`, ours, keeps the choice our processes make (`grpc_runtime.py`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from seldon_tfserving.grpc_runtime import EXPERIMENTS_VARIABLE, IOMGR_IO_EXPERIMENTS
from seldon_tfserving.runner.launch import SERVE_MODELS, launch_backend

#: A stand-in for another program taking tensorflow_model_server's flags: it says what it got.
_TELLS_ITS_EXPERIMENTS = (
    sys.executable,
    "-c",
    f"import os; print('experiments=' + repr(os.environ.get({EXPERIMENTS_VARIABLE!r})))",
)


def _what_it_was_given(tmp_path: Path) -> str:
    launched = launch_backend(tmp_path, [], program=_TELLS_ITS_EXPERIMENTS)
    deadline = time.monotonic() + 30
    while launched.process.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    launched.process.stop()
    (line,) = [x for x in launched.process.log_of_this_run().splitlines() if "experiments=" in x]
    return line.split("=", 1)[1]


def test_another_program_gets_grpcs_defaults_not_our_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXPERIMENTS_VARIABLE, IOMGR_IO_EXPERIMENTS)  # as our command sets it
    assert _what_it_was_given(tmp_path) == "''"


def test_another_program_keeps_an_operators_own_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXPERIMENTS_VARIABLE, "-event_engine_dns")
    assert _what_it_was_given(tmp_path) == "'-event_engine_dns'"


def test_serve_models_inherits_our_choice(tmp_path: Path) -> None:
    launched = launch_backend(tmp_path, ["--help"], program=SERVE_MODELS)
    try:
        assert EXPERIMENTS_VARIABLE not in launched.process.env
    finally:
        launched.process.stop()
