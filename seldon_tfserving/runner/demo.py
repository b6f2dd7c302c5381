"""`seldon-tfserving demo` (`make demo`): the A/B journey end to end on this machine.

Train two versions of a classifier, serve them with graphs/ab-versions.yaml exactly as written
(TF Serving labels `stable` and `canary` behind an A/B router), send traffic and feedback
through Seldon's own client, read the split, accuracy and latency back, then promote version 2
by moving the `stable` label and watch the traffic follow. Ends by itself with all stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

from seldon_tfserving.deploy.model import SeldonDeployment, load_deployments, load_documents
from seldon_tfserving.deploy.tfserving_container import (
    config_maps,
    mount_holding,
    read_tfserving_container,
    served_models,
    tfserving_containers,
)
from seldon_tfserving.microservice.metrics_buffer import FLUSH_INTERVAL_S
from seldon_tfserving.runner.demo_models import RECIPES, Dataset, accuracy, make_dataset
from seldon_tfserving.runner.demo_report import format_table, histogram_quantiles, samples_by_label
from seldon_tfserving.runner.demo_traffic import Probe, Traffic
from seldon_tfserving.runner.errors import PlanError, StartupError
from seldon_tfserving.runner.local import LocalRunner
from seldon_tfserving.runner.progress import ProgressBoard
from seldon_tfserving.runner.quiet_tf import import_tensorflow_quietly

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_GRAPH = Path("graphs") / "ab-versions.yaml"


@dataclass(frozen=True)
class ModelLayout:
    """Where the graph's TF Serving expects the model: which volume, and the folder inside it."""

    model_name: str
    volume: str
    folder_in_volume: str


def model_layout(documents: Sequence[Mapping[str, Any]]) -> ModelLayout:
    """Read the model name and base path from the graph's model config and find the volume
    that holds it, so the demo exports where the unchanged YAML looks."""
    known = config_maps(documents)
    for deployment in (d for d in documents if d.get("kind") == "SeldonDeployment"):
        for p, predictor in enumerate(deployment["spec"]["predictors"]):
            for s, spec in enumerate(predictor.get("componentSpecs") or ()):
                pod_path = f"spec.predictors[{p}].componentSpecs[{s}].spec"
                pod_volumes = {str(v.get("name")): v for v in spec["spec"].get("volumes") or ()}
                for path, container in tfserving_containers(spec["spec"], pod_path, ()):
                    server, _ = read_tfserving_container(container, path)
                    if server is None or server.model_config_file is None:
                        continue
                    models, _ = served_models(server, pod_volumes, known)
                    if not models:
                        continue
                    model = next(iter(models.values()))
                    located = mount_holding(server.mounts, model.base_path)
                    if located is None:
                        raise PlanError(f"no TF Serving volume mount holds {model.base_path}")
                    return ModelLayout(model.name, str(located[0]["name"]), located[1])
    raise PlanError("the demo graph needs a ConfigMap with a TF Serving model config")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graph", type=Path, default=DEFAULT_GRAPH, help="the A/B graph")
    parser.add_argument("--output", type=Path, default=Path("demo-output"), help="results")
    parser.add_argument("--requests", type=int, default=200, help="requests before promotion")
    parser.add_argument("--after", type=int, default=100, help="requests after promotion")
    parser.add_argument(
        "--shifted", type=int, default=150, help="requests of the shifted stream `skew` sees"
    )
    parser.add_argument("--ready-timeout", type=float, default=180.0)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import_tensorflow_quietly()
    graph = args.graph if args.graph.exists() else PROJECT_ROOT / args.graph
    try:
        journey = Journey(
            graph, args.output, args.requests, args.after, args.ready_timeout, args.shifted
        )
        summary = journey.run()
    except (PlanError, StartupError) as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted; everything is stopped.")
        return 130
    path = args.output / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\nSummary written to {path}. Everything is stopped.")
    return 0


