"""The bench command end to end, on the cheapest setting: it measures, checks, and reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from seldon_tfserving.bench.suite import BATCHING_PARAMETERS
from seldon_tfserving.bench.suite import BATCHING_TARGET as BATCHING
from seldon_tfserving.bench.suite import FLOOR_TARGET as FLOOR
from tests.servers import PROJECT_ROOT, VENV_BIN


def run_bench(output: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`seldon-tfserving bench` on the 1x4 payload with short windows; asserts it succeeded."""
    finished = subprocess.run(
        [
            str(VENV_BIN / "seldon-tfserving"),
            "bench",
            "--payloads",
            "1x4",
            "--duration",
            "0.3",
            "--warmup",
            "0.1",
            "--output",
            str(output),
            *args,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished


@pytest.mark.timeout(240)
def test_bench_measures_the_direct_calls_and_the_hop_floor_and_writes_json_and_a_chart(
    tmp_path: Path,
) -> None:
    finished = run_bench(
        tmp_path, "--targets", "direct", "--concurrency", "1", "2", "--rounds", "2"
    )
    document = json.loads((tmp_path / "results.json").read_text())
    cells = {(r["target"], r["concurrency"]): r for r in document["results"]}
    direct = ("tfserving grpc", "tfserving rest")
    assert set(cells) == {(target, level) for target in (*direct, FLOOR) for level in (1, 2)}
    for (target, _), cell in cells.items():
        assert cell["errors"] == {}
        assert cell["stats"]["count"] > 0 and cell["requests_per_second"] > 0
        assert 0 < cell["stats"]["p50_ms"] <= cell["stats"]["p90_ms"] <= cell["stats"]["p99_ms"]
        if target in direct:
            assert cell["ratio_to_direct"] == pytest.approx(1.0)
        else:  # a hop more than the direct gRPC call, through the bare Python forwarder
            assert cell["ratio_to_direct"] > 0
    assert "| 1x4 | tfserving grpc | 1 |" in finished.stdout
    assert f"| 1x4 | {FLOOR} | 1 |" in finished.stdout
    assert "[1/12] 1x4 tfserving grpc c=1 (round 1/2)" in finished.stderr, "progress on stderr"
    assert "[7/12] 1x4 tfserving grpc c=1 (round 2/2)" in finished.stderr, "rounds interleave"
    assert document["settings"]["rounds"] == 2
    with Image.open(tmp_path / "results.png") as chart:
        assert chart.format == "PNG"


@pytest.mark.timeout(240)
def test_bench_measures_tf_serving_with_server_side_batching(tmp_path: Path) -> None:
    finished = run_bench(
        tmp_path, "--targets", "direct", "batching", "--concurrency", "4", "--rounds", "1"
    )
    document = json.loads((tmp_path / "results.json").read_text())
    (batched,) = [r for r in document["results"] if r["target"] == BATCHING]
    assert batched["errors"] == {} and batched["stats"]["count"] > 0
    assert batched["ratio_to_direct"] > 0  # compared with the plain backend's gRPC
    assert document["settings"]["batching_parameters"] == BATCHING_PARAMETERS
    assert f"| 1x4 | {BATCHING} | 4 |" in finished.stdout
