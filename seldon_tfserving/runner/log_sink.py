"""`up --log-sink DIR`: a local log sink, and every graph node's logger pointed at it.

On a cluster each node's `logger` names its sink; here one sink takes every node's request,
response and feedback, so a local run leaves the same Parquet a cluster's sink would.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from seldon_tfserving.deploy.model import GraphNode, Logger, Predictor, SeldonDeployment

#: what an un-logged node logs once `--log-sink` is given (the executor's default mode)
DEFAULT_MODE = "all"


def sink_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/"


def sink_argv(folder: Path, host: str, port: int) -> list[str]:
    """The sink as a child process (flushes on the runner's SIGTERM)."""
    return [
        sys.executable,
        "-m",
        "seldon_tfserving.cli",
        "log-sink",
        "--dir",
        str(folder),
        "--host",
        host,
        "--port",
        str(port),
        "--batch-seconds",
        "1",
        "--settle-seconds",
        "0.5",
    ]


def logged_node(node: GraphNode, url: str) -> GraphNode:
    """`node` and its children logging to `url` (a node's own mode is kept)."""
    mode = node.logger.mode if node.logger is not None else DEFAULT_MODE
    return replace(
        node,
        logger=Logger(mode, url),
        children=tuple(logged_node(child, url) for child in node.children),
    )


def logged_deployments(
    deployments: tuple[SeldonDeployment, ...], url: str
) -> tuple[SeldonDeployment, ...]:
    """Every deployment with every node of every predictor logging to `url`."""

    def logged_predictor(predictor: Predictor) -> Predictor:
        return replace(predictor, graph=logged_node(predictor.graph, url))

    return tuple(
        replace(d, predictors=tuple(logged_predictor(p) for p in d.predictors)) for d in deployments
    )
