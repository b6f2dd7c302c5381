"""`seldon-tfserving up ... --prometheus-config FILE` as a user runs it: once everything is up the
file is written, every target in it answers at its path, and promtool accepts it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboards.prometheus_server import promtool
from tests.process_kill import kill_with_its_tree
from tests.runner.test_up_command import up, wait_until_printed
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA, free_port

SINGLE_CPU = PROJECT_ROOT / "graphs" / "single-cpu.yaml"
RULES = PROJECT_ROOT / "dashboards" / "seldon-tfserving.rules.yml"
BASE_PATH_ARG = "- --model_base_path=/models/half_plus_two"

pytestmark = pytest.mark.timeout(400)


def monitored_single_cpu(tmp_path: Path) -> tuple[Path, Path]:
    """graphs/single-cpu.yaml with its TF Serving serving a metrics page (the config file in
    the models volume), and that volume."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "half_plus_two").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu")
    (models / "monitoring.config").write_text("prometheus_config { enable: true }\n")
    text = SINGLE_CPU.read_text()
    assert BASE_PATH_ARG in text
    indent = text.split(BASE_PATH_ARG)[0].rsplit("\n", 1)[1]
    graph = tmp_path / "single-cpu-monitored.yaml"
    graph.write_text(
        text.replace(
            BASE_PATH_ARG,
            f"{BASE_PATH_ARG}\n{indent}- --monitoring_config_file=/models/monitoring.config",
        )
    )
    return graph, models


def test_up_writes_a_config_whose_every_target_answers(tmp_path: Path) -> None:
    graph, models = monitored_single_cpu(tmp_path)
    config = tmp_path / "prometheus.yml"
    output = tmp_path / "up.out"
    http_port = free_port()
    process = up(
        [
            str(graph),
            f"--volume=models={models}",
            f"--http-port={http_port}",
            f"--grpc-port={free_port()}",
            f"--log-dir={tmp_path / 'logs'}",
            f"--prometheus-config={config}",
            "--prometheus-scrape-interval=2s",
            f"--prometheus-rules={RULES}",
        ],
        output,
    )
    try:
        wait_until_printed(process, output, "Prometheus config:", 300)
        document = yaml.safe_load(config.read_text())
        assert document["global"]["scrape_interval"] == "2s"
        assert document["rule_files"] == [str(RULES)]
        jobs = {job["job_name"]: job["static_configs"] for job in document["scrape_configs"]}
        assert sorted(jobs) == ["seldon-components", "seldon-gateway", "tfserving"]
        assert jobs["seldon-gateway"][0]["targets"] == [f"127.0.0.1:{http_port}"]
        assert [c["labels"]["node"] for c in jobs["seldon-components"]] == ["classifier"]
        pages = {}
        for name, static_configs in jobs.items():
            for static in static_configs:
                url = f"http://{static['targets'][0]}{static['labels']['__metrics_path__']}"
                answer = requests.get(url, timeout=10)
                assert answer.status_code == 200, (name, url)
                pages[name] = answer.text
        tfserving = {f.name for f in text_string_to_metric_families(pages["tfserving"])}
        assert ":tensorflow:serving:request_count" in tfserving
        checked = promtool("check", "config", str(config))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        kill_with_its_tree(process)
