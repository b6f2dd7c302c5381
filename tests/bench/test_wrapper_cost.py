"""The wrapper's cost per request over the bare Python gRPC hop, against the issue's goal."""

from __future__ import annotations

import dataclasses
import math

import pytest

from seldon_tfserving.bench.harness import LatencyStats
from seldon_tfserving.bench.report import Measurement
from seldon_tfserving.bench.suite import FLOOR_TARGET, SELDON_NDARRAY, WRAPPER_REST_NDARRAY
from seldon_tfserving.bench.wrapper_cost import MAX_GRPC_COST_US, cost_table, wrapper_costs


def cell(
    target: str,
    mean_ms: float,
    p50_ms: float,
    protocol: str = "grpc",
    payload: str = "1x4",
    concurrency: int = 1,
) -> Measurement:
    stats = LatencyStats(100, p50_ms, p50_ms, p50_ms, mean_ms)
    return Measurement(target, protocol, payload, concurrency, stats, 1000.0 / mean_ms)


def test_a_grpc_path_is_measured_in_microseconds_over_the_floor_of_its_cell() -> None:
    (cost,) = wrapper_costs([cell(FLOOR_TARGET, 2.00, 1.90), cell(SELDON_NDARRAY, 2.08, 1.95)])
    assert (cost.target, cost.payload, cost.concurrency) == (SELDON_NDARRAY, "1x4", 1)
    assert cost.mean_us == pytest.approx(80.0)
    assert cost.p50_us == pytest.approx(50.0)
    assert cost.max_us == MAX_GRPC_COST_US == 100.0
    assert cost.met is True
    assert cost.as_json()["over"] == FLOOR_TARGET


def test_the_goal_needs_both_the_mean_and_the_p50_within_100_us() -> None:
    (cost,) = wrapper_costs([cell(FLOOR_TARGET, 2.0, 2.0), cell(SELDON_NDARRAY, 2.15, 2.05)])
    assert cost.mean_us == pytest.approx(150.0)
    assert cost.met is False


def test_each_cell_is_paired_with_the_floor_of_the_same_payload_and_concurrency() -> None:
    costs = wrapper_costs(
        [
            cell(FLOOR_TARGET, 2.0, 2.0, concurrency=1),
            cell(FLOOR_TARGET, 9.0, 9.0, concurrency=8),
            cell(SELDON_NDARRAY, 2.5, 2.5, concurrency=1),
            cell(SELDON_NDARRAY, 9.05, 9.05, concurrency=8),
            # no floor at this payload: nothing to stand on
            cell(SELDON_NDARRAY, 3.0, 3.0, payload="1x784"),
        ]
    )
    assert [(c.concurrency, round(c.mean_us or 0)) for c in costs] == [(1, 500), (8, 50)]


def test_rest_paths_and_larger_payloads_are_reported_without_a_goal() -> None:
    costs = wrapper_costs(
        [
            cell(FLOOR_TARGET, 2.0, 2.0),
            cell(WRAPPER_REST_NDARRAY, 3.0, 3.0, protocol="rest"),
            cell(FLOOR_TARGET, 4.0, 4.0, payload="1x784"),
            cell(SELDON_NDARRAY, 4.5, 4.5, payload="1x784"),
            cell("router grpc tftensor", 1.0, 1.0),  # not a wrapper path
        ]
    )
    assert [(c.target, c.payload, c.met) for c in costs] == [
        (WRAPPER_REST_NDARRAY, "1x4", None),
        (SELDON_NDARRAY, "1x784", None),
    ]
    assert costs[0].mean_us == pytest.approx(1000.0)


def test_a_side_without_answers_fails_the_goal_and_says_so() -> None:
    (cost,) = wrapper_costs(
        [cell(FLOOR_TARGET, 2.0, 2.0), cell(SELDON_NDARRAY, math.nan, math.nan)]
    )
    assert cost.mean_us is None and cost.met is False
    table = cost_table([cost])
    assert f"| {SELDON_NDARRAY} | 1x4 | 1 | failed | failed | missed | - |" in table


def test_the_cpu_per_answer_of_the_wrapper_stands_beside_the_forwarders() -> None:
    floor = dataclasses.replace(
        cell(FLOOR_TARGET, 2.0, 2.0, concurrency=8),
        process="forwarder",
        cpu_us_per_answer={"forwarder": 700.0, "backend": 800.0},
    )
    ours = dataclasses.replace(
        cell(SELDON_NDARRAY, 2.5, 2.4, concurrency=8),
        process="wrapper-dense4",
        cpu_us_per_answer={"wrapper-dense4": 760.0, "backend": 790.0},
    )
    (cost,) = wrapper_costs([floor, ours])
    assert (cost.cpu_us, cost.floor_cpu_us) == (760.0, 700.0)
    assert cost.cpu_over_us == pytest.approx(60.0)
    assert cost.as_json()["cpu_over_us"] == pytest.approx(60.0)
    assert cost_table([cost]).strip().splitlines()[2].endswith("| missed | 760 (700) |")
