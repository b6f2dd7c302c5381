"""A TF Serving container's readinessProbe, read from the manifest onto local ports and run as
the kubelet runs it; the runner waits for it as a cluster waits before sending traffic."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.plan import plan_run
from seldon_tfserving.runner.probes import ReadinessProbe, readiness_probe
from tests.runner.test_plan import PROGRAMS, ports_from
from tests.servers import PROJECT_ROOT, free_port

PORTS = {8500: 31000, 8501: 31001}


def container(probe: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "tfserving", "readinessProbe": probe, **extra}


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (
            {"httpGet": {"path": "/v1/models/m/labels/canary", "port": 8501}},
            ReadinessProbe(31001, "/v1/models/m/labels/canary"),
        ),
        (
            {"httpGet": {"port": "8501", "httpHeaders": [{"name": "X-Probe", "value": "1"}]}},
            ReadinessProbe(31001, "/", {"X-Probe": "1"}),
        ),
        ({"tcpSocket": {"port": 8500}}, ReadinessProbe(31000)),
        ({"exec": {"command": ["true"]}}, None),
        ({"httpGet": {"port": 8501, "scheme": "HTTPS"}}, None),
    ],
)
def test_probes_move_to_the_local_ports(probe: dict[str, Any], expected: Any) -> None:
    assert readiness_probe(container(probe), PORTS) == expected


def test_a_named_port_is_looked_up_among_the_containers_ports() -> None:
    named = container(
        {"httpGet": {"path": "/ready", "port": "http"}},
        ports=[{"name": "grpc", "containerPort": 8500}, {"name": "http", "containerPort": 8501}],
    )
    assert readiness_probe(named, PORTS) == ReadinessProbe(31001, "/ready")


@pytest.mark.parametrize(
    ("probe", "says"),
    [
        ({"tcpSocket": {"port": 9000}}, "asks port 9000, where TF Serving does not listen"),
        ({"httpGet": {"port": "metrics"}}, "names port 'metrics', not declared"),
    ],
)
def test_a_probe_on_a_port_tf_serving_does_not_listen_on_is_refused(
    probe: dict[str, Any], says: str
) -> None:
    with pytest.raises(PlanError, match=says):
        readiness_probe(container(probe), PORTS)


class _Answers(http.server.BaseHTTPRequestHandler):
    STATUS = {"/ok": 200, "/moved": 302, "/missing": 404, "/broken": 500}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        status = self.STATUS[self.path]
        if self.headers.get("X-Probe") == "no":
            status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_probes_pass_on_2xx_and_3xx_only(http_port: int) -> None:
    assert ReadinessProbe(http_port, "/ok").passes()
    assert ReadinessProbe(http_port, "/moved").passes()
    assert not ReadinessProbe(http_port, "/missing").passes()
    assert not ReadinessProbe(http_port, "/broken").passes()
    assert not ReadinessProbe(http_port, "/ok", {"X-Probe": "no"}).passes()
    assert not ReadinessProbe(free_port(), "/ok").passes()  # nobody listening


def test_tcp_probes_pass_when_something_listens(http_port: int) -> None:
    assert ReadinessProbe(http_port).passes()
    assert not ReadinessProbe(free_port()).passes()


def test_the_ab_graph_waits_for_its_canary_label(tmp_path: Path) -> None:
    documents = [
        d
        for d in yaml.safe_load_all((PROJECT_ROOT / "graphs" / "ab-versions.yaml").read_text())
        if d
    ]
    plan = plan_run(
        documents,
        volumes={"models": tmp_path / "models"},
        scratch_dir=tmp_path / "scratch",
        allocate_port=ports_from(20000),
        programs=PROGRAMS,
    )
    (backend,) = plan.backends
    assert backend.readiness == ReadinessProbe(
        backend.rest_port or 0, "/v1/models/half_plus_two/labels/canary"
    )
