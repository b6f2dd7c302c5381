"""Rewards a router cannot learn from are refused where they come in, naming the range.

A reward of ±3.4e38 (a float32 extreme, the largest Seldon's Feedback.reward carries) used to
be learned by the epsilon-greedy and A/B routers; with its opposite it left the branch's sum at
0, whatever the branch had earned. Every router now refuses rewards outside its documented
range with a 400 (INVALID_ARGUMENT over gRPC), and what it learned stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.components.test_router_service import (
    NODE,
    TRANSPORTS,
    RouterUnderTest,
    executor_feedback,
)
from tests.components.wire import close, wire_for

FLOAT32_MAX = 3.4028234663852886e38
RANGES = {
    "EpsilonGreedyRouter": r"outside \[-1e\+06, 1e\+06\], the range EpsilonGreedy learns from",
    "ABTestRouter": r"outside \[-1e\+06, 1e\+06\], the range WeightedSplit learns from",
    "ThompsonSamplingRouter": r"outside \[0, 1\], the range ThompsonSampling learns from",
}


@pytest.fixture(scope="module", params=list(RANGES))
def router(
    request: pytest.FixtureRequest, log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RouterUnderTest]:
    state_dir = tmp_path_factory.mktemp(f"rewards-{request.param}")
    under_test = RouterUnderTest(request.param, log_dir, state_dir / "state.json")
    under_test.start()
    yield under_test
    under_test.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_rewards_beyond_the_range_are_a_400_naming_it_and_change_nothing(
    router: RouterUnderTest, transport: str
) -> None:
    wire = wire_for(transport, router.service)
    try:
        for _ in range(3):
            assert wire.feedback(executor_feedback({NODE: 1}, 0.75)).ok
        before, saved = router.learned(), router.state_path.read_bytes()
        for reward in (FLOAT32_MAX, -FLOAT32_MAX, 2e6, -5.0):
            if router.name != "ThompsonSamplingRouter" and reward == -5.0:
                continue  # within [-1e6, 1e6]: learned, not refused
            reply = wire.feedback(executor_feedback({NODE: 1}, reward))
            assert reply.status == 400, (reward, reply)
            assert re.search(RANGES[router.name], reply.message), reply.message
            if transport == "grpc":
                assert reply.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
            else:
                assert reply.body["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    finally:
        close(wire)
    assert router.learned() == before
    assert router.state_path.read_bytes() == saved
    count, total = before[1]
    assert total / count == pytest.approx(0.75)  # the learned mean is what was earned