class Journey:
    """The demo's steps, in order; each prints what it does and what it saw."""

    def __init__(
        self,
        graph: Path,
        output: Path,
        requests: int,
        after: int,
        ready_timeout: float,
        shifted: int = 150,
    ) -> None:
        self.graph = graph
        self.output = output
        self.requests = requests
        self.after = after
        self.ready_timeout = ready_timeout
        documents = load_documents(graph)
        self.layout = model_layout(documents)
        self.deployment: SeldonDeployment = load_deployments(graph)[0]
        self.rng = np.random.default_rng(11)
        #: requests of the shifted stream in the request-log step
        self.shifted = shifted

    def run(self) -> dict[str, Any]:
        models_root = self.output / "models"
        shutil.rmtree(models_root, ignore_errors=True)
        data, offline = self.train(models_root / self.layout.folder_in_volume)
        section(f"2. Start {self.graph.name} on this machine (the YAML as written)")
        runner = LocalRunner(
            self.graph,
            volumes={self.layout.volume: models_root},
            log_dir=self.output / "logs",
            ready_timeout=self.ready_timeout,
            progress=ProgressBoard(sys.stdout),
            log_sink=self.output / "request-logs",
        )
        with runner:
            print(f"  gateway: {runner.http_url} (REST), {runner.grpc_target} (gRPC)")
            traffic = Traffic(runner, self.deployment, data, offline)
            section(f"3. {self.requests} requests via SeldonClient(gateway='istio'), with feedback")
            before = traffic.send(self.pick(data, self.requests), feedback=True)
            print(format_table("  by A/B arm:", before["by_arm"]))
            print(format_table("  by model version:", before["by_version"]))
            metrics = self.metrics(runner)
            print_metrics(metrics)
            section("4. Promote version 2: move the `stable` label from 1 to 2")
            promotion = self.promote(runner)
            section(f"5. {self.after} more requests: the stable arm now answers with version 2")
            after = traffic.send(self.pick(data, self.after), feedback=True)
            print(format_table("  by A/B arm:", after["by_arm"]))
            print(format_table("  by model version:", after["by_version"]))
            section("6. Request logs: what the sink kept, and a shifted stream `skew` catches")
            from seldon_tfserving.runner.demo_skew import skew_step

            sent = before["requests"] + after["requests"]
            skew = skew_step(
                traffic.client, data, self.output / "request-logs", self.output, sent, self.shifted
            )
            section("7. Stop everything")
        return {
            "graph": str(self.graph),
            "model": asdict(self.layout),
            "offline_test_accuracy": {
                str(r.version): accuracy(offline[r.version], data.test_y) for r in RECIPES
            },
            "before_promotion": before,
            "metrics_before_promotion": metrics,
            "promotion": promotion,
            "after_promotion": after,
            "request_logs": skew,
        }

    def train(self, model_dir: Path) -> tuple[Dataset, dict[int, np.ndarray[Any, Any]]]:
        from seldon_tfserving.runner.demo_models import train_and_export

        section("1. Train two versions of a small classifier (3 classes, 4 features)")
        data = make_dataset()
        print(
            f"  exported as model {self.layout.model_name!r}, the name {self.graph.name} serves "
            f"from volume {self.layout.volume!r}"
        )
        offline = {}
        for recipe in RECIPES:
            offline[recipe.version] = train_and_export(recipe, data, model_dir)
            seen = sum(1 for m in recipe.feature_mask if m)
            print(
                f"  version {recipe.version}: {seen} feature(s), {recipe.steps} steps -> test "
                f"accuracy {accuracy(offline[recipe.version], data.test_y):.1%}  "
                f"({model_dir / str(recipe.version)})"
            )
        return data, offline

    def pick(self, data: Dataset, count: int) -> list[int]:
        return [int(i) for i in self.rng.integers(0, len(data.test_y), size=count)]

    def metrics(self, runner: LocalRunner) -> dict[str, Any]:
        """What the gateway's and the router's Prometheus endpoints say."""
        # Components record Seldon's metrics off the request path: let the last batch land.
        time.sleep(2 * FLUSH_INTERVAL_S)
        gateway_text = requests.get(f"{runner.http_url}/prometheus", timeout=10).text
        result: dict[str, Any] = {
            "gateway_client_latency_ms": histogram_quantiles(
                gateway_text, "seldon_api_executor_client_requests_seconds", "model_name"
            ),
            "gateway_routing": samples_by_label(
                gateway_text, "seldon_api_executor_routing_total", "route"
            ),
        }
        routers = [c for c in (runner.plan.components if runner.plan else ()) if "ROUTER" in c.argv]
        for component in routers[:1]:
            text = requests.get(
                f"http://{component.endpoint.host}:{component.metrics_port}"
                f"{component.env['PREDICTIVE_UNIT_METRICS_ENDPOINT']}",
                timeout=10,
            ).text
            result["router_mean_reward"] = samples_by_label(
                text, "seldon_tfserving_router_mean_reward", "branch"
            )
            result["router_feedback"] = samples_by_label(
                text, "seldon_tfserving_router_feedback_total", "branch"
            )
        return result

    def promote(self, runner: LocalRunner) -> dict[str, Any]:
        plan = runner.plan
        assert plan is not None and plan.backends
        backend = plan.backends[0]
        config = backend.model_config_file
        assert config is not None
        text = config.read_text()
        moved = re.sub(r'(key\s*:\s*"stable"\s*value\s*:\s*)\d+', r"\g<1>2", text)
        config.write_text(moved)
        print(f"  model config: {config}")
        print('    version_labels { key: "stable" value: 1 }  ->  value: 2')
        print("  In a cluster this is a ConfigMap edit that TF Serving picks up (a reload or a")
        print("  rollout). Here: TF Serving's HandleReloadConfigRequest, or, if the server lacks")
        print("  it, a restart of the TF Serving child while the gateway and components stay up.")
        probe = Probe(runner, self.deployment)
        probe.start()
        how, took_s = runner.apply_model_config(backend.name)
        recovered_s = probe.wait_for_success(timeout_s=60.0)
        probe.stop()
        applied = "reloaded it in place" if how == "reloaded" else "was restarted to apply it"
        print(
            f"  TF Serving {applied} ({took_s:.1f} s); the graph answered again "
            f"{recovered_s:.1f} s after the change began"
        )
        print(f"  requests sent during the switch: {probe.describe()}")
        return {
            "applied_by": how,
            "seconds": took_s,
            "graph_recovered_s": recovered_s,
            "during_switch": probe.counts(),
        }


def print_metrics(metrics: Mapping[str, Any]) -> None:
    print("  from the gateway's /prometheus (executor metrics):")
    for node, quantiles in sorted(metrics.get("gateway_client_latency_ms", {}).items()):
        figures = "  ".join(f"{k} {v:.1f} ms" for k, v in quantiles.items())
        print(f"    {node:<14} {figures}")
    if metrics.get("gateway_routing"):
        print(f"    routes taken: {metrics['gateway_routing']}")
    if "router_mean_reward" in metrics:
        print("  from the router's metrics (mean reward = accuracy of each arm, from feedback):")
        for branch, reward in sorted(metrics["router_mean_reward"].items()):
            count = metrics.get("router_feedback", {}).get(branch, 0)
            print(f"    branch {branch}: mean reward {reward:.3f} over {count:.0f} feedbacks")


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)
