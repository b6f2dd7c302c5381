"""Every router under a real `seldon-core-microservice`, over REST and gRPC.

Each router runs as the operator runs it: `--service-type ROUTER`, PREDICTIVE_UNIT_ID set to
its graph node name (the key of `meta.routing` in feedback), metrics on `/prometheus`, and a
`state_path` so that the REST and gRPC processes share what they learn.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from seldon_core.proto import prediction_pb2
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.routers import FEEDBACK_METRIC, ROUTE_METRIC
from tests.components.wire import Reply, close, wire_for
from tests.servers import Microservice, scrape_settled, scrape_until, start_microservice

NODE = "experiment-router"
TRANSPORTS = ["rest", "grpc"]

ROUTERS: dict[str, list[dict[str, str]]] = {
    "ABTestRouter": [
        {"name": "ratio_a", "type": "FLOAT", "value": "0.7"},
        {"name": "seed", "type": "INT", "value": "1"},
    ],
    "EpsilonGreedyRouter": [
        {"name": "n_branches", "type": "INT", "value": "2"},
        {"name": "epsilon", "type": "FLOAT", "value": "0.2"},
        {"name": "seed", "type": "INT", "value": "1"},
    ],
    "ThompsonSamplingRouter": [
        {"name": "n_branches", "type": "INT", "value": "2"},
        {"name": "seed", "type": "INT", "value": "1"},
    ],
    "UCB1Router": [{"name": "n_branches", "type": "INT", "value": "2"}],
}
#: Routers that learn from Bernoulli rewards refuse anything outside [0, 1].
ZERO_ONE_REWARDS = {"ThompsonSamplingRouter", "UCB1Router"}


@dataclass
class RouterUnderTest:
    """A running router microservice that a test may restart (same state file)."""

    name: str
    log_dir: Path
    state_path: Path
    service: Microservice = field(init=False)

    def start(self) -> None:
        parameters = [
            *ROUTERS[self.name],
            {"name": "state_path", "type": "STRING", "value": str(self.state_path)},
        ]
        self.service = start_microservice(
            self.log_dir,
            f"seldon_tfserving.{self.name}",
            service_type="ROUTER",
            parameters=parameters,
            env={
                "PREDICTIVE_UNIT_ID": NODE,
                "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
            },
        )

    def crash_and_restart(self) -> None:
        """Kill the pod's processes at once (no graceful save) and start it again."""
        self.service.server.kill()
        self.start()

    def stop(self) -> None:
        # Seldon's gunicorn takes long to drain on SIGTERM; nothing here needs a drain.
        self.service.server.stop(timeout_s=2)

    def health(self) -> dict[str, Any]:
        answer = requests.get(f"{self.service.http_url}/health/status", timeout=10)
        answer.raise_for_status()
        report: dict[str, Any] = answer.json()["jsonData"]
        return report

    def learned(self) -> list[tuple[int, float]]:
        """(feedback count, reward sum) per branch, as the health status reports them."""
        return [(b["feedback"], b["reward_sum"]) for b in self.health()["branches"]]


@pytest.fixture(scope="module", params=list(ROUTERS))
def router(
    request: pytest.FixtureRequest, log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RouterUnderTest]:
    state_dir = tmp_path_factory.mktemp(request.param)
    under_test = RouterUnderTest(request.param, log_dir, state_dir / "state.json")
    under_test.start()
    yield under_test
    under_test.stop()


def routed_request(puid: str = "puid-1") -> dict[str, Any]:
    return {"data": {"ndarray": [[1.0, 2.0]]}, "meta": {"puid": puid, "tags": {"user": "ann"}}}


def executor_feedback(routing: dict[str, int], reward: float | str) -> dict[str, Any]:
    """Feedback as the Seldon executor forwards it: the response carries meta.routing."""
    return {
        "request": {"data": {"ndarray": [[1.0, 2.0]]}},
        "response": {"data": {"ndarray": [[0.5]]}, "meta": {"routing": routing}},
        "reward": reward,
    }


