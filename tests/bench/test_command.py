"""The bench command end to end, on the cheapest setting: it measures, checks, and reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from seldon_tfserving.bench.gateway_hop import HOPS
from seldon_tfserving.bench.suite import (
    BATCHING_PARAMETERS,
    GATEWAY_FLOOR_TARGET,
    REFERENCE_GRPC_NDARRAY,
    REFERENCE_GRPC_TFTENSOR,
    REFERENCE_REST_NDARRAY,
    ROUTER_GRPC,
    ROUTER_REST,
    SELDON_NDARRAY,
    SELDON_TFTENSOR,
    TF_GRPC_FACE,
    TF_REST_FACE,
    TF_REST_FACE_REST_TRANSPORT,
    WRAPPER_REST_NDARRAY,
    WRAPPER_REST_NDARRAY_REST_TRANSPORT,
)
from seldon_tfserving.bench.suite import BATCHING_TARGET as BATCHING
from seldon_tfserving.bench.suite import FLOOR_TARGET as FLOOR
from seldon_tfserving.runner.launch import MICROSERVICE
from tests.servers import PROJECT_ROOT, VENV_BIN


def run_bench(output: Path, *args: str, timeout_s: float = 220) -> subprocess.CompletedProcess[str]:
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
        timeout=timeout_s,
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
    for (target, _), cell in cells.items():
        process = "forwarder" if target == FLOOR else "backend"
        assert cell["process"] == process
        assert cell["cpu_us_per_answer"][process] > 0, "the CPU of the process it called"
        assert cell["cpu_us_per_answer"]["backend"] > 0, "and the backend's, behind every path"
    assert "| 1x4 | tfserving grpc | 1 |" in finished.stdout
    assert f"| 1x4 | {FLOOR} | 1 |" in finished.stdout
    assert "[1/12] 1x4 tfserving grpc c=1 (round 1/2)" in finished.stderr, "progress on stderr"
    assert "[7/12] 1x4 tfserving grpc c=1 (round 2/2)" in finished.stderr, "rounds interleave"
    assert document["settings"]["rounds"] == 2
    memory = {process["name"]: process for process in document["memory"]}
    assert set(memory) == {"backend", "forwarder"}, "every process the run started"
    assert all(process["rss_mib"] > 0 for process in memory.values())
    assert "| backend |" in (tmp_path / "results.md").read_text()
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


@pytest.mark.timeout(480)
def test_bench_measures_the_tf_protocol_on_the_wrapper_and_through_the_gateway(
    tmp_path: Path,
) -> None:
    finished = run_bench(
        tmp_path,
        "--targets",
        "direct",
        "wrapper",
        "tf-wrapper",
        "tf-graph",
        "--concurrency",
        "2",
        "--rounds",
        "1",
        timeout_s=420,
    )
    document = json.loads((tmp_path / "results.json").read_text())
    cells = {r["target"]: r for r in document["results"]}
    tf_targets = [TF_GRPC_FACE, TF_REST_FACE, TF_REST_FACE_REST_TRANSPORT] + [
        f"graph tf {kind} {transport}"
        for kind in ("single", "ab")
        for transport in ("rest", "grpc")
    ]
    assert set(tf_targets) < set(cells)
    for target in tf_targets:
        cell = cells[target]
        assert cell["errors"] == {}, f"{target}: every answer checked and good"
        assert cell["stats"]["count"] > 0 and cell["requests_per_second"] > 0
        assert cell["protocol"] == ("grpc" if target.endswith("grpc") else "rest")
        assert cell["ratio_to_direct"] > 0, "compared with TF Serving's own face of its protocol"
    compared = {(c["target"], c["reference"]): c for c in document["comparisons"]}
    ndarray = (SELDON_NDARRAY, SELDON_TFTENSOR)
    assert set(compared) == {
        ndarray,
        (TF_GRPC_FACE, SELDON_TFTENSOR),
        (TF_GRPC_FACE, FLOOR),
        (TF_REST_FACE_REST_TRANSPORT, "tfserving rest"),
        (TF_REST_FACE, "tfserving rest"),
        (WRAPPER_REST_NDARRAY_REST_TRANSPORT, "tfserving rest"),
        (WRAPPER_REST_NDARRAY_REST_TRANSPORT, WRAPPER_REST_NDARRAY),
    }
    for pair, comparison in compared.items():
        assert comparison["payload"] == "1x4" and comparison["concurrency"] == 2
        assert comparison["latency_ratio"] > 0 and comparison["throughput_ratio"] > 0
        if pair == ndarray:
            assert comparison["max_latency_ratio"] == pytest.approx(1.1)
            assert isinstance(comparison["met"], bool), "ndarray's goal is stated for 1x4"
        else:
            assert comparison["met"] is None, "the REST face's goal is for 1x224x224x3"
    row = "| tf grpc face / seldon grpc tftensor | 1x4 | 2 |"
    assert row in finished.stdout
    assert row in (tmp_path / "results.md").read_text()
    # every wrapper path over the bare hop of the same cell, in microseconds
    costs = {cost["target"]: cost for cost in document["wrapper_costs"]}
    wrapper_targets = {t for t in cells if t.startswith("wrapper ")}
    assert set(costs) == wrapper_targets
    for target, cost in costs.items():
        assert cost["over"] == FLOOR and (cost["payload"], cost["concurrency"]) == ("1x4", 2)
        assert isinstance(cost["mean_us"], float) and isinstance(cost["p50_us"], float)
        assert cost["max_us"] == (100.0 if cells[target]["protocol"] == "grpc" else None)
    assert f"| {SELDON_NDARRAY} | 1x4 | 2 |" in (tmp_path / "results.md").read_text()


#: A Seldon class that takes TfServingProxy's six parameters, as Seldon's file would be given.
REFERENCE_SOURCE = """\
from seldon_tfserving import TfServingModel


