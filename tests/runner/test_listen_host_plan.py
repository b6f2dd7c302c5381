"""`--host` in the plan: every process listens there and is reached there (pure, no processes).

The components' HTTP, gRPC and metrics servers are bound by our entrypoint
(microservice/listen_host.py: seldon-core writes 0.0.0.0 itself), our backend through its
`--bind_address`; the gateway, the probes and a pod's TfServingModel nodes dial the same
address, or loopback for the wildcard.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.microservice.listen_host import LISTEN_HOST_ENV, on_host
from seldon_tfserving.runner.bind_host import dial_host, listen_host
from seldon_tfserving.runner.plan import Programs, RunPlan, find_programs, plan_run
from seldon_tfserving.runner.probes import readiness_probe
from tests.runner.test_plan import ab_documents, component, flag_values, parameters, ports_from

OURS = Programs(("serve-models",), ("seldon-core-microservice",), binds_host=True)


def ab_plan(tmp_path: Path, programs: Programs = OURS, **kw: Any) -> RunPlan:
    return plan_run(
        ab_documents(),
        volumes={"models": tmp_path / "models"},
        scratch_dir=tmp_path / "scratch",
        allocate_port=ports_from(20000),
        programs=programs,
        **kw,
    )


@pytest.mark.parametrize(
    ("text", "host"),
    [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("0.0.0.0", "0.0.0.0"),
     ("192.168.1.20", "192.168.1.20"), ("127.000.000.002", None), ("::1", None),
     ("example.com", None), ("", None)],
)  # fmt: skip
def test_host_is_an_ipv4_address_to_bind(text: str, host: str | None) -> None:
    if host is None:
        with pytest.raises(ValueError, match="is not an IPv4 address"):
            listen_host(text)
    else:
        assert listen_host(text) == host


def test_the_wildcard_is_dialled_on_loopback_and_an_address_as_itself() -> None:
    assert dial_host("0.0.0.0") == "127.0.0.1"
    assert dial_host("127.0.0.2") == "127.0.0.2"


@pytest.mark.parametrize("host", ["127.0.0.2", "0.0.0.0"])
def test_every_process_of_the_plan_listens_on_the_host(tmp_path: Path, host: str) -> None:
    plan = ab_plan(tmp_path, host=host)
    reached = dial_host(host)
    (backend,) = plan.backends
    assert flag_values(backend.argv)["bind_address"] == host
    assert backend.host == reached
    for each in plan.components:
        assert each.host == host
        assert each.endpoint.host == reached
        # the container's command is kept; what runs is our entrypoint on its arguments,
        # told the host
        assert each.argv[0] == "seldon-core-microservice"
        assert each.command == (
            sys.executable,
            "-m",
            "seldon_tfserving.microservice",
            *each.argv[1:],
        )
        assert each.env[LISTEN_HOST_ENV] == host
    # the pod's TfServingModel nodes reach their TF Serving where it listens
    assert parameters(plan, "stable")["grpc_endpoint"] == f"{reached}:{backend.grpc_port}"
    assert parameters(plan, "canary")["rest_endpoint"] == f"http://{reached}:{backend.rest_port}"


def test_the_default_host_is_loopback(tmp_path: Path) -> None:
    plan = ab_plan(tmp_path)
    assert flag_values(plan.backends[0].argv)["bind_address"] == "127.0.0.1"
    assert {c.host for c in plan.components} == {"127.0.0.1"}
    assert component(plan, "router").env[LISTEN_HOST_ENV] == "127.0.0.1"


def test_a_model_server_without_our_bind_flag_is_not_given_it(tmp_path: Path) -> None:
    real = Programs(("tensorflow_model_server",), ("seldon-core-microservice",))
    plan = ab_plan(tmp_path, real, host="0.0.0.0")
    assert "bind_address" not in flag_values(plan.backends[0].argv)


def test_a_readiness_probe_asks_where_the_container_listens() -> None:
    container = {
        "name": "tfs",
        "readinessProbe": {"httpGet": {"path": "/v1/models/m", "port": 8501}},
    }
    probe = readiness_probe(container, {8501: 31001}, "127.0.0.2")
    assert probe is not None and (probe.host, probe.port) == ("127.0.0.2", 31001)
    tcp = readiness_probe(
        {"name": "tfs", "readinessProbe": {"tcpSocket": {"port": 8501}}}, {8501: 7}
    )
    assert tcp is not None and tcp.host == "127.0.0.1"


def which_with_real_server(name: str) -> str | None:
    return f"/opt/bin/{name}" if name == "tensorflow_model_server" else None


def test_the_real_model_server_runs_only_where_it_may_listen_everywhere() -> None:
    # it listens on every interface whatever it is told: taken for 0.0.0.0 (or when not asked)
    for host in ("0.0.0.0", None):
        programs = find_programs(which_with_real_server, host=host)
        assert programs.model_server == ("/opt/bin/tensorflow_model_server",)
        assert not programs.binds_host and programs.note is None
    programs = find_programs(which_with_real_server, host="127.0.0.1")
    assert programs.model_server == (sys.executable, "-m", "seldon_tfserving.cli", "serve-models")
    assert programs.binds_host
    assert programs.note == (
        "tensorflow_model_server is on PATH, but it listens on every interface and cannot be "
        "told 127.0.0.1: serve-models stands in for it (--host 0.0.0.0 runs the real one)"
    )


def test_without_the_real_server_ours_runs_bound_and_nothing_is_noted() -> None:
    programs = find_programs(lambda name: None, host="127.0.0.1")
    assert programs.binds_host and programs.note is None


@pytest.mark.parametrize(
    ("address", "moved"),
    [("0.0.0.0:9000", "127.0.0.2:9000"), ("[::]:5000", "127.0.0.2:5000"),
     ("127.0.0.1:6000", "127.0.0.2:6000"), ("unix:/tmp/g.sock", "unix:/tmp/g.sock"),
     ("localhost", "localhost")],
)  # fmt: skip
def test_a_servers_address_keeps_its_port_on_the_host(address: str, moved: str) -> None:
    assert on_host(address, "127.0.0.2") == moved
