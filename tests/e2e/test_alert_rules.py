"""The Prometheus alert rules and the Grafana dashboard's queries, checked by promtool (Debian's prometheus
package; ``scripts/test`` installs it and also runs ``promtool test rules`` itself).

Beyond the unit tests passing, each alert is shown to be tested: a copy of the rules in which that alert can
never fire must fail its tests.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "fedcore-alerts.yml"
TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
DASHBOARD = ROOT / "deploy" / "grafana" / "fedcore-dashboard.json"
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (scripts/test installs it)")


def promtool(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


def alert_names() -> list[str]:
    return [r["alert"] for r in yaml.safe_load(RULES.read_text())["groups"][0]["rules"]]


@needs_promtool
def test_the_rules_are_valid_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", *TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    example = promtool("check", "config", PROMETHEUS / "example" / "prometheus.yml")
    assert example.returncode == 0, example.stdout + example.stderr


@needs_promtool
@pytest.mark.parametrize("alert", alert_names())
def test_an_alert_that_could_never_fire_fails_its_tests(alert: str, tmp_path: Path) -> None:
    rules = yaml.safe_load(RULES.read_text())
    for rule in rules["groups"][0]["rules"]:
        if rule["alert"] == alert:
            rule["expr"] = "vector(0) > 1"
    (tmp_path / "fedcore-alerts.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "tests").mkdir()
    for test in TESTS:
        shutil.copy(test, tmp_path / "tests" / test.name)
    tested = promtool("test", "rules", *(f"tests/{t.name}" for t in TESTS), cwd=tmp_path)
    assert tested.returncode != 0, f"no test case expects {alert} to fire"
    assert f"alertname: {alert}" in tested.stdout + tested.stderr


@needs_promtool
def test_every_query_of_the_dashboard_is_valid_promql(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    grafana = {"$__rate_interval": "5m", "$__range": "6h", "$instance": ".*", "$offering": ".*"}
    rules = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in grafana.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, (panel["title"], expr)
            rules.append({"record": f"dashboard:panel_{panel['id']}:{target['refId'].lower()}", "expr": expr})
    assert len(rules) > 10
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = promtool("check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(rf"SUCCESS: {len(rules)} rules found", checked.stdout), checked.stdout
