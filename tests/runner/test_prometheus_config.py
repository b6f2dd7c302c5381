"""`up --prometheus-config`: the prometheus.yml written for a plan names every process `up`
starts (pure: a plan with made-up ports), and Debian's promtool accepts it."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.runner import command
from seldon_tfserving.runner.plan import Programs, RunPlan, plan_run
from seldon_tfserving.runner.prometheus_config import (
    BACKENDS_JOB,
    COMPONENTS_JOB,
    GATEWAY_JOB,
    prometheus_config,
    scrape_interval,
    scrape_targets,
    write_prometheus_config,
)
from tests.dashboards.prometheus_server import promtool
from tests.servers import PROJECT_ROOT

OBSERVED = Path(__file__).parent / "graphs" / "observed.yaml"
AB_LOCAL = Path(__file__).parent / "graphs" / "ab-local.yaml"
RULES = PROJECT_ROOT / "dashboards" / "seldon-tfserving.rules.yml"
GATEWAY = ServerAddress("127.0.0.1", 18003, 15001)


def planned(graph: Path, tmp_path: Path) -> RunPlan:
    ports = itertools.count(21000)
    plan = plan_run(
        [d for d in yaml.safe_load_all(graph.read_text()) if d],
        volumes={"models": tmp_path / "models"},
        scratch_dir=tmp_path / "scratch",
        allocate_port=lambda: next(ports),
        programs=Programs(("model-server",), ("seldon-core-microservice",)),
    )
    for path, text in plan.files.items():  # what the runner writes before anything starts
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return plan


def static_configs(document: dict[str, Any], job: str) -> list[dict[str, Any]]:
    found = [j for j in document["scrape_configs"] if j["job_name"] == job]
    return found[0]["static_configs"] if found else []


def test_every_process_up_starts_is_a_target(tmp_path: Path) -> None:
    plan = planned(OBSERVED, tmp_path)
    document = prometheus_config(scrape_targets(plan, GATEWAY), "2s")
    assert document["global"] == {"scrape_interval": "2s", "evaluation_interval": "2s"}
    assert static_configs(document, GATEWAY_JOB) == [
        {"targets": ["127.0.0.1:18003"], "labels": {"__metrics_path__": "/prometheus"}}
    ]
    components = static_configs(document, COMPONENTS_JOB)
    assert sorted(c["labels"]["node"] for c in components) == [
        "ab-router",
        "arm-1",
        "arm-2",
        "bandit",
        "model-stable",
    ]
    metrics_ports = {f"127.0.0.1:{c.metrics_port}" for c in plan.components}
    assert {c["targets"][0] for c in components} == metrics_ports
    assert all(
        c["labels"]["deployment_name"] == "observed"
        and c["labels"]["predictor_name"] == "default"
        and c["labels"]["__metrics_path__"] == "/prometheus"
        for c in components
    )
    (backend,) = plan.backends
    assert static_configs(document, BACKENDS_JOB) == [
        {
            "targets": [f"127.0.0.1:{backend.rest_port}"],
            "labels": {
                "deployment_name": "observed",
                "predictor_name": "default",
                "container": "tfserving",
                "__metrics_path__": "/monitoring/prometheus/metrics",
            },
        }
    ]
    assert all(job["honor_labels"] for job in document["scrape_configs"])


def test_a_backend_without_a_metrics_page_is_not_scraped(tmp_path: Path) -> None:
    document = prometheus_config(scrape_targets(planned(AB_LOCAL, tmp_path), GATEWAY))
    assert document["global"]["scrape_interval"] == "15s"
    assert BACKENDS_JOB not in [job["job_name"] for job in document["scrape_configs"]]
    assert len(static_configs(document, COMPONENTS_JOB)) == 3


def test_the_interval_is_a_prometheus_duration() -> None:
    assert scrape_interval("500ms") == "500ms"
    assert scrape_interval("1m30s") == "1m30s"
    for bad in ("15", "0s", "fast", "-1s", ""):
        with pytest.raises(ValueError, match="Prometheus duration"):
            scrape_interval(bad)


def test_up_takes_the_options() -> None:
    parser = argparse.ArgumentParser()
    command.configure(parser)
    args = parser.parse_args(
        [
            "g.yaml",
            "--prometheus-config=p.yml",
            "--prometheus-scrape-interval=1s",
            f"--prometheus-rules={RULES}",
        ]
    )
    assert args.prometheus_config == Path("p.yml")
    assert args.prometheus_scrape_interval == "1s"
    assert args.prometheus_rules == [RULES]
    assert parser.parse_args(["g.yaml"]).prometheus_scrape_interval == "15s"
    with pytest.raises(SystemExit):
        parser.parse_args(["g.yaml", "--prometheus-scrape-interval=often"])


def test_promtool_accepts_the_written_file(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    write_prometheus_config(
        config, planned(OBSERVED, tmp_path), GATEWAY, interval="1s", rule_files=[RULES]
    )
    assert config.read_text().startswith("# Written by `seldon-tfserving up`")
    checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
