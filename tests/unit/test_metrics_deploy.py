"""The operations kit agrees with the code: the alert rules and the Grafana dashboard use only metrics fedcore
exports, every metric is documented, every alert has its runbook section in docs/operations.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from runners.metrics import PrometheusTelemetry

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
RULES = ROOT / "deploy" / "prometheus" / "fedcore-alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "fedcore-dashboard.json"
OPERATIONS = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\b(?:fedcore_\w+|process_\w+|python_\w+|up)\b")


def exported() -> set[str]:
    """Every sample name a running fedcore can expose (each telemetry event driven once)."""
    telemetry = PrometheusTelemetry()
    telemetry.add_process_metrics()
    telemetry.order_finished("HPC", "Create", "completed")
    telemetry.api_call("waldur-a.example.org", "GET", "marketplace-orders/", "200", 0.1)
    telemetry.retry("waldur-a.example.org", "marketplace-orders/")
    telemetry.pass_finished("HPC", "order_process", 1.0, ok=True, finished_at=1.0)
    telemetry.orders_waiting("HPC", 1, 10.0)
    telemetry.event_settled("A", "order", "handled", 0.01)
    telemetry.event_offerings_by_state({"events": 1})
    telemetry.duplicate_repaired("HPC", "resource_terminated")
    return {s.name for family in telemetry.registry.collect() for s in family.samples} | {"up"}


def alert_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    return rules


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


def test_the_alert_rules_use_only_exported_metrics() -> None:
    names = exported()
    used = {m for rule in alert_rules() for m in METRIC.findall(rule["expr"])}
    assert used
    assert used <= names, used - names


def family(name: str) -> str:
    """The metric a sample belongs to (``fedcore_orders_total`` and ``fedcore_orders`` are one)."""
    return re.sub(r"_(bucket|sum|count|total)$", "", name)


def test_the_dashboard_uses_only_exported_metrics_and_shows_every_fedcore_metric() -> None:
    names = exported()
    used = {m for expr in dashboard_exprs() for m in METRIC.findall(expr)}
    assert used <= names, used - names
    fedcore = {family(n) for n in names if n.startswith("fedcore_")}
    assert fedcore - {family(n) for n in used} == {"fedcore_build_info"}


def test_the_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "fedcore"
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource", "instance", "offering"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
            assert panel["description"], panel["title"]


def test_every_exported_metric_is_documented() -> None:
    text = OPERATIONS.read_text()
    documented = set(re.findall(r"^\| `(fedcore_\w+)` \|", text, flags=re.MULTILINE))
    assert {family(n) for n in exported() if n.startswith("fedcore_")} == {family(n) for n in documented}


def test_every_alert_has_a_runbook_section_and_a_row_in_the_table() -> None:
    text = OPERATIONS.read_text()
    headings = {h.lower() for h in re.findall(r"^### (\w+)$", text, flags=re.MULTILINE)}
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        assert name.lower() in headings, name
        assert f"| `{name}` | {rule['labels']['severity']} |" in text, name
