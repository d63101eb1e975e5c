"""``fedcore status`` as a real process against a drifted federation of two emulated Waldurs over HTTP.

The federation's resources reach B through fedcore's own order service; then B's staff (and the emulator's admin
API) make every kind of drift status knows, and two A orders stay in flight, one of them erred on B. A second
offering points at a closed port: it is reported unreachable without hiding the first one's rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_federation import ServedFederation, closed_port_url, fedcore

pytestmark = pytest.mark.e2e

COMPLETED = ("in-step", "limits-changed", "erred-on-b", "end-date")
REFUSAL = "quota exceeded on the cluster"


class Drifted:
    """The federation after the drift was made, and the configuration file status reads."""

    def __init__(self, served: ServedFederation, path: Path) -> None:
        self.served, self.path = served, path


def _a_resources(served: ServedFederation) -> dict[str, dict[str, Any]]:
    listing = served.staff_a.get("/api/marketplace-resources/", params={"page_size": 100}).json()
    return {r["name"]: r for r in listing}


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drifted]:
    served = ServedFederation()
    orders = {name: served.order({"node_hours": 1 if name == "limits-changed" else 3, "storage": 5}, name)
              for name in (*COMPLETED, "waiting", "refused")}
    served.order_pass()
    for name in COMPLETED:
        b_order = served.b_order_of(orders[name])["uuid"]
        served.b_action(f"marketplace-orders/{b_order}/approve_by_provider/")
        served.b_action(f"marketplace-orders/{b_order}/set_state_done/")
    served.order_pass()
    refused = served.b_order_of(orders["refused"])["uuid"]
    served.b_action(f"marketplace-orders/{refused}/set_state_erred/",
                    {"error_message": REFUSAL, "error_traceback": ""})
    a = _a_resources(served)
    b_of = {name: a[name]["backend_id"] for name in COMPLETED}
    served.b_action(f"marketplace-provider-resources/{b_of['limits-changed']}/set_limits/",
                    {"limits": {"cpu_k_hours": 512, "mem_gb_hours": 2048, "storage": 5}})
    served.b_action(f"marketplace-provider-resources/{b_of['erred-on-b']}/set_as_erred/",
                    {"error_message": "node failure", "error_traceback": ""})
    patched = served.staff_b.patch(f"/api/marketplace-resources/{b_of['end-date']}/", json={"end_date": "2031-12-31"})
    assert patched.status_code == 200, patched.text
    b_project = served.staff_b.get(f"/api/marketplace-resources/{b_of['in-step']}/").json()["project_uuid"]
    served.admin_resource("B", served.fed.b.offering_uuid, b_project, "stray",
                          limits={"cpu_k_hours": 256, "mem_gb_hours": 1024})
    served.admin_resource("A", served.fed.a.offering_uuid, served.fed.consumer_project_uuid, "ghost",
                          backend_id=uuid.uuid4().hex, limits={"node_hours": 2})
    config = served.config()
    unreachable = served.config(name="Unreachable A")["offerings"][0]
    unreachable.update(waldur_api_url=closed_port_url(), waldur_offering_uuid=uuid.uuid4().hex)
    config["offerings"].append(unreachable)
    yield Drifted(served, served.write(tmp_path_factory.mktemp("status"), config))
    served.close()


def _no_secrets(drifted: Drifted, *texts: str) -> None:
    for secret in drifted.served.secrets():
        assert all(secret not in text for text in texts)


def test_status_json_pairs_each_a_resource_with_its_b_resource_and_flags_every_drift(drifted: Drifted) -> None:
    done = fedcore("status", "-c", str(drifted.path), "--json")
    assert done.returncode == 3, done.stderr  # the second offering is unreachable
    _no_secrets(drifted, done.stdout, done.stderr)
    document = json.loads(done.stdout)
    assert document["format"] == 1
    first, second = document["offerings"]
    assert second["name"] == "Unreachable A"
    assert second["error"]["unreachable"] is True
    assert "A GET" in second["error"]["message"]
    assert first["error"] is None
    rows = {(r["a"] or r["b"])["name"]: r for r in first["resources"]}
    assert sorted(rows) == sorted(["ghost", "stray", *COMPLETED, "waiting", "refused"])
    kinds = {name: [d["kind"] for d in row["drift"]] for name, row in rows.items()}
    assert kinds == {"in-step": [], "limits-changed": ["limits"], "erred-on-b": ["state"], "end-date": ["end_date"],
                     "ghost": ["missing_on_b"], "stray": ["stray_on_b"], "waiting": [], "refused": []}
    in_step = rows["in-step"]
    assert in_step["a"]["limits"] == {"node_hours": 3, "storage": 5}
    assert in_step["a_limits_as_b"] == in_step["b"]["limits"] == {"cpu_k_hours": 384, "mem_gb_hours": 1536,
                                                                   "storage": 5}
    assert in_step["b_limits_as_a"] == {"node_hours": 3, "storage": 5}
    changed = rows["limits-changed"]
    assert changed["a_limits_as_b"] == {"cpu_k_hours": 128, "mem_gb_hours": 512, "storage": 5}
    assert changed["b_limits_as_a"] == {"node_hours": 4, "storage": 5}
    assert "cpu_k_hours: A's limits convert to 128, B has 512" in changed["drift"][0]["message"]
    assert rows["erred-on-b"]["drift"][0]["message"] == "A is OK but B is Erred"
    assert rows["end-date"]["b"]["end_date"] == "2031-12-31"
    assert rows["stray"]["a"] is None
    assert rows["stray"]["b_limits_as_a"] == {"node_hours": 2}
    assert rows["waiting"]["in_transition"] is True
    orders = {o["a"]["resource_name"]: o for o in first["orders"]}
    assert sorted(orders) == ["refused", "waiting"]
    assert orders["waiting"]["a"]["state"] == "executing"
    assert orders["waiting"]["b"]["state"] == "pending-provider"
    assert orders["waiting"]["note"] == "waiting for B (pending-provider)"
    assert orders["refused"]["b"]["state"] == "erred"
    assert orders["refused"]["b"]["error_message"] == REFUSAL
    assert orders["refused"]["a"]["backend_id"] == orders["refused"]["b"]["uuid"]
    assert first["drift_count"] == 5
    assert document["summary"] == {"offerings": 2, "unreadable": 1, "resources": 8, "drift": 5,
                                   "orders_in_flight": 2}


def test_status_table_for_people_and_fail_on_drift_for_monitoring(drifted: Drifted) -> None:
    done = fedcore("status", "-c", str(drifted.path), "--offering", "HPC via Waldur B", "--fail-on-drift")
    assert done.returncode == 4, done.stderr
    _no_secrets(drifted, done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    assert lines[0] == "== offerings[0] 'HPC via Waldur B' =="
    assert "Unreachable A" not in done.stdout
    header = next(line for line in lines if line.lstrip().startswith("RESOURCE (A)"))
    assert header.split()[:4] == ["RESOURCE", "(A)", "A", "STATE"]
    in_step = next(line for line in lines if line.lstrip().startswith("in-step "))
    assert ("cpu_k_hours=384 mem_gb_hours=1536 storage=5  cpu_k_hours=384 mem_gb_hours=1536 storage=5"
            in in_step)
    assert in_step.rstrip().endswith("-")
    assert any(line.lstrip().startswith("! limits-changed (") and "B has 512" in line for line in lines)
    assert any("stray_on_b" in line and line.lstrip().startswith("! B resource ") for line in lines)
    assert any("waiting for B (pending-provider)" in line for line in lines)
    assert any(REFUSAL in line and "fedcore fails the A order" in line for line in lines)
    assert lines[-1] == ("summary: 1 offering(s), 0 unreadable, 8 resource row(s), 5 drift, 2 order(s) in flight")


def test_status_help_lists_its_options() -> None:
    done = fedcore("status", "--help")
    assert done.returncode == 0
    for option in ("-c CONFIG", "--json", "--all", "--offering NAME", "--fail-on-drift"):
        assert option in done.stdout
