"""The comparisons the TF protocol's goals are stated in: the right cells divided, the goal
only where it is stated, a failed side failing, and the ratios in markdown, JSON and the chart."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from PIL import Image

from seldon_tfserving.bench.chart import write_chart
from seldon_tfserving.bench.comparisons import (
    COMPARISONS,
    compare,
    comparison_table,
)
from seldon_tfserving.bench.harness import LatencyStats
from seldon_tfserving.bench.lineup import plan_targets
from seldon_tfserving.bench.models import BENCH_MODELS
from seldon_tfserving.bench.report import Measurement
from seldon_tfserving.bench.suite import (
    FLOOR_TARGET,
    REFERENCE_GRPC_NDARRAY,
    REFERENCE_GRPC_TFTENSOR,
    REFERENCE_REST_NDARRAY,
    SELDON_NDARRAY,
    SELDON_TFTENSOR,
    TARGET_GROUPS,
    TF_GRPC_FACE,
    TF_REST_FACE,
    TF_REST_FACE_REST_TRANSPORT,
    WRAPPER_REST_NDARRAY,
    WRAPPER_REST_NDARRAY_REST_TRANSPORT,
)
from tests.bench.lineups import servers_at_one_address

CONV = "1x224x224x3"


def measured(
    target: str, p50_ms: float, rps: float, payload: str = "1x4", c: int = 1
) -> Measurement:
    protocol = "grpc" if "grpc" in target else "rest"
    stats = LatencyStats(100, p50_ms, p50_ms * 1.5, p50_ms * 2, p50_ms)
    return Measurement(target, protocol, payload, c, stats, rps)


def failed(target: str, payload: str = "1x4", c: int = 1) -> Measurement:
    return Measurement(target, "rest", payload, c, LatencyStats.of([]), 0.0, {"http 503": 3})


@pytest.mark.parametrize(
    ("ndarray_p50_ms", "ndarray_rps", "met"),
    [(2.2, 455.0, True), (2.3, 455.0, False), (2.2, 450.0, False)],
)
def test_the_ndarray_path_is_held_within_10_percent_of_tftensor_for_1x4(
    ndarray_p50_ms: float, ndarray_rps: float, met: bool
) -> None:
    (found,) = compare(
        [
            measured(SELDON_TFTENSOR, 2.0, 500.0),
            measured(SELDON_NDARRAY, ndarray_p50_ms, ndarray_rps),
        ]
    )
    assert (found.target, found.reference) == (SELDON_NDARRAY, SELDON_TFTENSOR)
    assert found.max_latency_ratio == pytest.approx(1.1)
    assert found.met is met


def test_the_ndarray_comparison_states_no_goal_beyond_1x4() -> None:
    (found,) = compare(
        [
            measured(SELDON_TFTENSOR, 2.0, 500.0, payload=CONV),
            measured(SELDON_NDARRAY, 30.0, 30.0, payload=CONV),
        ]
    )
    assert found.latency_ratio == pytest.approx(15.0) and found.met is None


def test_the_tf_grpc_face_is_compared_with_the_tftensor_path_and_the_floor() -> None:
    found = compare(
        [
            measured(FLOOR_TARGET, 2.0, 500.0),
            measured(SELDON_TFTENSOR, 2.5, 400.0),
            measured(TF_GRPC_FACE, 3.0, 300.0),
        ]
    )
    assert [(c.target, c.reference) for c in found] == [
        (TF_GRPC_FACE, SELDON_TFTENSOR),
        (TF_GRPC_FACE, FLOOR_TARGET),
    ]
    tftensor, floor = found
    assert tftensor.latency_ratio == pytest.approx(1.2)
    assert tftensor.throughput_ratio == pytest.approx(0.75)
    assert floor.latency_ratio == pytest.approx(1.5)
    assert floor.throughput_ratio == pytest.approx(0.6)
    assert tftensor.max_latency_ratio is None and tftensor.met is None, "no number is stated"


def test_the_rest_face_goal_holds_for_the_conv_net_payload_only() -> None:
    found = compare(
        [
            measured("tfserving rest", 100.0, 10.0, CONV),
            measured(TF_REST_FACE_REST_TRANSPORT, 110.0, 9.0, CONV),  # 1.10x, 0.90x: met
            measured(TF_REST_FACE, 130.0, 9.0, CONV),  # 1.30x: not met
            measured("tfserving rest", 2.0, 500.0, "1x4"),
            measured(TF_REST_FACE_REST_TRANSPORT, 4.0, 250.0, "1x4"),  # no goal for 1x4
        ]
    )
    rows = {(c.target, c.payload): c for c in found}
    passthrough = rows[(TF_REST_FACE_REST_TRANSPORT, CONV)]
    assert passthrough.latency_ratio == pytest.approx(1.1)
    assert passthrough.max_latency_ratio == pytest.approx(1.2)
    assert passthrough.min_throughput_ratio == pytest.approx(1 / 1.2)
    assert passthrough.met is True
    assert rows[(TF_REST_FACE, CONV)].met is False
    small = rows[(TF_REST_FACE_REST_TRANSPORT, "1x4")]
    assert small.latency_ratio == pytest.approx(2.0) and small.met is None
    assert (TF_REST_FACE, "1x4") not in rows, "a target that was not measured is no row"


@pytest.mark.parametrize("payload", [m.payload_label for m in BENCH_MODELS])
def test_against_a_reference_class_rest_must_triple_it_and_grpc_match_it(payload: str) -> None:
    found = compare(
        [
            measured(REFERENCE_REST_NDARRAY, 6.0, 150.0, payload),
            measured(WRAPPER_REST_NDARRAY, 2.0, 450.0, payload),  # 3x: met
            measured(WRAPPER_REST_NDARRAY_REST_TRANSPORT, 3.0, 300.0, payload),  # 2x: not met
            measured(REFERENCE_GRPC_TFTENSOR, 2.0, 500.0, payload),
            measured(SELDON_TFTENSOR, 2.0, 500.0, payload),  # even: met
            measured(REFERENCE_GRPC_NDARRAY, 2.0, 500.0, payload),
            measured(SELDON_NDARRAY, 2.1, 480.0, payload),  # 5% behind: not met
        ]
    )
    verdicts = {(c.target, c.reference): (c.max_latency_ratio, c.met) for c in found}
    assert verdicts[(WRAPPER_REST_NDARRAY, REFERENCE_REST_NDARRAY)] == (pytest.approx(1 / 3), True)
    assert verdicts[(WRAPPER_REST_NDARRAY_REST_TRANSPORT, REFERENCE_REST_NDARRAY)] == (
        pytest.approx(1 / 3),
        False,
    )
    assert verdicts[(SELDON_TFTENSOR, REFERENCE_GRPC_TFTENSOR)] == (1.0, True)
    assert verdicts[(SELDON_NDARRAY, REFERENCE_GRPC_NDARRAY)] == (1.0, False)


def test_throughput_under_the_goal_fails_it_even_when_latency_is_within() -> None:
    [comparison] = compare(
        [
            measured("tfserving rest", 100.0, 10.0, CONV, 8),
            measured(TF_REST_FACE_REST_TRANSPORT, 100.0, 8.0, CONV, 8),
        ]
    )
    assert comparison.latency_ratio == pytest.approx(1.0)
    assert comparison.throughput_ratio == pytest.approx(0.8)
    assert comparison.met is False


def test_a_side_without_answers_has_no_ratio_and_fails_its_goal() -> None:
    [comparison] = compare(
        [measured("tfserving rest", 100.0, 10.0, CONV), failed(TF_REST_FACE_REST_TRANSPORT, CONV)]
    )
    assert comparison.latency_ratio is None and comparison.throughput_ratio is None
    assert comparison.met is False
    row = comparison_table([comparison]).strip().splitlines()[2]
    assert row == (
        f"| tf rest face (transport rest) / tfserving rest | {CONV} | 1 | failed | failed "
        "| p50 <= 1.20, req/s >= 0.83 | no | - |"
    )


def test_each_concurrency_is_compared_with_the_reference_at_the_same_concurrency() -> None:
    found = compare(
        [
            measured(SELDON_TFTENSOR, 2.0, 400.0, c=1),
            measured(SELDON_TFTENSOR, 10.0, 800.0, c=8),
            measured(TF_GRPC_FACE, 2.0, 400.0, c=1),
            measured(TF_GRPC_FACE, 12.0, 600.0, c=8),
        ]
    )
    one, eight = found
    assert (one.concurrency, one.latency_ratio, one.throughput_ratio) == (1, 1.0, 1.0)
    assert eight.concurrency == 8
    assert eight.latency_ratio == pytest.approx(1.2)
    assert eight.throughput_ratio == pytest.approx(0.75)


def test_the_table_and_the_json_say_the_ratios_the_goal_and_the_verdict() -> None:
    found = compare(
        [
            measured("tfserving rest", 100.0, 10.0, CONV),
            measured(TF_REST_FACE_REST_TRANSPORT, 110.0, 9.5, CONV),
            measured(SELDON_TFTENSOR, 2.0, 400.0),
            measured(TF_GRPC_FACE, 2.2, 380.0),
        ]
    )
    rows = comparison_table(found).strip().splitlines()
    assert rows[0] == (
        "| comparison | payload | conc. | p50 ratio | req/s ratio | goal | met | CPU ratio |"
    )
    assert rows[2] == (
        "| tf grpc face / seldon grpc tftensor | 1x4 | 1 | 1.10 | 0.95 | - | - | - |"
    )
    assert rows[3] == (
        f"| tf rest face (transport rest) / tfserving rest | {CONV} | 1 | 1.10 | 0.95 "
        "| p50 <= 1.20, req/s >= 0.83 | yes | - |"
    )
    document = json.loads(json.dumps([c.as_json() for c in found], allow_nan=False))
    assert document[1] == {
        "label": "tf rest face (transport rest) / tfserving rest",
        "target": TF_REST_FACE_REST_TRANSPORT,
        "reference": "tfserving rest",
        "payload": CONV,
        "concurrency": 1,
        "latency_ratio": pytest.approx(1.1),
        "throughput_ratio": pytest.approx(0.95),
        "max_latency_ratio": 1.2,
        "min_throughput_ratio": pytest.approx(1 / 1.2),
        "met": True,
        "cpu_ratio": None,
    }


def test_the_cpu_ratio_divides_the_cpu_per_answer_of_the_processes_each_side_calls() -> None:
    def spending(target: str, process: str, us: float, backend_us: float) -> Measurement:
        return dataclasses.replace(
            measured(target, 2.0, 400.0, c=8),
            process=process,
            cpu_us_per_answer={process: us, "backend": backend_us},
        )

    ours = spending(SELDON_TFTENSOR, "wrapper-dense4", 720.0, 800.0)
    theirs = spending(REFERENCE_GRPC_TFTENSOR, "reference-dense4", 800.0, 810.0)
    [comparison] = compare([ours, theirs])
    assert comparison.cpu_ratio == pytest.approx(0.9), "the backend's CPU is not in the ratio"
    assert comparison.as_json()["cpu_ratio"] == pytest.approx(0.9)
    assert comparison_table([comparison]).strip().splitlines()[2].endswith("| yes | 0.90 |")


def test_every_comparison_names_targets_the_bench_has() -> None:
    servers = servers_at_one_address(BENCH_MODELS, with_router=True, with_reference=True)
    planned = {
        target.name for _, target in plan_targets(BENCH_MODELS, TARGET_GROUPS, servers, False)
    }
    named = {s.target for s in COMPARISONS} | {s.reference for s in COMPARISONS}
    assert named <= planned


def test_the_chart_draws_the_ratios_below_the_latencies(tmp_path: Path) -> None:
    results = [
        measured("tfserving rest", 100.0, 10.0, CONV),
        measured(TF_REST_FACE_REST_TRANSPORT, 140.0, 7.0, CONV),
    ]
    plain, with_ratios = tmp_path / "plain.png", tmp_path / "ratios.png"
    write_chart(plain, results, "run")
    write_chart(with_ratios, results, "run", compare(results))
    with Image.open(plain) as without, Image.open(with_ratios) as drawn:
        assert drawn.size[0] == without.size[0] and drawn.size[1] > without.size[1]
        colours = {colour for _, colour in drawn.convert("RGB").getcolors(1 << 20) or []}
        assert (200, 0, 0) in colours, "the goal is drawn as a red line"
        plain_colours = {colour for _, colour in without.convert("RGB").getcolors(1 << 20) or []}
        assert (200, 0, 0) not in plain_colours
