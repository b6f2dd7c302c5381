"""The Grafana dashboard file: the builder's output as committed, importable as it is (a
datasource variable, no datasource of anybody's), and every panel a query with a legend."""

from __future__ import annotations

from tests.dashboards.dashboard_file import (
    DASHBOARD,
    builder,
    load_dashboard,
    panel_queries,
    with_variables,
)


def test_the_committed_json_is_the_builders_output() -> None:
    assert DASHBOARD.read_text() == builder().rendered(), "run python dashboards/build_dashboard.py"


def test_it_is_importable_with_any_prometheus() -> None:
    document = load_dashboard()
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("deployment", "predictor"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    panels = [p for p in document["panels"] if p["type"] != "row"]
    assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for p in panels)
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))
    assert document["uid"] == "seldon-tfserving" and "id" not in document


def test_every_panel_has_queries_whose_legend_names_labels() -> None:
    queries = panel_queries(load_dashboard())
    titles = {q.panel for q in queries}
    assert len(titles) == len([p for p in load_dashboard()["panels"] if p["type"] != "row"])
    assert {"Traffic split by branch", "Mean reward by branch", "Latency by graph node"} <= titles
    assert all(q.labels for q in queries if q.panel != "Request logger drops")


def test_variables_are_filled_in_as_grafana_would() -> None:
    expr = 'rate(x{deployment_name=~"$deployment"}[$__rate_interval])'
    filled = with_variables(expr, {"deployment": "observed", "__rate_interval": "1m"})
    assert filled == 'rate(x{deployment_name=~"observed"}[1m])'
