"""The request-log bench's parts: the sink's ingest measured (every event answered and
written), and the two side-by-side deployments it serves valid and differing only by logger."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from seldon_tfserving.bench.models import BENCH_MODELS
from seldon_tfserving.bench.request_logs import DEPLOYMENTS, sink_ingest, two_deployments
from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.validate import validate_file
from seldon_tfserving.logs.reader import read_rows
from seldon_tfserving.logs.server import SinkService
from seldon_tfserving.logs.sink import LogSink, SinkSettings


def test_the_ingest_figure_counts_events_the_sink_answered_and_wrote(tmp_path: Path) -> None:
    service = SinkService(LogSink(SinkSettings(tmp_path, batch_rows=200, batch_s=0.5)))
    service.start()
    try:
        result = sink_ingest(f"http://127.0.0.1:{service.port}/", os.getpid(), 0.5, 0.1)
    finally:
        service.stop()
    assert result.errors == 0 and result.events > 0
    assert result.events_per_second > 0 and result.p50_ms > 0
    assert 0 < result.rss_mib <= result.peak_rss_mib
    # warm-up calls are answered too but not counted: at least the measured ones are written
    assert read_rows(tmp_path).num_rows >= result.events


def test_the_two_deployments_differ_only_by_the_logger(tmp_path: Path) -> None:
    text = two_deployments(BENCH_MODELS[0], "http://127.0.0.1:9/")
    path = tmp_path / "logged.yaml"
    path.write_text(text)
    reports = validate_file(path, schema.builtin_validator())
    assert [r.findings for r in reports] == [[], []]
    off, on = yaml.safe_load_all(text)
    assert [off["metadata"]["name"], on["metadata"]["name"]] == list(DEPLOYMENTS)
    on_graph = on["spec"]["predictors"][0]["graph"]
    assert on_graph.pop("logger") == {"mode": "all", "url": "http://127.0.0.1:9/"}
    assert on_graph == off["spec"]["predictors"][0]["graph"]
