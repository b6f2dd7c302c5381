"""The bench's report: ratios against the right direct call, a README table, JSON, a PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from seldon_tfserving.bench.chart import write_chart
from seldon_tfserving.bench.harness import LatencyStats, LoadResult
from seldon_tfserving.bench.report import (
    Measurement,
    machine_description,
    markdown_table,
    measurements_from_json,
    summary_table,
    to_json,
    with_ratios,
    write_json,
)


def measured(
    target: str, protocol: str, p50_ms: float, payload: str = "1x4", c: int = 1
) -> Measurement:
    stats = LatencyStats(100, p50_ms, p50_ms * 1.5, p50_ms * 2, p50_ms)
    return Measurement(target, protocol, payload, c, stats, 1000.0 / p50_ms)


def test_each_target_is_compared_with_the_direct_call_of_its_protocol() -> None:
    results = with_ratios(
        [
            measured("tfserving grpc", "grpc", 1.0),
            measured("tfserving rest", "rest", 2.0),
            measured("wrapper grpc tftensor", "grpc", 1.1),
            measured("wrapper rest ndarray", "rest", 5.0),
            measured("wrapper grpc tftensor", "grpc", 9.0, c=8),  # no direct call at c=8
        ]
    )
    ratios = {(m.target, m.concurrency): m.ratio_to_direct for m in results}
    assert ratios[("tfserving grpc", 1)] == pytest.approx(1.0)
    assert ratios[("wrapper grpc tftensor", 1)] == pytest.approx(1.1)
    assert ratios[("wrapper rest ndarray", 1)] == pytest.approx(2.5)
    assert ratios[("wrapper grpc tftensor", 8)] is None


def test_the_table_has_one_row_per_measurement_with_errors_by_kind() -> None:
    failing = Measurement(
        "graph ab rest", "rest", "1x784", 8, LatencyStats.of([]), 0.0, {"http 503": 12}
    )
    table = markdown_table(with_ratios([measured("tfserving rest", "rest", 2.0), failing]))
    rows = table.strip().splitlines()
    assert rows[0].startswith("| payload | target | conc. | p50 ms")
    assert rows[2] == "| 1x4 | tfserving rest | 1 | 2.00 | 3.00 | 4.00 | 500 | 1.00 | 0 | - |"
    assert rows[3] == "| 1x784 | graph ab rest | 8 | - | - | - | 0 | - | http 503: 12 | - |"


def test_cpu_per_answer_is_each_watched_processs_cpu_over_the_good_answers() -> None:
    spent = {"wrapper-dense4": 0.3, "backend": 0.36}
    result = LoadResult(8, 2.0, [0.01] * 400, {"grpc UNAVAILABLE": 5}, spent)
    measurement = Measurement.of("wrapper grpc tftensor", "grpc", "1x4", result, "wrapper-dense4")
    assert measurement.cpu_us_per_answer == pytest.approx(
        {"wrapper-dense4": 750.0, "backend": 900.0}
    )
    assert measurement.process_cpu_us == pytest.approx(750.0)
    row = markdown_table([measurement]).strip().splitlines()[2]
    assert row.endswith("| grpc UNAVAILABLE: 5 | 750 (900) |")


def test_a_measurement_without_answers_or_without_a_process_has_no_cpu_per_answer() -> None:
    silent = Measurement.of("t", "grpc", "1x4", LoadResult(1, 1.0, [], {}, {"backend": 0.1}))
    assert silent.cpu_us_per_answer == {} and silent.process_cpu_us is None
    unwatched = Measurement.of("t", "grpc", "1x4", LoadResult(1, 1.0, [0.001], {}, {}))
    assert unwatched.process_cpu_us is None


def test_json_has_the_machine_the_command_and_no_nan(tmp_path: Path) -> None:
    empty = Measurement("tfserving grpc", "grpc", "1x4", 1, LatencyStats.of([]), 0.0)
    document = to_json([empty], {"duration_s": 0.5}, "seldon-tfserving bench --quick")
    path = tmp_path / "results.json"
    write_json(path, document)
    loaded = json.loads(path.read_text())  # strict JSON: NaN would not be written
    assert loaded["command"] == "seldon-tfserving bench --quick"
    assert loaded["results"][0]["stats"]["p50_ms"] is None
    assert loaded["machine"]["cores"] >= 1 and loaded["machine"]["memory"].endswith("GiB")


def test_machine_names_the_cpu_model() -> None:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    expected = next(
        line.split(":", 1)[1].strip()
        for line in cpuinfo.splitlines()
        if line.startswith("model name")
    )
    assert machine_description()["cpu"] == expected


def test_the_chart_is_a_png_with_a_panel_per_payload(tmp_path: Path) -> None:
    results = [
        measured(t, p, ms, payload, c)
        for payload in ("1x4", "1x224x224x3")
        for c in (1, 8)
        for t, p, ms in (("tfserving grpc", "grpc", 1.0), ("wrapper grpc tftensor", "grpc", 1.3))
    ]
    results.append(Measurement("graph ab rest", "rest", "1x4", 1, LatencyStats.of([]), 0.0))
    path = tmp_path / "chart.png"
    write_chart(path, results, "test run")
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width == 1000 and height > 200
        # bars are drawn in colour: the image is not blank
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 2


def test_results_json_reads_back_and_summarises_one_row_per_target(tmp_path: Path) -> None:
    results = with_ratios(
        [
            measured(target, protocol, ms, payload, c)
            for payload in ("1x4", "1x784")
            for c in (1, 8)
            for target, protocol, ms in (("tfserving grpc", "grpc", 1.0), ("wrapper", "grpc", 2.0))
        ]
        + [Measurement("graph ab", "grpc", "1x4", 1, LatencyStats.of([]), 0.0, {"no route": 1})]
    )
    path = tmp_path / "results.json"
    write_json(path, to_json(results, {}, "bench"))
    read_back = measurements_from_json(json.loads(path.read_text()))
    assert [m.target for m in read_back] == [m.target for m in results]
    rows = summary_table(read_back).strip().splitlines()
    assert rows[0] == (
        "| target | 1x4: p50 ms (x direct), c=1 | 1x4: req/s, c=8 "
        "| 1x784: p50 ms (x direct), c=1 | 1x784: req/s, c=8 |"
    )
    assert rows[2] == "| tfserving grpc | 1.00 (1.00) | 1000 | 1.00 (1.00) | 1000 |"
    assert rows[3] == "| wrapper | 2.00 (2.00) | 500 | 2.00 (2.00) | 500 |"
    assert rows[4] == "| graph ab | failed | failed | failed | failed |"
