"""The gateway's added latency over the components it calls, against Seldon's executor gate."""

from __future__ import annotations

import math

import pytest

from seldon_tfserving.bench.gateway_hop import (
    HOPS,
    MAX_ADDED_MEAN_MS,
    MAX_ADDED_P99_MS,
    HopSpec,
    gateway_hops,
    hop_table,
)
from seldon_tfserving.bench.harness import LatencyStats
from seldon_tfserving.bench.report import Measurement
from seldon_tfserving.bench.suite import (
    GATEWAY_FLOOR_TARGET,
    ROUTER_REST,
    SELDON_TFTENSOR,
    WRAPPER_REST_NDARRAY,
)


def cell(target: str, mean_ms: float, p99_ms: float, payload: str = "1x4") -> Measurement:
    stats = LatencyStats(100, mean_ms, mean_ms, p99_ms, mean_ms)
    return Measurement(target, "rest", payload, 1, stats, 1000.0 / mean_ms)


def test_the_single_graph_is_measured_over_the_wrapper_alone() -> None:
    (hop,) = gateway_hops(
        [cell(WRAPPER_REST_NDARRAY, 4.0, 9.0), cell("graph single rest", 5.5, 15.0)],
        [HopSpec("graph single rest", (WRAPPER_REST_NDARRAY,))],
    )
    assert hop.components == (WRAPPER_REST_NDARRAY,)
    assert (hop.payload, hop.concurrency) == ("1x4", 1)
    assert hop.added_mean_ms == pytest.approx(1.5)
    assert hop.added_p99_ms == pytest.approx(6.0)
    assert hop.met
    assert hop.as_json()["met"] is True
    assert hop.as_json()["max_added_mean_ms"] == MAX_ADDED_MEAN_MS == 3.0
    assert hop.as_json()["max_added_p99_ms"] == MAX_ADDED_P99_MS == 10.0


def test_the_floor_is_measured_over_the_same_wrapper_as_the_grpc_single_graph() -> None:
    """The bare forwarder in front of the wrapper: what any Python gRPC hop adds, reported
    beside the gateway's so that the gateway's own share can be read off."""
    cells = [
        cell(SELDON_TFTENSOR, 2.0, 4.0),
        cell(GATEWAY_FLOOR_TARGET, 3.0, 6.0),
        cell("graph single grpc tftensor", 4.5, 9.0),
    ]
    added = {hop.graph: (hop.added_mean_ms, hop.added_p99_ms) for hop in gateway_hops(cells)}
    assert added == {GATEWAY_FLOOR_TARGET: (1.0, 2.0), "graph single grpc tftensor": (2.5, 5.0)}
    (floor,) = [spec for spec in HOPS if spec.graph == GATEWAY_FLOOR_TARGET]
    assert floor.components == (SELDON_TFTENSOR,)


def test_the_ab_graph_is_measured_over_the_router_and_the_wrapper() -> None:
    (hop,) = gateway_hops(
        [
            cell(ROUTER_REST, 2.0, 4.0),
            cell(WRAPPER_REST_NDARRAY, 4.0, 9.0),
            cell("graph ab rest", 10.0, 30.0),
        ],
        [HopSpec("graph ab rest", (ROUTER_REST, WRAPPER_REST_NDARRAY))],
    )
    assert hop.added_mean_ms == pytest.approx(4.0)
    assert hop.added_p99_ms == pytest.approx(17.0)
    assert not hop.met, "both bounds are missed"


@pytest.mark.parametrize(
    ("mean_ms", "p99_ms", "met"),
    [(2.9, 9.9, True), (3.0, 1.0, False), (1.0, 10.0, False)],
)
def test_both_bounds_are_strict(mean_ms: float, p99_ms: float, met: bool) -> None:
    (hop,) = gateway_hops(
        [cell("w", 1.0, 1.0), cell("g", 1.0 + mean_ms, 1.0 + p99_ms)], [HopSpec("g", ("w",))]
    )
    assert hop.met is met


def test_a_graph_without_its_components_in_the_run_is_left_out() -> None:
    assert gateway_hops([cell("graph single rest", 5.0, 9.0)]) == []
    assert gateway_hops([cell(WRAPPER_REST_NDARRAY, 5.0, 9.0)]) == []


def test_a_side_without_answers_fails_the_gate() -> None:
    nan = float("nan")
    broken = Measurement("g", "rest", "1x4", 1, LatencyStats(0, nan, nan, nan, nan), 0.0)
    (hop,) = gateway_hops([cell("w", 1.0, 1.0), broken], [HopSpec("g", ("w",))])
    assert hop.added_mean_ms is None and hop.added_p99_ms is None and not hop.met


def test_payloads_are_paired_with_their_own_components() -> None:
    hops = gateway_hops(
        [
            cell("w", 1.0, 2.0, "1x4"),
            cell("w", 10.0, 20.0, "1x784"),
            cell("g", 2.0, 3.0, "1x4"),
            cell("g", 12.0, 24.0, "1x784"),
        ],
        [HopSpec("g", ("w",))],
    )
    added = {hop.payload: (hop.added_mean_ms, hop.added_p99_ms) for hop in hops}
    assert added == {"1x4": (1.0, 1.0), "1x784": (2.0, 4.0)}
    assert not any(math.isnan(value) for pair in added.values() for value in pair)


def test_the_table_names_the_components_and_the_verdict() -> None:
    hops = gateway_hops(
        [cell("w", 1.0, 2.0), cell("r", 1.0, 1.0), cell("g", 3.5, 4.0)],
        [HopSpec("g", ("r", "w"))],
    )
    lines = hop_table(hops).splitlines()
    assert "gate (mean < 3, p99 < 10)" in lines[0]
    assert lines[2] == "| g | r + w | 1x4 | 1 | 1.50 | 1.00 | met |"
