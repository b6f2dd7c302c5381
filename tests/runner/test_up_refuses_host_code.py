"""`up` as a user runs it, on a manifest that would run host code: refused before anything runs.

The manifest's one node names `subprocess.Popen` as its MODEL_NAME, with a parameter `args`
pointing at a script that leaves a marker file: seldon-core calls the class with the node's
parameters, so run as written, the script runs as the user. Without `--allow-class` the plan
stops with exit 2 and the marker never appears; with it, the marker appears, which is why the
refusal is the default. A container env that chooses code (LD_PRELOAD) is refused the same way.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.process_kill import kill_with_its_tree
from tests.runner.test_up_command import up
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(300)

NODE = "graph node 'runner' of predictor 'default' (SeldonDeployment 'popen')"


def popen_deployment(script: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One MODEL node whose container runs `subprocess.Popen(args=script)`."""
    container_env = [
        {"name": "MODEL_NAME", "value": "subprocess.Popen"},
        {"name": "SERVICE_TYPE", "value": "MODEL"},
    ] + [{"name": name, "value": value} for name, value in (env or {}).items()]
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "popen"},
        "spec": {
            "predictors": [
                {
                    "name": "default",
                    "graph": {
                        "name": "runner",
                        "type": "MODEL",
                        "parameters": [{"name": "args", "type": "STRING", "value": str(script)}],
                    },
                    "componentSpecs": [
                        {
                            "spec": {
                                "containers": [
                                    {"name": "runner", "image": "my/runner:1", "env": container_env}
                                ]
                            }
                        }
                    ],
                }
            ]
        },
    }


def write_manifest(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[Path, Path]:
    """The manifest, and the marker its script would leave."""
    marker = tmp_path / "ran-as-you"
    script = tmp_path / "leave-a-mark.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    manifest = tmp_path / "popen.yaml"
    manifest.write_text(yaml.safe_dump(popen_deployment(script, env)))
    return manifest, marker


def test_a_manifest_naming_popen_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    manifest, marker = write_manifest(tmp_path)
    output = tmp_path / "up.out"
    process = up([str(manifest), "--log-dir", str(tmp_path / "logs")], output)
    assert process.wait(timeout=120) == 2
    text = output.read_text()
    assert f"{NODE} runs 'subprocess.Popen', which is not one of seldon_tfserving's" in text
    assert "--allow-class subprocess.Popen (or its module: --allow-class subprocess)" in text
    assert "Traceback" not in text
    assert not marker.exists()
    assert not list((tmp_path / "logs").glob("*.log")), "no child was started"


def test_allowed_by_name_the_same_manifest_runs_its_code_as_the_user(tmp_path: Path) -> None:
    manifest, marker = write_manifest(tmp_path)
    output = tmp_path / "up.out"
    process = up(
        [str(manifest), "--allow-class", "subprocess.Popen", "--log-dir", str(tmp_path / "logs")],
        output,
    )

    def ran() -> bool:
        if marker.exists():
            return True
        assert process.poll() is None or marker.exists(), output.read_text()
        return False

    try:
        eventually(
            ran,
            200,
            interval_s=0.2,
            awaited=f"the node's code writing {marker}",
            detail=output.read_text,
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill_with_its_tree(process)


def test_a_container_env_that_chooses_code_is_refused_naming_the_flag(tmp_path: Path) -> None:
    manifest, marker = write_manifest(tmp_path, env={"LD_PRELOAD": str(tmp_path / "evil.so")})
    output = tmp_path / "up.out"
    process = up(
        [str(manifest), "--allow-class", "subprocess.Popen", "--log-dir", str(tmp_path / "logs")],
        output,
    )
    assert process.wait(timeout=120) == 2
    text = output.read_text()
    assert f"{NODE}: its container sets LD_PRELOAD, which makes the dynamic loader" in text
    assert "--allow-env LD_PRELOAD" in text
    assert not marker.exists()
