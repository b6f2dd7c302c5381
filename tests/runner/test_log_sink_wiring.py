"""`up --log-sink`: every node of every predictor logs to the local sink, its own mode kept."""

from __future__ import annotations

import argparse

from seldon_tfserving.deploy.model import load_documents, parse_deployment
from seldon_tfserving.runner import command
from seldon_tfserving.runner.log_sink import logged_deployments, sink_argv, sink_url
from tests.servers import PROJECT_ROOT

GRAPHS = PROJECT_ROOT / "graphs"


def deployments(name: str) -> tuple:
    docs = load_documents(GRAPHS / name)
    return tuple(parse_deployment(d) for d in docs if d.get("kind") == "SeldonDeployment")


def test_every_node_logs_to_the_sink_and_keeps_its_mode() -> None:
    url = sink_url("127.0.0.1", 8123)
    (ab,) = logged_deployments(deployments("ab-versions.yaml"), url)
    nodes = [node for predictor in ab.predictors for node in predictor.graph.walk()]
    assert [n.name for n in nodes] == ["ab-router", "model-stable", "model-canary"]
    assert all(n.logger is not None and n.logger.url == url for n in nodes)
    assert {n.logger.mode for n in nodes if n.logger} == {"all"}
    (logged,) = deployments("autoscaled-logged.yaml")
    (relogged,) = logged_deployments((logged,), url)
    before, after = logged.predictors[0].graph, relogged.predictors[0].graph
    assert before.logger is not None and after.logger is not None
    assert after.logger.mode == before.logger.mode and after.logger.url == url


def test_up_takes_a_log_sink_folder_and_the_sink_runs_the_real_command(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    command.configure(parser)
    args = parser.parse_args([str(GRAPHS / "ab-versions.yaml"), "--log-sink", str(tmp_path)])
    assert args.log_sink == tmp_path
    argv = sink_argv(tmp_path, "127.0.0.1", 8123)
    assert argv[1:4] == ["-m", "seldon_tfserving.cli", "log-sink"]
    assert argv[argv.index("--dir") + 1] == str(tmp_path)
    assert argv[argv.index("--port") + 1] == "8123"
