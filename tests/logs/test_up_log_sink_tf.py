"""`up --log-sink` under `protocol: tensorflow`: graphs/tf-ab-versions.yaml as written, called
with TF Serving's API; the gateway logs TF bodies (gRPC: serialized protos) with
`Ce-Protocol: tensorflow`, and the rows hold the features, the arm's answer and path, and over
gRPC the version the answer's model_spec names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seldon_tfserving.logs.reader import read_rows
from seldon_tfserving.runner.local import LocalRunner
from tests.runner.tf_graphs import (
    GRAPHS,
    HALF_PLUS_THREE,
    HALF_PLUS_TWO,
    TIMEOUT_S,
    TfGraph,
    grpc_puid,
    grpc_routing,
    models_volume,
    predict_request,
    routing_of,
)

pytestmark = pytest.mark.timeout(600)

ARMS = ("model-stable", "model-canary")
VERSION = {"model-stable": 1, "model-canary": 2}
ANSWER = {1: lambda x: 0.5 * x + 2.0, 2: lambda x: 0.5 * x + 3.0}


def test_tf_protocol_events_become_rows(tmp_path: Path) -> None:
    layout = {"half_plus_two": {1: HALF_PLUS_TWO, 2: HALF_PLUS_THREE}}
    sink_folder = tmp_path / "request-logs"
    sent: dict[str, tuple[str, str, list[float]]] = {}
    with LocalRunner(
        GRAPHS / "tf-ab-versions.yaml",
        volumes={"models": models_volume(tmp_path / "models", layout)},
        log_dir=tmp_path / "logs",
        ready_timeout=240,
        log_sink=sink_folder,
    ) as runner:
        graph = TfGraph(runner)
        for i in range(6):
            xs = [float(i), float(i) + 0.5]
            answer = graph.post("/v1/models/half_plus_two:predict", {"instances": xs})
            assert answer.status_code == 200, answer.text
            arm = ARMS[routing_of(answer)["ab-router"]]
            sent[answer.headers["Seldon-Puid"]] = ("rest", arm, xs)
        with graph.stubs() as stubs:
            for i in range(6):
                xs = [float(10 + i), float(11 + i)]
                request = predict_request([[x] for x in xs])
                _, call = stubs.prediction.Predict.with_call(
                    request, timeout=TIMEOUT_S, metadata=graph.metadata
                )
                arm = ARMS[grpc_routing(call)["ab-router"]]
                sent[grpc_puid(call)] = ("grpc", arm, xs)
    rows = read_rows(sink_folder).to_pylist()
    assert len(rows) == len(sent) * 2 * 2  # 2 instances at the arm and at the router
    by_key = {(r["request_id"], r["node"], r["instance"]): r for r in rows}
    for puid, (transport, arm, xs) in sent.items():
        version = VERSION[arm]
        for node in (arm, "ab-router"):
            for i, x in enumerate(xs):
                row = by_key[(puid, node, i)]
                assert row["protocol"] == "tensorflow"
                feature = "feature:f0" if transport == "rest" else "feature:x_0"
                assert row[feature] == x
                assert row["prediction_value"] == pytest.approx(ANSWER[version](x), abs=1e-5)
                assert json.loads(row["path"]) == [arm, "ab-router"]
                if transport == "grpc":
                    assert row["model_name"] == "half_plus_two"
                    assert row["model_version"] == str(version)
                else:
                    assert row["model_version"] is None  # TF's REST answer names none
