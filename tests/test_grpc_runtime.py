"""Our processes run gRPC's C core on its iomgr socket I/O: the variable is set before the
first `import grpc`, an operator's own value stands, and the installed grpcio knows the
experiments we name (a name it does not know is logged by the C core, and seen here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seldon_tfserving.grpc_runtime import (
    EXPERIMENTS_VARIABLE,
    IOMGR_IO_EXPERIMENTS,
    experiments_as_shipped,
    use_iomgr_io,
)

#: A process that starts a server and makes one call through it, as each hop of ours does.
_ONE_CALL = """
from concurrent import futures
import grpc
identity = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
handler = grpc.method_handlers_generic_handler("probe.Echo", {"Echo": identity})
server = grpc.server(futures.ThreadPoolExecutor(2), handlers=[handler])
port = server.add_insecure_port("127.0.0.1:0")
server.start()
with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
    assert channel.unary_unary("/probe.Echo/Echo")(b"ping", timeout=10) == b"ping"
server.stop(None)
print("answered")
"""


def _run_with_experiments(value: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _ONE_CALL],
        env={EXPERIMENTS_VARIABLE: value, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_variable_is_set_when_absent_and_an_operators_value_stands() -> None:
    environ: dict[str, str] = {}
    use_iomgr_io(environ)
    assert environ == {EXPERIMENTS_VARIABLE: IOMGR_IO_EXPERIMENTS}
    theirs = {EXPERIMENTS_VARIABLE: "-event_engine_dns"}
    use_iomgr_io(theirs)
    assert theirs == {EXPERIMENTS_VARIABLE: "-event_engine_dns"}


def test_a_process_run_as_shipped_gets_the_operators_value_never_ours() -> None:
    assert experiments_as_shipped({EXPERIMENTS_VARIABLE: IOMGR_IO_EXPERIMENTS}) == ""
    assert experiments_as_shipped({}) == ""
    assert experiments_as_shipped({EXPERIMENTS_VARIABLE: "-event_engine_dns"}) == (
        "-event_engine_dns"
    )


def test_the_installed_grpcio_knows_every_experiment_we_name_and_answers_with_them() -> None:
    ours = _run_with_experiments(IOMGR_IO_EXPERIMENTS)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.strip() == "answered"
    assert "Unknown experiment" not in ours.stderr, ours.stderr
    # the contrast: the C core does report a name it does not know, so the check above sees
    unknown = _run_with_experiments("-no_such_experiment_here")
    assert "Unknown experiment: no_such_experiment_here" in unknown.stderr


def test_the_command_sets_it_before_any_sub_command_is_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from seldon_tfserving import cli

    monkeypatch.delenv(EXPERIMENTS_VARIABLE, raising=False)
    seen: list[str | None] = []
    real_import = cli.importlib.import_module

    def import_module(name: str) -> object:
        seen.append(os.environ.get(EXPERIMENTS_VARIABLE))
        return real_import(name)

    monkeypatch.setattr(cli.importlib, "import_module", import_module)
    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    assert seen and set(seen) == {IOMGR_IO_EXPERIMENTS}


def test_the_component_entrypoint_sets_it_before_seldon_core_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from seldon_tfserving.microservice import __main__ as entrypoint
    from seldon_tfserving.microservice import serve

    monkeypatch.delenv(EXPERIMENTS_VARIABLE, raising=False)
    seen: list[str | None] = []
    monkeypatch.setattr(serve, "main", lambda: seen.append(os.environ.get(EXPERIMENTS_VARIABLE)))
    monkeypatch.setattr(sys, "argv", ["seldon-core-microservice", "users.Model"])
    entrypoint.main()
    assert seen == [IOMGR_IO_EXPERIMENTS]
