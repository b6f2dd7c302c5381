"""`bench --request-logs`: what request logging costs, measured on this machine.

Two figures: the events per second one `log-sink` process ingests (closed-loop clients posting
the executor's CloudEvents) with its resident memory, and a graph's p50 and req/s at
concurrency 8 with its node's logger off and on, the two deployments served side by side by
one `up`, measured in interleaved slices so both see the same machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from seldon_tfserving.bench.harness import Call, CallFailed, LoadResult, run_closed_loop
from seldon_tfserving.bench.models import BENCH_MODELS, BenchModel, export_bench_model
from seldon_tfserving.bench.targets import seldon_rest_ndarray
from seldon_tfserving.ports import free_port

CONCURRENCY = 8
DEPLOYMENTS = ("logger-off", "logger-on")


@dataclass(frozen=True)
class SinkIngest:
    events_per_second: float
    events: int
    errors: int
    rss_mib: float
    peak_rss_mib: float
    p50_ms: float


@dataclass(frozen=True)
class LoggerCost:
    deployment: str
    p50_ms: float
    p99_ms: float
    requests_per_second: float
    errors: int


def _memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of `pid` in MiB, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def start_sink(folder: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real `log-sink` process on a free port, once it answers /ready."""
    port = free_port()
    argv = [sys.executable, "-m", "seldon_tfserving.cli", "log-sink", "--dir", str(folder)]
    process = subprocess.Popen(
        [*argv, "--port", str(port)], stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"log-sink exited with {process.returncode}; see {log_path}")
        try:
            if requests.get(url + "ready", timeout=2).ok:
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"log-sink was not ready in 180 s; see {log_path}")


def _event_call(url: str) -> Call:
    """One client posting request events as the executor does (a fresh request id each)."""
    session = requests.Session()
    body = json.dumps({"data": {"names": ["a", "b", "c", "d"], "ndarray": [[0.1, 0.2, 0.3, 0.4]]}})
    data = body.encode()

    def call() -> None:
        headers = {
            "Content-Type": "application/json",
            "Ce-Specversion": "1.0",
            "Ce-Id": str(uuid.uuid4()),
            "Ce-Type": "io.seldon.serving.inference.request",
            "Ce-Source": "http://:8000/",
            "Ce-Modelid": "model",
            "Ce-Requestid": str(uuid.uuid4()),
            "Ce-Inferenceservicename": "bench",
            "Ce-Namespace": "bench",
            "Ce-Endpoint": "default",
        }
        reply = session.post(url, data=data, headers=headers, timeout=30)
        if reply.status_code != 200:
            raise CallFailed(f"status {reply.status_code}", reply.text[:200])

    return call


def sink_ingest(url: str, pid: int, duration_s: float, warmup_s: float) -> SinkIngest:
    result = run_closed_loop(lambda: _event_call(url), CONCURRENCY, duration_s, warmup_s)
    rss, peak = _memory_mib(pid)
    return SinkIngest(
        events_per_second=result.requests_per_second,
        events=len(result.latencies_s),
        errors=result.error_count,
        rss_mib=rss,
        peak_rss_mib=peak,
        p50_ms=result.stats.p50_ms,
    )


def two_deployments(model: BenchModel, sink_url: str) -> str:
    """One single-model graph twice: `logger-off`, and `logger-on` logging all to the sink."""
    documents = []
    for name in DEPLOYMENTS:
        node: dict[str, Any] = {
            "name": "model",
            "type": "MODEL",
            "parameters": [{"name": "model_name", "type": "STRING", "value": model.name}],
        }
        if name == "logger-on":
            node["logger"] = {"mode": "all", "url": sink_url}
        containers = [
            {
                "name": "model",
                "image": "seldon-tfserving:0.1.0",
                "env": [
                    {"name": "MODEL_NAME", "value": "seldon_tfserving.TfServingModel"},
                    {"name": "SERVICE_TYPE", "value": "MODEL"},
                ],
            },
            {
                "name": "tfserving",
                "image": "tensorflow/serving:2.20.0",
                "args": [
                    "--port=8500",
                    "--rest_api_port=8501",
                    f"--model_name={model.name}",
                    f"--model_base_path=/models/{model.name}",
                ],
                "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
            },
        ]
        documents.append(
            {
                "apiVersion": "machinelearning.seldon.io/v1",
                "kind": "SeldonDeployment",
                "metadata": {"name": name, "namespace": "bench"},
                "spec": {
                    "predictors": [
                        {
                            "name": "default",
                            "replicas": 1,
                            "graph": node,
                            "componentSpecs": [
                                {
                                    "spec": {
                                        "containers": containers,
                                        "volumes": [
                                            {
                                                "name": "models",
                                                "persistentVolumeClaim": {"claimName": "models"},
                                            }
                                        ],
                                    }
                                }
                            ],
                        }
                    ]
                },
            }
        )
    return "\n---\n".join(json.dumps(d) for d in documents)


