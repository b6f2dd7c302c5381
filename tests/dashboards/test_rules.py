"""The alerting rules as Prometheus's own tool reads them: they load, and each alert fires on
the series that should raise it and stays quiet otherwise (dashboards/*.rules.test.yml)."""

from __future__ import annotations

from tests.dashboards.prometheus_server import promtool
from tests.servers import PROJECT_ROOT

DASHBOARDS = PROJECT_ROOT / "dashboards"
RULES = DASHBOARDS / "seldon-tfserving.rules.yml"
RULES_TEST = DASHBOARDS / "seldon-tfserving.rules.test.yml"


def test_promtool_checks_the_rules() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 13 rules found" in checked.stdout


def test_promtool_runs_the_alert_tests() -> None:
    tested = promtool("test", "rules", RULES_TEST.name, cwd=DASHBOARDS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
