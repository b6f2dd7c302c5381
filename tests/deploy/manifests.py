"""Shared paths and helpers for the deploy tests: the graphs, the real CRD, the real CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.servers import PROJECT_ROOT, SHARED, VENV_BIN

GRAPHS = PROJECT_ROOT / "graphs"
GRAPH_FILES = sorted(GRAPHS.glob("*.yaml"))
REAL_CRD = SHARED / "schemas" / "seldondeployment-crd-v1.yaml"
CLI = str(VENV_BIN / "seldon-tfserving")


def run_cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `seldon-tfserving` command, as a user runs it."""
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=timeout_s, cwd=PROJECT_ROOT
    )


def load_graph(name: str) -> list[dict[str, Any]]:
    """The documents of graphs/NAME (comments dropped), ready to be changed by a test."""
    with (GRAPHS / name).open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The SeldonDeployment among a file's documents."""
    return next(doc for doc in docs if doc["kind"] == "SeldonDeployment")


def write_docs(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path
