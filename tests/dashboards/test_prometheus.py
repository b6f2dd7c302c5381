"""Every panel and every rule has data behind it: a real Prometheus (Debian's) scrapes what `up`
started for an A/B split whose second arm is a bandit (tests/runner/graphs/observed.yaml), with
the config `up --prometheus-config` writes, while the test sends predictions, a few bad
requests and feedback through the gateway. Then every dashboard query and every rule is asked
of Prometheus's HTTP API, and the split and rewards it reads are the ones the test sent.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from seldon_tfserving.runner.local import LocalRunner
from seldon_tfserving.runner.prometheus_config import scrape_targets, write_prometheus_config
from tests.dashboards.dashboard_file import load_dashboard, panel_queries, with_variables
from tests.dashboards.prometheus_server import Prometheus, promtool, running_prometheus
from tests.servers import PROJECT_ROOT, TFSERVING_TESTDATA
from tests.waiting import eventually

OBSERVED = PROJECT_ROOT / "tests" / "runner" / "graphs" / "observed.yaml"
RULES = PROJECT_ROOT / "dashboards" / "seldon-tfserving.rules.yml"
DEPLOYMENT, PREDICTOR = "observed", "default"
SCRAPE_INTERVAL_S = 1.0
WARM_UP_PREDICTIONS = 6
#: enough warm-up rounds that both routers are reached (each round reaches the bandit at 1/2)
MAX_WARM_UPS = 5
PREDICTIONS = 18
BAD_REQUESTS = 3
#: the reward each leaf earns: the bandit's second arm is the one to learn
REWARD_OF = {"model-stable": 0.5, "arm-1": 0.0, "arm-2": 1.0}
SETTLE_TIMEOUT_S = 60.0
VARIABLES = {"deployment": DEPLOYMENT, "predictor": PREDICTOR, "__rate_interval": "1m"}

pytestmark = pytest.mark.timeout(600)


@dataclass
class SentTraffic:
    """What the test sent, counted as each router should count it."""

    routes: Counter[tuple[str, str]]
    rewards: dict[tuple[str, str], list[float]]
    good: int
    bad: int


@dataclass
class Observed:
    runner: LocalRunner
    prometheus: Prometheus
    sent: SentTraffic


def models_volume(root: Path) -> Path:
    """half_plus_two: version 1 is TF Serving's half_plus_two, version 2 its half_plus_three."""
    model = root / "half_plus_two"
    model.mkdir(parents=True)
    (model / "1").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu" / "00000123")
    (model / "2").symlink_to(TFSERVING_TESTDATA / "saved_model_half_plus_three" / "00000123")
    return root