def branch_of(reply: Reply) -> int:
    assert reply.ok, reply
    ((branch,),) = reply.body["data"]["ndarray"]
    assert branch == int(branch)
    return int(branch)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_route_answers_a_child_index_tagged_and_counted(
    router: RouterUnderTest, transport: str
) -> None:
    wire = wire_for(transport, router.service)
    try:
        reply = wire.route(routed_request())
    finally:
        close(wire)
    branch = branch_of(reply)
    assert branch in (0, 1)
    meta = reply.body["meta"]
    assert meta["tags"]["branch"] == branch
    assert meta["puid"] == "puid-1"
    (metric,) = [m for m in meta["metrics"] if m["key"] == ROUTE_METRIC]
    assert metric["tags"]["branch"] == str(branch)
    assert metric["value"] == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_feedback_with_the_executor_s_routing_is_learned(
    router: RouterUnderTest, transport: str
) -> None:
    before = router.learned()
    wire = wire_for(transport, router.service)
    try:
        reply = wire.feedback(executor_feedback({NODE: 1, "some-model": 0}, reward=1.0))
    finally:
        close(wire)
    assert reply.ok, reply
    assert reply.body["meta"]["tags"]["branch"] == 1
    after = router.learned()
    assert after[0] == before[0]
    assert after[1] == (before[1][0] + 1, before[1][1] + 1.0)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_seldon_s_own_client_routes_and_sends_feedback(
    router: RouterUnderTest, transport: str
) -> None:
    port = router.service.http_port if transport == "rest" else router.service.grpc_port
    client = SeldonClient(
        transport=transport, microservice_endpoint=f"127.0.0.1:{port}", payload_type="ndarray"
    )
    routed = client.microservice(method="route", data=np.array([[1.0, 2.0]]))
    assert routed.success, routed.msg
    branch = int(routed.response.data.ndarray[0][0])
    assert branch in (0, 1)
    # The executor records the router's choice under the node's name in meta.routing.
    response = prediction_pb2.SeldonMessage()
    response.CopyFrom(routed.response)
    response.meta.routing[NODE] = branch
    before = router.learned()[branch][0]
    sent = client.microservice_feedback(
        prediction_request=routed.request, prediction_response=response, reward=1.0
    )
    assert sent.success, sent.msg
    assert router.learned()[branch][0] == before + 1


def unusable_feedback(router_name: str) -> list[tuple[str, dict[str, Any], str]]:
    cases = [
        ("no routing", executor_feedback({}, 1.0), "no routing for this router"),
        ("another node", executor_feedback({"other-router": 1}, 1.0), "no routing"),
        ("unknown branch", executor_feedback({NODE: 2}, 1.0), "branch 2"),
        ("route to all", executor_feedback({NODE: -1}, 1.0), "branch -1"),
        # Protobuf JSON spells non-finite floats as strings.
        ("nan reward", executor_feedback({NODE: 0}, "NaN"), "finite"),
        ("infinite reward", executor_feedback({NODE: 0}, "Infinity"), "finite"),
    ]
    if router_name in ZERO_ONE_REWARDS:
        cases.append(("reward above one", executor_feedback({NODE: 0}, 1.5), r"outside \[0, 1\]"))
        cases.append(("negative reward", executor_feedback({NODE: 0}, -1.0), r"outside \[0, 1\]"))
    return cases


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unusable_feedback_is_a_400_and_changes_nothing(
    router: RouterUnderTest, transport: str
) -> None:
    wire = wire_for(transport, router.service)
    try:
        feedback = wire.feedback(executor_feedback({NODE: 0}, 0.0))
        assert feedback.ok, feedback
        before, saved = router.learned(), router.state_path.read_bytes()
        for case, body, complaint in unusable_feedback(router.name):
            reply = wire.feedback(body)
            assert reply.status == 400, case
            assert re.search(complaint, reply.message), (case, reply.message)
            if transport == "grpc":
                assert reply.grpc_code == grpc.StatusCode.INVALID_ARGUMENT, case
            else:
                assert reply.body["status"]["reason"] == "MICROSERVICE_BAD_DATA", case
    finally:
        close(wire)
    assert router.learned() == before
    assert router.state_path.read_bytes() == saved