class Reference(TfServingModel):
    \"\"\"Stands in for Seldon's TfServingProxy, which no test here can fetch.\"\"\"
"""


@pytest.mark.timeout(480)
def test_bench_measures_a_reference_class_beside_the_wrapper_and_compares_them(
    tmp_path: Path,
) -> None:
    source = tmp_path / "classes" / "Reference.py"
    source.parent.mkdir()
    source.write_text(REFERENCE_SOURCE)
    output = tmp_path / "out"
    finished = run_bench(
        output,
        "--targets",
        "wrapper",
        "--reference-class",
        str(source),
        "--concurrency",
        "2",
        "--rounds",
        "1",
        timeout_s=420,
    )
    document = json.loads((output / "results.json").read_text())
    cells = {r["target"]: r for r in document["results"]}
    for target in (REFERENCE_REST_NDARRAY, REFERENCE_GRPC_NDARRAY, REFERENCE_GRPC_TFTENSOR):
        assert cells[target]["errors"] == {}, f"{target}: every answer checked and good"
        assert cells[target]["stats"]["count"] > 0
    compared = {(c["target"], c["reference"]): c for c in document["comparisons"]}
    against_reference = {pair: c for pair, c in compared.items() if pair[1].startswith("reference")}
    assert set(against_reference) == {
        (WRAPPER_REST_NDARRAY, REFERENCE_REST_NDARRAY),
        (WRAPPER_REST_NDARRAY_REST_TRANSPORT, REFERENCE_REST_NDARRAY),
        (SELDON_TFTENSOR, REFERENCE_GRPC_TFTENSOR),
        (SELDON_NDARRAY, REFERENCE_GRPC_NDARRAY),
    }
    for comparison in against_reference.values():
        assert comparison["throughput_ratio"] > 0 and isinstance(comparison["met"], bool)
        assert comparison["cpu_ratio"] > 0, "the two components' CPU per answer, divided"
    for target in (SELDON_TFTENSOR, REFERENCE_GRPC_TFTENSOR):
        spent = cells[target]["cpu_us_per_answer"]
        assert spent[cells[target]["process"]] > 0 and spent["backend"] > 0
    assert document["settings"]["reference_class"] == str(source)
    memory = {process["name"] for process in document["memory"]}
    assert "reference-dense4" in memory, "its process is measured like ours"
    assert "| seldon rest ndarray / reference rest ndarray | 1x4 | 2 |" in finished.stdout


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("missing/TfServingProxy.py", "no such file"),
        ("tf-serving-proxy.py", "NAME.py file holding class NAME"),
    ],
)
def test_bench_refuses_a_reference_class_it_cannot_import_before_starting_anything(
    tmp_path: Path, given: str, said: str
) -> None:
    (tmp_path / "tf-serving-proxy.py").write_text("class TfServingProxy: ...\n")
    refused = subprocess.run(
        [str(VENV_BIN / "seldon-tfserving"), "bench", "--reference-class", str(tmp_path / given)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert said in refused.stderr and "--reference-class" in refused.stderr
    assert not (tmp_path / "bench-results").exists(), "nothing was started or written"


#: A wrapper, router or combiner holding TensorFlow's runtime is about 550 MB or more here;
#: with the protos only, under 200 MB (gunicorn's workers are counted apart).
MAX_PROTOS_ONLY_RSS_MIB = 250


@pytest.mark.timeout(480)
def test_bench_reports_the_gateways_hop_and_every_processs_memory(tmp_path: Path) -> None:
    finished = run_bench(
        tmp_path,
        "--targets",
        "wrapper",
        "graph",
        "--concurrency",
        "2",
        "--rounds",
        "1",
        timeout_s=420,
    )
    document = json.loads((tmp_path / "results.json").read_text())
    cells = {r["target"]: r for r in document["results"]}
    for checked in (ROUTER_REST, ROUTER_GRPC, GATEWAY_FLOOR_TARGET):
        assert cells[checked]["errors"] == {}, f"{checked}: every answer checked and good"
        assert cells[checked]["stats"]["count"] > 0
    hops = {hop["graph"]: hop for hop in document["gateway_hops"]}
    seldon_graphs = {spec.graph: spec.components for spec in HOPS if "graph tf" not in spec.graph}
    assert set(hops) == set(seldon_graphs), "single and A/B, REST and gRPC"
    for graph, hop in hops.items():
        assert tuple(hop["components"]) == seldon_graphs[graph]
        assert (hop["payload"], hop["concurrency"]) == ("1x4", 2)
        assert isinstance(hop["added_mean_ms"], float) and isinstance(hop["added_p99_ms"], float)
        assert hop["met"] == (hop["added_mean_ms"] < 3.0 and hop["added_p99_ms"] < 10.0)
    assert "| graph ab rest | router rest ndarray + wrapper rest ndarray | 1x4 | 2 |" in (
        finished.stdout
    )
    assert document["settings"]["component_command"] == list(MICROSERVICE)
    memory = {process["name"]: process for process in document["memory"]}
    assert set(memory) == {
        "backend",
        "wrapper-dense4",
        "wrapper-rest-dense4",
        "router",
        "combiner",
        "gateway",
        "forwarder-wrapper-dense4",
    }, "every process the run started"
    for name in ("wrapper-dense4", "router", "combiner"):
        component = memory[name]
        assert component["children"], f"{name}: gunicorn's workers are measured too"
        assert component["total_rss_mib"] > component["rss_mib"] > 0
        assert component["rss_mib"] < MAX_PROTOS_ONLY_RSS_MIB, f"{name} holds TensorFlow"
    assert memory["gateway"]["rss_mib"] < MAX_PROTOS_ONLY_RSS_MIB
    assert memory["backend"]["rss_mib"] > MAX_PROTOS_ONLY_RSS_MIB, "TensorFlow runs the models"
    markdown = (tmp_path / "results.md").read_text()
    assert "The gateway's hop:" in markdown and "| wrapper-dense4 |" in markdown