def send_traffic(base_url: str, predictions: int, sent: SentTraffic) -> None:
    """Predictions with feedback after each (the leaf's reward), then a few malformed calls."""
    api = f"{base_url}/seldon/default/{DEPLOYMENT}/api/v1.0"
    with requests.Session() as session:
        for index in range(predictions):
            request = {"data": {"ndarray": [[float(index)]]}}
            answer = session.post(f"{api}/predictions", json=request, timeout=30)
            assert answer.status_code == 200, answer.text
            response = answer.json()
            routing = response["meta"]["routing"]
            leaf = next(node for node, branch in routing.items() if branch == -1)
            for router in ("ab-router", "bandit"):
                if router in routing:
                    key = (router, str(routing[router]))
                    sent.routes[key] += 1
                    sent.rewards.setdefault(key, []).append(REWARD_OF[leaf])
            feedback = {"request": request, "response": response, "reward": REWARD_OF[leaf]}
            answered = session.post(f"{api}/feedback", json=feedback, timeout=30)
            assert answered.status_code == 200, answered.text
            sent.good += 1
        for _ in range(BAD_REQUESTS):
            refused = session.post(
                f"{api}/predictions",
                data=b"{not json",
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            assert refused.status_code == 400
            sent.bad += 1


def by_labels(result: list[dict[str, Any]], *names: str) -> dict[tuple[str, ...], float]:
    return {tuple(s["metric"].get(n, "") for n in names): float(s["value"][1]) for s in result}


def wait_until_scraped(prometheus: Prometheus, sent: SentTraffic) -> None:
    """Until Prometheus holds the last of the traffic, then two scrapes more."""
    routes = f'seldon_tfserving_router_route_total{{deployment_name="{DEPLOYMENT}"}}'
    feedback = f'seldon_tfserving_router_feedback_total{{deployment_name="{DEPLOYMENT}"}}'
    served = f'seldon_api_executor_server_requests_seconds_count{{deployment_name="{DEPLOYMENT}"}}'
    expected_routes = {k: float(v) for k, v in sent.routes.items()}
    # the gateway answered each prediction, each feedback and each bad request
    expected = (expected_routes, expected_routes, float(2 * sent.good + sent.bad))

    def seen() -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float], float]:
        return (
            by_labels(
                prometheus.query(f"sum by (model_name, branch) ({routes})"), "model_name", "branch"
            ),
            by_labels(
                prometheus.query(f"sum by (model_name, branch) ({feedback})"),
                "model_name",
                "branch",
            ),
            by_labels(prometheus.query(f"sum({served})")).get((), 0.0),
        )

    def targets() -> list[tuple[Any, ...]]:
        return [
            (t["scrapeUrl"], t["health"], t["lastError"], t["lastScrapeDuration"])
            for t in prometheus.get("/api/v1/targets")["activeTargets"]
        ]

    eventually(
        lambda: seen() == expected,
        SETTLE_TIMEOUT_S,
        interval_s=SCRAPE_INTERVAL_S / 2,
        awaited="Prometheus seeing the traffic",
        detail=lambda: f"Prometheus never saw the traffic: {seen()} {targets()}",
    )
    time.sleep(2.5 * SCRAPE_INTERVAL_S)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    root = tmp_path_factory.mktemp("observed")
    with LocalRunner(
        OBSERVED,
        volumes={"models": models_volume(root / "models")},
        log_dir=root / "logs",
        ready_timeout=240,
    ) as runner:
        assert runner.plan is not None
        config = root / "prometheus.yml"
        write_prometheus_config(
            config,
            runner.plan,
            runner.address,
            interval=f"{SCRAPE_INTERVAL_S:g}s",
            rule_files=[RULES],
        )
        checked = promtool("check", "config", str(config))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        with running_prometheus(config, root / "tsdb", root / "prometheus.log") as prometheus:
            sent = SentTraffic(Counter(), {}, 0, 0)
            # a first round makes every router's series known to Prometheus, so that rates
            # over the second round count all of it (a series' first sample is no increase)
            for _ in range(MAX_WARM_UPS):
                send_traffic(runner.http_url, WARM_UP_PREDICTIONS, sent)
                if {router for router, _ in sent.routes} == {"ab-router", "bandit"}:
                    break
            wait_until_scraped(prometheus, sent)
            send_traffic(runner.http_url, PREDICTIONS, sent)
            wait_until_scraped(prometheus, sent)
            yield Observed(runner, prometheus, sent)


def test_prometheus_scrapes_every_process_up_started(observed: Observed) -> None:
    targets = observed.prometheus.get("/api/v1/targets")["activeTargets"]
    assert all(t["health"] == "up" for t in targets), [
        (t["scrapeUrl"], t["lastError"]) for t in targets
    ]
    assert observed.runner.plan is not None
    planned = scrape_targets(observed.runner.plan, observed.runner.address)
    expected = {(job, t.address) for job, found in planned.items() for t in found}
    assert {(t["labels"]["job"], t["labels"]["instance"]) for t in targets} == expected
    assert len(expected) == 1 + 5 + 1  # the gateway, five components, one TF Serving


