"""graphs/request-logs/log-sink.yaml is what graphs/autoscaled-logged.yaml's logger posts to,
and its container runs `log-sink` with flags the command takes."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

import yaml

from seldon_tfserving.logs import sink_command
from tests.servers import PROJECT_ROOT

GRAPHS = PROJECT_ROOT / "graphs"


def documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((GRAPHS / name).read_text()) if d]


def test_the_logged_graph_posts_to_the_sinks_service() -> None:
    sink = {d["kind"]: d for d in documents("request-logs/log-sink.yaml")}
    assert set(sink) == {"PersistentVolumeClaim", "Deployment", "Service"}
    service, deployment = sink["Service"], sink["Deployment"]
    (graph,) = [d for d in documents("autoscaled-logged.yaml") if d["kind"] == "SeldonDeployment"]
    url = urlsplit(graph["spec"]["predictors"][0]["graph"]["logger"]["url"])
    name, namespace, *_ = url.hostname.split(".")
    assert (name, namespace) == (service["metadata"]["name"], service["metadata"]["namespace"])
    assert url.port == service["spec"]["ports"][0]["port"]
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["seldon-tfserving", "log-sink"]
    parser = argparse.ArgumentParser()
    sink_command.configure(parser)
    args = parser.parse_args(container["args"])
    assert args.port == container["ports"][0]["containerPort"] == 8080
    mount = container["volumeMounts"][0]["mountPath"]
    assert str(args.dir) == mount
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