def route_counts(text: str) -> Counter[str]:
    """Routes per branch in a metrics scrape, summed over the worker processes."""
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith(ROUTE_METRIC + "{"):
            branch = re.search(r'branch="(\d+)"', line)
            assert branch is not None, line
            counts[branch.group(1)] += int(float(line.rsplit(" ", 1)[1]))
    return counts


def test_metrics_port_counts_routes_per_branch(router: RouterUnderTest) -> None:
    url = f"http://127.0.0.1:{router.service.metrics_port}/prometheus"
    before = route_counts(scrape_settled(url))
    made: Counter[str] = Counter()
    for transport in TRANSPORTS:
        wire = wire_for(transport, router.service)
        try:
            for index in range(10):
                made[str(branch_of(wire.route(routed_request(f"p{index}"))))] += 1
        finally:
            close(wire)
    after = route_counts(scrape_until(url, lambda text: route_counts(text) - before == made))
    assert after - before == made
    assert sum(made.values()) == 20


def test_feedback_is_reported_on_the_metrics_port(router: RouterUnderTest) -> None:
    wire = wire_for("rest", router.service)
    assert wire.feedback(executor_feedback({NODE: 1}, 1.0)).ok
    pattern = FEEDBACK_METRIC + r'\{[^}]*branch="1"'
    text = scrape_until(
        f"http://127.0.0.1:{router.service.metrics_port}/prometheus",
        lambda text: re.search(pattern, text) is not None,
    )
    assert re.search(pattern, text)


def test_health_and_metadata_expose_the_learned_state(router: RouterUnderTest) -> None:
    health = router.health()
    assert health["policy"] == router.name
    assert health["state_path"] == str(router.state_path)
    assert [entry["branch"] for entry in health["branches"]] == [0, 1]
    metadata = requests.get(f"{router.service.http_url}/metadata", timeout=10).json()
    assert metadata["name"] == router.name
    assert metadata["custom"]["state_path"] == str(router.state_path)
    learned = json.loads(metadata["custom"]["learned_state"])
    assert learned["policy"] == router.name


def test_the_learned_state_survives_a_crash_and_restart(router: RouterUnderTest) -> None:
    wire = wire_for("grpc", router.service)
    try:
        assert wire.feedback(executor_feedback({NODE: 0}, 1.0)).ok
    finally:
        close(wire)
    learned = router.learned()
    assert learned[0][0] >= 1 and learned[1][0] >= 1
    router.crash_and_restart()
    assert router.learned() == learned
    saved = json.loads(router.state_path.read_text())
    assert saved["policy"] == router.name
    assert [saved["stats"]["feedback"][b] for b in (0, 1)] == [n for n, _ in learned]


MALFORMED_TENSOR = {"tensor": {"shape": [2, 2], "values": [1.0]}}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_payload_seldon_cannot_decode_is_a_400_and_routing_goes_on(
    router: RouterUnderTest, transport: str
) -> None:
    """Seldon's own decoding would answer this with a 500; the router refuses it as bad data."""
    wire = wire_for(transport, router.service)
    try:
        refused = wire.route({"data": MALFORMED_TENSOR, "meta": {"puid": "bad"}})
        bad_feedback = executor_feedback({NODE: 0}, 1.0) | {"request": {"data": MALFORMED_TENSOR}}
        refused_feedback = wire.feedback(bad_feedback)
        after = wire.route(routed_request("after-bad"))
    finally:
        close(wire)
    for reply in (refused, refused_feedback):
        assert reply.status == 400, reply
        assert "cannot be decoded" in reply.message or "shape" in reply.message, reply.message
        if transport == "grpc":
            assert reply.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
    assert branch_of(after) in (0, 1)
