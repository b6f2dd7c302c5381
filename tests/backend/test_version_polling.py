"""File-system polling, as TF Serving does it: a new version directory is served, the old one
retired only once the new one is available, a broken one never replaces a good one."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.servers import Backend
from tests.waiting import eventually


def states(backend: Backend) -> dict[str, str]:
    reply = requests.get(f"{backend.rest_endpoint}/v1/models/hot", timeout=30).json()
    return {entry["version"]: entry["state"] for entry in reply["model_version_status"]}


def wait_for(backend: Backend, expected: dict[str, str], timeout_s: float = 60) -> None:
    eventually(
        lambda: states(backend) == expected,
        timeout_s,
        interval_s=0.2,
        awaited=f"status {expected}",
        detail=lambda: f"status stayed {states(backend)}, wanted {expected}",
    )


def answering_version(backend: Backend) -> Any:
    reply = requests.get(f"{backend.rest_endpoint}/v1/models/hot/metadata", timeout=30)
    return reply.json()["model_spec"]["version"]


def publish(source: Path, base: Path, version: str) -> None:
    """Copy then rename, so the poller never sees a half-written version."""
    staging = base.parent / f"staging-{version}"
    shutil.copytree(source, staging)
    staging.rename(base / version)


def test_versions_come_and_go_with_their_directories(
    backend_factory: Callable[..., Backend], tfserving_testdata: Path, tmp_path: Path
) -> None:
    versions = tfserving_testdata / "saved_model_half_plus_two_2_versions"
    base = tmp_path / "hot"
    base.mkdir()
    publish(versions / "00000123", base, "123")
    backend = backend_factory(
        [
            "--model_name=hot",
            f"--model_base_path={base}",
            "--file_system_poll_wait_seconds=0.2",
            "--max_num_load_retries=0",  # the broken version below ends at its first failure
        ],
        ready_model="hot",
        name="hot",
    )
    assert states(backend) == {"123": "AVAILABLE"}

    publish(versions / "00000124", base, "124")
    wait_for(backend, {"123": "END", "124": "AVAILABLE"})
    assert answering_version(backend) == "124"
    reply = requests.post(
        f"{backend.rest_endpoint}/v1/models/hot:predict", json={"instances": [1.0]}, timeout=30
    )
    assert reply.json() == {"predictions": [2.5]}

    (base / "125").mkdir()
    (base / "125" / "saved_model.pb").write_bytes(b"not a SavedModel")
    wait_for(backend, {"123": "END", "124": "AVAILABLE", "125": "END"})
    assert answering_version(backend) == "124"

    shutil.rmtree(base / "125")
    shutil.rmtree(base / "124")
    wait_for(backend, {"123": "AVAILABLE", "124": "END", "125": "END"})
    assert answering_version(backend) == "123"
