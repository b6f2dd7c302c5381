"""`up --log-sink`: the real gateway's CloudEvents of a real A/B graph, read back from Parquet.

graphs/ab-versions.yaml runs as written, every node's logger pointed at a local sink. Each
prediction is sent with Seldon's own client over REST and gRPC; the rows read back with pyarrow
hold, per instance and node, the features sent, the version that answered (the arm's), the
path the router took, and, once sent, the reward: first readable without it, then joined.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.logs.reader import read_rows
from seldon_tfserving.runner.local import LocalRunner
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA
from tests.waiting import eventually

AB = "tfserving-ab-versions"
ARM_VERSION = {"model-stable": "1", "model-canary": "2"}
ANSWER_OF_VERSION = {"1": lambda x: 0.5 * x + 2.0, "2": lambda x: 0.5 * x + 3.0}

pytestmark = pytest.mark.timeout(600)


def models_volume(root: Path) -> Path:
    model = root / "half_plus_two"
    model.mkdir(parents=True)
    (model / "1").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu" / "00000123")
    (model / "2").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_three" / "00000123")
    return root


def client(runner: LocalRunner, transport: str) -> SeldonClient:
    port = runner.http_port if transport == "rest" else runner.grpc_port
    return SeldonClient(
        deployment_name=AB,
        namespace="default",
        gateway="istio",
        transport=transport,
        gateway_endpoint=f"127.0.0.1:{port}",
        client_return_type="proto",
    )


def wait_for_rows(folder: Path, count: int, timeout_s: float = 60.0) -> Any:
    """The rows read from `folder`, once there are at least `count` (one or more)."""

    def enough() -> Any:
        rows = read_rows(folder)
        return rows if rows.num_rows >= count else None

    return eventually(
        enough,
        timeout_s,
        interval_s=0.3,
        awaited=f"{count} rows in {folder}",
        detail=lambda: f"{read_rows(folder).num_rows} there",
    )


def test_the_gateways_events_become_one_row_per_instance_and_node(tmp_path: Path) -> None:
    sink_folder = tmp_path / "request-logs"
    sent: dict[str, dict[str, Any]] = {}
    runner = LocalRunner(
        PROJECT_ROOT / "graphs" / "ab-versions.yaml",
        volumes={"models": models_volume(tmp_path / "models")},
        log_dir=tmp_path / "logs",
        ready_timeout=240,
        log_sink=sink_folder,
    )
    with runner:
        rng = np.random.default_rng(17)
        for i in range(16):
            transport = "rest" if i % 2 == 0 else "grpc"
            x = np.round(rng.uniform(-10, 10, size=(2, 1)), 3)
            seldon = client(runner, transport)
            result = seldon.predict(data=x, names=["x"])
            assert result.success, result.msg
            meta = result.response.meta
            branch = meta.routing["ab-router"]
            arm = ("model-stable", "model-canary")[branch]
            sent[meta.puid] = {
                "x": x[:, 0].tolist(),
                "arm": arm,
                "version": meta.tags["tfserving_version"].string_value,
                "result": result,
                "seldon": seldon,
            }
            assert sent[meta.puid]["version"] == ARM_VERSION[arm]
        # the rows are readable before any feedback exists: 2 instances x 2 nodes a prediction
        early = wait_for_rows(sink_folder, 16 * 2 * 2)
        assert early.num_rows == 16 * 2 * 2
        assert all(r is None for r in early["reward"].to_pylist())
        rewarded = list(sent)[::2]
        for puid in rewarded:
            entry = sent[puid]
            feedback = entry["seldon"].feedback(
                prediction_request=entry["result"].request,
                prediction_response=entry["result"].response,
                # 0 too: SeldonClient's JSON leaves a zero reward out, which reads as 0
                reward=1.0 if entry["arm"] == "model-canary" else 0.0,
            )
            assert feedback.success, feedback.msg
        time.sleep(1.0)  # the gateway's logger posts off the request path
    # up stopped: the gateway's loggers drained, then the sink flushed on its SIGTERM
    rows = read_rows(sink_folder).to_pylist()
    assert len(rows) == 16 * 2 * 2
    by_key = {(r["request_id"], r["node"], r["instance"]): r for r in rows}
    for puid, entry in sent.items():
        arm, version = entry["arm"], entry["version"]
        expected_path = [arm, "ab-router"]
        for node in (arm, "ab-router"):
            for i, x in enumerate(entry["x"]):
                row = by_key[(puid, node, i)]
                assert row["deployment"] == AB and row["predictor"] == "default"
                assert row["feature:x"] == pytest.approx(x)
                answer = ANSWER_OF_VERSION[version](x)
                assert row["prediction_value"] == pytest.approx(answer, rel=1e-6, abs=1e-6)
                assert row["model_version"] == version
                assert json.loads(row["path"]) == expected_path
                assert row["answered"] is True
                if puid in rewarded:
                    assert row["reward"] == (1.0 if arm == "model-canary" else 0.0)
                else:
                    assert row["reward"] is None
    # the arm that did not answer logged nothing for that prediction
    assert {(r["request_id"], r["node"]) for r in rows} == {
        (puid, node) for puid, e in sent.items() for node in (e["arm"], "ab-router")
    }
