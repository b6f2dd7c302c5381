"""The committed Grafana dashboard and what its panels ask: each query and the labels its
legend names (the labels the panel expects every series to carry)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tests.servers import PROJECT_ROOT

DASHBOARDS = PROJECT_ROOT / "dashboards"
DASHBOARD = DASHBOARDS / "seldon-tfserving.json"
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    expr: str
    labels: frozenset[str]


def load_dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def builder() -> ModuleType:
    """dashboards/build_dashboard.py, imported from its file."""
    path = DASHBOARDS / "build_dashboard.py"
    spec = importlib.util.spec_from_file_location("build_dashboard", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def panel_queries(document: dict[str, Any]) -> list[PanelQuery]:
    return [
        PanelQuery(
            panel["title"],
            target["expr"],
            frozenset(_LEGEND_LABEL.findall(target["legendFormat"])),
        )
        for panel in document["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def with_variables(expr: str, values: dict[str, str]) -> str:
    """A panel's query as Grafana sends it, its variables filled in."""
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(f"${name}", values[name])
    assert "$" not in expr, expr
    return expr
