"""The demo: where it exports, how it summarises, and a short run of the whole journey."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from seldon_tfserving.deploy.model import load_documents
from seldon_tfserving.runner.demo import ModelLayout, model_layout
from seldon_tfserving.runner.demo_report import (
    Answer,
    histogram_quantiles,
    percentile,
    samples_by_label,
    summarise,
)
from tests.servers import PROJECT_ROOT, VENV_BIN

GATEWAY_METRICS = """\
# HELP seldon_api_executor_client_requests_seconds client latency
# TYPE seldon_api_executor_client_requests_seconds histogram
seldon_api_executor_client_requests_seconds_bucket{model_name="a",le="0.01"} 50.0
seldon_api_executor_client_requests_seconds_bucket{model_name="a",le="0.1"} 100.0
seldon_api_executor_client_requests_seconds_bucket{model_name="a",le="+Inf"} 100.0
seldon_api_executor_client_requests_seconds_count{model_name="a"} 100.0
seldon_api_executor_client_requests_seconds_sum{model_name="a"} 2.0
# HELP seldon_api_executor_routing_total routes
# TYPE seldon_api_executor_routing_total counter
seldon_api_executor_routing_total{model_name="r",route="0"} 7.0
seldon_api_executor_routing_total{model_name="r",route="1"} 3.0
"""


def test_the_demo_exports_where_the_unchanged_ab_graph_looks() -> None:
    documents = load_documents(PROJECT_ROOT / "graphs" / "ab-versions.yaml")
    assert model_layout(documents) == ModelLayout("half_plus_two", "models", "half_plus_two")


def test_percentiles_interpolate() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 90) == pytest.approx(9.0)
    assert math.isnan(percentile([], 50))


def test_histogram_quantiles_follow_prometheus_buckets() -> None:
    quantiles = histogram_quantiles(
        GATEWAY_METRICS, "seldon_api_executor_client_requests_seconds", "model_name"
    )
    # half the calls took under 10 ms: the median sits at the bucket edge; p90 inside the next
    assert quantiles["a"]["p50"] == pytest.approx(10.0)
    assert quantiles["a"]["p90"] == pytest.approx(10.0 + 90.0 * 0.8)
    assert samples_by_label(GATEWAY_METRICS, "seldon_api_executor_routing_total", "route") == {
        "0": 7.0,
        "1": 3.0,
    }


def test_the_summary_splits_by_arm_and_by_version() -> None:
    answers = [
        Answer("stable", 1, True, 0.010),
        Answer("stable", 1, False, 0.020),
        Answer("canary", 2, True, 0.030),
        Answer("canary", 2, True, 0.040),
    ]
    summary = summarise(answers)
    assert summary["requests"] == 4
    assert summary["by_arm"]["stable"]["accuracy"] == 0.5
    assert summary["by_arm"]["canary"]["share"] == 0.5
    assert summary["by_version"]["2"]["accuracy"] == 1.0
    assert summary["by_arm"]["canary"]["versions"] == {"2": 2}
    assert summary["by_arm"]["stable"]["latency_ms"]["p50"] == pytest.approx(15.0)


@pytest.mark.timeout(400)
def test_a_short_demo_runs_the_whole_journey_and_ends_by_itself(tmp_path: Path) -> None:
    process = subprocess.run(
        [
            str(VENV_BIN / "seldon-tfserving"),
            "demo",
            "--output",
            str(tmp_path / "out"),
            "--requests",
            "40",
            "--after",
            "20",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=380,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    accuracy = summary["offline_test_accuracy"]
    assert accuracy["2"] > accuracy["1"] + 0.2
    before = summary["before_promotion"]
    assert before["requests"] == 40 and before["failed"] == 0
    # before: each arm answers with its own label's version
    assert set(before["by_arm"]["model-stable"]["versions"]) == {"1"}
    # after moving `stable` to 2, every answer comes from version 2
    after = summary["after_promotion"]
    assert after["requests"] == 20 and after["failed"] == 0
    assert set(after["by_version"]) == {"2"}
    assert summary["promotion"]["applied_by"] in ("reloaded", "restarted")
    assert "Everything is stopped." in process.stdout
