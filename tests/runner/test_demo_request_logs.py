"""The demo's request-log step: the journey's traffic logged with its feedback, then a
shifted stream whose one moved feature `skew` flags, and none of the others."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.servers import PROJECT_ROOT, VENV_BIN

pytestmark = pytest.mark.timeout(600)


def test_the_demo_logs_its_traffic_and_skew_finds_the_shifted_feature(tmp_path: Path) -> None:
    process = subprocess.run(
        [
            str(VENV_BIN / "seldon-tfserving"),
            "demo",
            "--output",
            str(tmp_path / "out"),
            "--requests",
            "30",
            "--after",
            "10",
            "--shifted",
            "150",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=560,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    logs = summary["request_logs"]
    # one row per request of steps 3 and 5 at least (the promotion's probe is logged too)
    assert logs["logged"]["rows"] >= 40
    # the sink's accuracy per version comes from the demo's own feedback (reward 1 if right)
    assert set(logs["logged"]["versions"]) == {"1", "2"}
    assert logs["logged"]["versions"]["2"] > logs["logged"]["versions"]["1"]
    assert logs["shifted_sent"] == 150 and logs["window_rows"] == 150
    assert logs["drifted"] == [logs["shifted_feature"]] == ["f2"]
    assert Path(logs["png"]).read_bytes()[:4] == b"\x89PNG"
    assert "DRIFT" in process.stdout
