"""Writes seldon-tfserving.json, the Grafana dashboard of a SeldonDeployment of ours.

Run `python dashboards/build_dashboard.py` after editing a panel; tests/dashboards checks the
committed JSON is this script's output, and that a real Prometheus answers every query with
the labels its legend names. Panels read the labels the executor and the operator put on a
cluster (deployment_name, predictor_name, model_name = the graph node), which `up` writes too;
`$deployment` and `$predictor` pick among them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "seldon-tfserving.json"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SELECTED = 'deployment_name=~"$deployment",predictor_name=~"$predictor"'
RATE = "[$__rate_interval]"
SERVER = "seldon_api_executor_server_requests_seconds"
CLIENT = "seldon_api_executor_client_requests_seconds"
PREDICTOR = "deployment_name, predictor_name"
NODE = "deployment_name, predictor_name, model_name"
BRANCH = "deployment_name, predictor_name, model_name, branch"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"


@dataclass
class Row:
    title: str
    panels: list[Panel] = field(default_factory=list)


def quantiles(
    metric: str, by: str, legend: str, scale: str = "", having: str = ""
) -> tuple[Query, ...]:
    """p50, p90 and p99 of a histogram, summed over everything but `by`."""
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate({metric}_bucket{{{SELECTED}{having}}}{RATE}))){scale}",
            f"p{int(q * 100)} {legend}",
        )
        for q in (0.5, 0.9, 0.99)
    )


ROWS = [
    Row(
        "Requests",
        [
            Panel(
                "Requests by predictor",
                "Calls the gateway (the executor) answered, per second.",
                (
                    Query(
                        f"sum by ({PREDICTOR}) (rate({SERVER}_count{{{SELECTED}}}{RATE}))",
                        "{{deployment_name}}/{{predictor_name}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "Errors by predictor and code",
                "Calls the gateway answered with an error (HTTP status or gRPC code).",
                (
                    Query(
                        f"sum by ({PREDICTOR}, code) "
                        f'(rate({SERVER}_count{{{SELECTED},code!~"200|OK"}}{RATE}))',
                        "{{deployment_name}}/{{predictor_name}} {{code}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "Requests by graph node",
                "Calls the executor made to each node's component.",
                (
                    Query(
                        f"sum by ({NODE}) (rate({CLIENT}_count{{{SELECTED}}}{RATE}))",
                        "{{predictor_name}}/{{model_name}}",
                    ),
                ),
                unit="reqps",
            ),
        ],
    ),
    Row(
        "Latency",
        [
            Panel(
                "Predictor latency",
                "The gateway's answer time per predictor.",
                quantiles(SERVER, PREDICTOR, "{{deployment_name}}/{{predictor_name}}"),
                unit="s",
            ),
            Panel(
                "Latency by graph node",
                "The executor's call to each node; an A/B or bandit arm pinned to a version "
                "is that version's latency.",
                quantiles(CLIENT, NODE, "{{predictor_name}}/{{model_name}}"),
                unit="s",
            ),
            Panel(
                "TF Serving call latency by model node",
                "TfServingModel's own timer around its call to TF Serving.",
                quantiles("tfserving_request_duration", NODE, "{{model_name}}"),
                unit="s",
            ),
        ],
    ),
    Row(
        "Experiments",
        [
            Panel(
                "Traffic split by branch",
                "Each router's share of requests per branch (its children in order, from 0).",
                (
                    Query(
                        f"sum by ({BRANCH}) "
                        f"(rate(seldon_tfserving_router_route_total{{{SELECTED}}}{RATE})) "
                        f"/ ignoring(branch) group_left sum by ({NODE}) "
                        f"(rate(seldon_tfserving_router_route_total{{{SELECTED}}}{RATE}))",
                        "{{model_name}} branch {{branch}}",
                    ),
                ),
                unit="percentunit",
            ),
            Panel(
                "Requests routed by branch",
                "Requests each router sent to each branch since it started.",
                (
                    Query(
                        f"sum by ({BRANCH}) (seldon_tfserving_router_route_total{{{SELECTED}}})",
                        "{{model_name}} branch {{branch}}",
                    ),
                ),
                kind="bargauge",
            ),
            Panel(
                "Mean reward by branch",
                "The mean of the rewards each branch got as feedback.",
                (
                    Query(
                        f"avg by ({BRANCH}) (seldon_tfserving_router_mean_reward{{{SELECTED}}})",
                        "{{model_name}} branch {{branch}}",
                    ),
                ),
            ),
            Panel(
                "Feedback by branch",
                "Feedback calls each router learned from, per second.",
                (
                    Query(
                        f"sum by ({BRANCH}) "
                        f"(rate(seldon_tfserving_router_feedback_total{{{SELECTED}}}{RATE}))",
                        "{{model_name}} branch {{branch}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "Gateway routing by branch",
                "Where the gateway sent each router's requests (routers it runs itself too).",
                (
                    Query(
                        f"sum by ({NODE}, route) "
                        f"(rate(seldon_api_executor_routing_total{{{SELECTED}}}{RATE}))",
                        "{{model_name}} route {{route}}",
                    ),
                ),
                unit="reqps",
            ),
        ],
    ),
    Row(
        "TF Serving",
        [
            Panel(
                "TF Serving requests by model and status",
                "TF Serving's own count of calls (its monitoring endpoint).",
                (
                    Query(
                        "sum by (model_name, status) "
                        f"(rate(:tensorflow:serving:request_count{{{SELECTED}}}{RATE}))",
                        "{{model_name}} {{status}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "TF Serving latency by model and API",
                "TF Serving's own latency of successful predict, classify and regress calls "
                "(it records REST status and metadata calls with an empty API: left out).",
                quantiles(
                    ":tensorflow:serving:request_latency",
                    "model_name, API, entrypoint",
                    "{{model_name}} {{API}} {{entrypoint}}",
                    scale=" / 1e6",
                    having=',API!=""',
                ),
                unit="s",
            ),
            Panel(
                "TF Serving session run latency by model and API",
                "The TensorFlow session's run within each call (its wait for a batch included).",
                quantiles(
                    ":tensorflow:serving:runtime_latency",
                    "model_name, API, runtime",
                    "{{model_name}} {{API}} {{runtime}}",
                    scale=" / 1e6",
                ),
                unit="s",
            ),
            Panel(
                "SavedModels loaded",
                "TensorFlow's count of SavedModels read, by the version they were written as.",
                (
                    Query(
                        f"sum by ({PREDICTOR}, write_version) "
                        f"(:tensorflow:core:saved_model:read:count{{{SELECTED}}})",
                        "{{predictor_name}} SavedModel v{{write_version}}",
                    ),
                ),
            ),
        ],
    ),
    Row(
        "Health",
        [
            Panel(
                "Processes up",
                "1 when the last scrape of a process answered: 0 is a replica not ready.",
                (
                    Query(
                        f"min by ({PREDICTOR}, job) (up{{{SELECTED}}})",
                        "{{job}} {{deployment_name}}/{{predictor_name}}",
                    ),
                ),
            ),
            Panel(
                "Request logger drops",
                "CloudEvents the gateway's request logger dropped (its queue was full).",
                (
                    Query(
                        f"sum(rate(seldon_api_executor_request_logger_dropped_total{RATE}))",
                        "dropped",
                    ),
                ),
                unit="reqps",
            ),
        ],
    ),
]


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": name},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [
            {
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
                "refId": chr(ord("A") + index),
            }
            for index, query in enumerate(panel.queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row in ROWS:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        for index, panel in enumerate(row.panels):
            panels.append(panel_json(panel, len(panels) + 1, (index % 3) * 8, y + (index // 3) * 8))
        y += ((len(row.panels) + 2) // 3) * 8
    selector = f"{SERVER}_count"
    return {
        "uid": "seldon-tfserving",
        "title": "Seldon TF Serving",
        "description": "A SeldonDeployment of seldon-tfserving: traffic, latency, experiments, "
        "TF Serving's own metrics and health, on a cluster or under `seldon-tfserving up`.",
        "tags": ["seldon", "tensorflow-serving"],
        "timezone": "browser",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                },
                variable(
                    "deployment",
                    "Deployment",
                    f"label_values({selector}, deployment_name)",
                ),
                variable(
                    "predictor",
                    "Predictor",
                    f'label_values({selector}{{deployment_name=~"$deployment"}}, predictor_name)',
                ),
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def rendered() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(rendered())
    print(f"wrote {OUTPUT}")