def test_every_dashboard_query_has_data_with_its_legends_labels(observed: Observed) -> None:
    for query in panel_queries(load_dashboard()):
        result = observed.prometheus.query(with_variables(query.expr, VARIABLES))
        assert result, f"{query.panel}: no data for {query.expr}"
        for series in result:
            missing = query.labels - set(series["metric"])
            assert not missing, f"{query.panel}: series {series['metric']} lacks {missing}"


def rules_file() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_rule_is_evaluated_and_every_alert_reads_recorded_data(observed: Observed) -> None:
    groups = observed.prometheus.get("/api/v1/rules")["groups"]
    evaluated = {r.get("name"): r for g in groups for r in g["rules"]}
    rules = rules_file()
    assert len(evaluated) == len(rules)
    assert all(r["health"] == "ok" for r in evaluated.values()), evaluated
    for rule in rules:
        if "record" in rule:
            assert observed.prometheus.query(rule["record"]), f"{rule['record']} has no data"
            continue
        observed.prometheus.query(rule["expr"])  # answers (no data while healthy)
        wanted = set(re.findall(r"\$labels\.(\w+)", rule["annotations"]["summary"]))
        for recorded in re.findall(r"seldon_tfserving:[a-z0-9_:]+", rule["expr"]):
            result = observed.prometheus.query(recorded)
            assert result, f"{rule['alert']}: {recorded} has no data"
            for series in result:
                assert wanted <= set(series["metric"]), (rule["alert"], series["metric"])


def test_the_split_and_rewards_read_from_prometheus_are_the_ones_sent(observed: Observed) -> None:
    prometheus, sent = observed.prometheus, observed.sent
    selector = f'{{deployment_name="{DEPLOYMENT}"}}'
    routed = prometheus.query(
        f"sum by (model_name, branch) (seldon_tfserving_router_route_total{selector})"
    )
    assert by_labels(routed, "model_name", "branch") == {
        k: float(v) for k, v in sent.routes.items()
    }
    gateway = prometheus.query(
        f"sum by (model_name, route) (seldon_api_executor_routing_total{selector})"
    )
    assert by_labels(gateway, "model_name", "route") == {
        k: float(v) for k, v in sent.routes.items()
    }
    rewards = prometheus.query(
        f"avg by (model_name, branch) (seldon_tfserving_router_mean_reward{selector})"
    )
    expected = {key: sum(values) / len(values) for key, values in sent.rewards.items()}
    assert by_labels(rewards, "model_name", "branch") == pytest.approx(expected)
    split = prometheus.query(
        with_variables(
            next(
                q.expr
                for q in panel_queries(load_dashboard())
                if q.panel == "Traffic split by branch"
            ),
            VARIABLES,
        )
    )
    shares: Counter[str] = Counter()
    for series in split:
        shares[series["metric"]["model_name"]] += float(series["value"][1])
    assert shares == pytest.approx({"ab-router": 1.0, "bandit": 1.0})


def test_tf_servings_page_parses_and_prometheus_holds_the_same_counts(observed: Observed) -> None:
    assert observed.runner.plan is not None
    (backend,) = observed.runner.plan.backends
    page = requests.get(
        f"http://127.0.0.1:{backend.rest_port}/monitoring/prometheus/metrics", timeout=10
    )
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/plain"
    families = {f.name: f for f in text_string_to_metric_families(page.text)}
    latency = families[":tensorflow:serving:request_latency"]
    predictions = {
        (s.labels["API"], s.labels["entrypoint"]): s.value
        for s in latency.samples
        if s.name.endswith("_count")
        and s.labels["model_name"] == "half_plus_two"
        and s.labels["API"]
    }
    # every good prediction reached TF Serving once, through one TfServingModel
    assert sum(predictions.values()) == observed.sent.good
    scraped = observed.prometheus.query(
        'sum(:tensorflow:serving:request_latency_count{model_name="half_plus_two",API!=""})'
    )
    assert by_labels(scraped) == {(): float(observed.sent.good)}
    reads = families[":tensorflow:core:saved_model:read:count"]
    assert sum(s.value for s in reads.samples) >= 2  # both versions were loaded