def logger_cost(
    model: BenchModel, workdir: Path, sink_url: str, duration_s: float, warmup_s: float, rounds: int
) -> list[LoggerCost]:
    from seldon_tfserving.runner.local import LocalRunner

    export_bench_model(model, workdir / "models")
    graph = workdir / "logged.yaml"
    graph.write_text(two_deployments(model, sink_url))
    x = model.payload()
    slices: dict[str, list[LoadResult]] = {name: [] for name in DEPLOYMENTS}
    with LocalRunner(
        graph, volumes={"models": workdir / "models"}, log_dir=workdir / "up-logs"
    ) as runner:
        targets = {
            name: seldon_rest_ndarray(
                f"{runner.http_url}/seldon/bench/{name}/api/v1.0/predictions", x, name
            )
            for name in DEPLOYMENTS
        }
        for _ in range(rounds):
            for name, target in targets.items():
                slices[name].append(
                    run_closed_loop(
                        target.open_call, CONCURRENCY, duration_s / rounds, warmup_s / rounds
                    )
                )
    costs = []
    for name in DEPLOYMENTS:
        merged = LoadResult.merged(slices[name])
        costs.append(
            LoggerCost(
                name,
                merged.stats.p50_ms,
                merged.stats.p99_ms,
                merged.requests_per_second,
                merged.error_count,
            )
        )
    return costs


def run_request_log_bench(
    output: Path, duration_s: float, warmup_s: float, rounds: int
) -> dict[str, Any]:
    """Both measurements, printed and written to `output/request-logs.json`."""
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seldon-tfserving-bench-logs-") as work:
        workdir = Path(work)
        sink, url = start_sink(workdir / "sink", output / "log-sink.log")
        try:
            ingest = sink_ingest(url, sink.pid, duration_s, warmup_s)
            costs = logger_cost(BENCH_MODELS[0], workdir, url, duration_s, warmup_s, rounds)
            memory_after = _memory_mib(sink.pid)
        finally:
            sink.terminate()
            sink.wait(timeout=60)
    off, on = costs
    document = {
        "concurrency": CONCURRENCY,
        "duration_s": duration_s,
        "sink_ingest": asdict(ingest),
        "sink_rss_after_graph_mib": memory_after[0],
        "logger_cost": [asdict(c) for c in costs],
        "p50_ratio_on_vs_off": on.p50_ms / off.p50_ms if off.p50_ms else None,
        "rps_ratio_on_vs_off": (
            on.requests_per_second / off.requests_per_second if off.requests_per_second else None
        ),
    }
    (output / "request-logs.json").write_text(json.dumps(document, indent=2) + "\n")
    print(
        f"log sink: {ingest.events_per_second:.0f} events/s at c={CONCURRENCY} "
        f"(p50 {ingest.p50_ms:.1f} ms, {ingest.errors} errors), RSS {ingest.rss_mib:.0f} MiB "
        f"(peak {ingest.peak_rss_mib:.0f} MiB)"
    )
    for cost in costs:
        print(
            f"{cost.deployment:<11} p50 {cost.p50_ms:6.2f} ms  p99 {cost.p99_ms:6.2f} ms  "
            f"{cost.requests_per_second:7.1f} req/s  errors {cost.errors}"
        )
    print(f"results: {output / 'request-logs.json'}")
    return document
