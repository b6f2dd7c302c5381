"""`up --prometheus-config FILE`: a prometheus.yml that scrapes every process `up` started.

Three jobs, one per kind of process: the gateway (the executor's metrics, `/prometheus`), the
components (seldon-core's metrics port, `/prometheus` as the operator sets it) and the TF
Serving backends that serve a metrics page (their MonitoringConfig's path, on the REST port).
Each component and backend target carries `deployment_name` and `predictor_name`, so `up`
says which predictor lost a process; `honor_labels` keeps the labels the processes write
themselves (the executor's and seldon-core's), as a cluster's scrape config does.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from seldon_tfserving.backend.monitoring_config import FLAG, parse_monitoring_config
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.runner.backend_process import BackendProcess
from seldon_tfserving.runner.plan import RunPlan

#: Prometheus's own default scrape interval.
DEFAULT_SCRAPE_INTERVAL = "15s"
SELDON_METRICS_PATH = "/prometheus"
GATEWAY_JOB = "seldon-gateway"
COMPONENTS_JOB = "seldon-components"
BACKENDS_JOB = "tfserving"
_DURATION = re.compile(r"^(\d+(ms|s|m|h))+$")


def scrape_interval(text: str) -> str:
    """A Prometheus duration (`15s`, `500ms`, `1m30s`); ValueError for anything else."""
    if not _DURATION.fullmatch(text) or not any(ch != "0" for ch in re.sub(r"\D", "", text)):
        raise ValueError(f"{text!r} is not a Prometheus duration such as 15s or 500ms")
    return text


@dataclass(frozen=True)
class Target:
    """One process to scrape: where, at which path, under which labels."""

    address: str
    metrics_path: str
    labels: dict[str, str]


def _monitoring_config_file(backend: BackendProcess) -> str | None:
    prefix = f"--{FLAG}="
    for word in backend.argv:
        if word.startswith(prefix):
            return word[len(prefix) :]
    return None


def backend_metrics_path(
    backend: BackendProcess, read_text: Callable[[Path], str] = Path.read_text
) -> str | None:
    """The path a backend serves TF Serving's metrics on; None without REST or monitoring."""
    config_file = _monitoring_config_file(backend)
    if config_file is None or backend.rest_port is None:
        return None
    endpoint = parse_monitoring_config(read_text(Path(config_file)))
    return None if endpoint is None else endpoint.path


def _split_name(name: str) -> dict[str, str]:
    """`deployment/predictor/rest` (a component key or a backend name) -> its two labels."""
    deployment, predictor, _ = name.split("/", 2)
    return {"deployment_name": deployment, "predictor_name": predictor}


def scrape_targets(
    plan: RunPlan,
    gateway: ServerAddress,
    read_text: Callable[[Path], str] = Path.read_text,
) -> dict[str, list[Target]]:
    """Every process of the plan worth scraping, by job."""
    components = [
        Target(
            f"{c.endpoint.host}:{c.metrics_port}",
            SELDON_METRICS_PATH,
            {**_split_name(c.key), "node": c.key.split("/", 2)[2]},
        )
        for c in plan.components
    ]
    backends = []
    for backend in plan.backends:
        path = backend_metrics_path(backend, read_text)
        if path is not None:
            backends.append(
                Target(
                    f"{backend.host}:{backend.rest_port}",
                    path,
                    {**_split_name(backend.name), "container": backend.name.split("/", 2)[2]},
                )
            )
    return {
        GATEWAY_JOB: [Target(f"{gateway.host}:{gateway.http_port}", SELDON_METRICS_PATH, {})],
        COMPONENTS_JOB: components,
        BACKENDS_JOB: backends,
    }


def _job(name: str, targets: Sequence[Target]) -> dict[str, Any]:
    """A job; each target's path goes in `__metrics_path__`, so one job holds many paths."""
    return {
        "job_name": name,
        "honor_labels": True,
        "metrics_path": targets[0].metrics_path if targets else SELDON_METRICS_PATH,
        "static_configs": [
            {"targets": [t.address], "labels": {**t.labels, "__metrics_path__": t.metrics_path}}
            for t in targets
        ],
    }


def prometheus_config(
    targets: dict[str, list[Target]],
    interval: str = DEFAULT_SCRAPE_INTERVAL,
    rule_files: Sequence[Path] = (),
) -> dict[str, Any]:
    """prometheus.yml as a document: every job with targets, rules evaluated as often as the
    targets are scraped."""
    document: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [_job(name, found) for name, found in targets.items() if found],
    }
    if rule_files:
        document["rule_files"] = [str(Path(f).resolve()) for f in rule_files]
    return document


def write_prometheus_config(
    path: Path,
    plan: RunPlan,
    gateway: ServerAddress,
    *,
    interval: str = DEFAULT_SCRAPE_INTERVAL,
    rule_files: Sequence[Path] = (),
) -> None:
    """Write the prometheus.yml for a started plan (its ConfigMap files are on disk by then)."""
    document = prometheus_config(scrape_targets(plan, gateway), interval, rule_files)
    header = (
        "# Written by `seldon-tfserving up`: every process it started, scraped.\n"
        f"# Run: prometheus --config.file={shlex.quote(str(path))}\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))
