"""The emulator's HTTP conventions over a real socket: pagination, field selection, multi-value filters, faults,
the provider simulation and instance independence."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from contract.openapi_check import SchemaChecker, ValidatingTransport
from waldur_emulator import Condition, Emulator, FaultRule, ServerHandle, SimulationRule
from waldur_emulator.seeding import Created, Seeder

pytestmark = pytest.mark.contract

STAFF = "staff-token-http"


class Env:
    """One served emulator with a validated staff client, a raw admin client, and a small marketplace."""

    def __init__(self, checker: SchemaChecker) -> None:
        self.emulator = Emulator(staff_token=STAFF, seed=3)
        self.handle: ServerHandle = self.emulator.serve("127.0.0.1", 0)
        self.transport = ValidatingTransport(httpx.HTTPTransport(), checker)
        headers = {"Authorization": f"Token {STAFF}"}
        self.client = httpx.Client(base_url=self.handle.base_url, transport=self.transport, headers=headers, timeout=5)
        self.admin = httpx.Client(base_url=self.handle.base_url, headers=headers, timeout=5)
        self.seed = Seeder(self.client, self.admin)
        self.customer = self.seed.customer("Org")
        self.seed.service_provider(self.customer)
        self.project = self.seed.project(self.customer, "p")
        self.project_url = self.client.get(f"/api/projects/{self.project.uuid}/").json()["url"]
        self.offering, self.plan = self.seed.offering(self.customer, self.seed.category(), "O")

    def order(self, cpu: int = 1, name: str = "r") -> dict[str, object]:
        response = self.client.post(
            "/api/marketplace-orders/",
            json={
                "offering": self.offering.url,
                "project": self.project_url,
                "plan": self.plan.url,
                "limits": {"cpu": cpu},
                "attributes": {"name": name},
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, object] = response.json()
        return body

    def close(self) -> None:
        self.client.close()
        self.admin.close()
        self.handle.stop()
        self.emulator.simulation.stop()


@pytest.fixture
def env(schema_checker: SchemaChecker) -> Iterator[Env]:
    made = Env(schema_checker)
    try:
        yield made
    finally:
        made.close()
    made.transport.assert_clean()


def test_pagination_headers_links_and_head(env: Env) -> None:
    for i in range(25):
        env.seed.user(f"user{i:02d}")
    first = env.client.get("/api/users/", params={"page_size": 10, "o": "username"})
    assert first.headers["X-Result-Count"] == "26"
    assert len(first.json()) == 10
    base = f"{env.handle.base_url}/api/users/"
    assert first.headers["Link"] == (
        f'<{base}?page_size=10&o=username>; rel="first", <{base}?page_size=10&o=username&page=2>; rel="next", '
        f'<{base}?page_size=10&o=username&page=3>; rel="last"'
    )
    second = env.client.get("/api/users/", params={"page_size": 10, "o": "username", "page": 2})
    assert 'rel="prev"' in second.headers["Link"]
    assert f'<{base}?page_size=10&o=username>; rel="prev"' in second.headers["Link"]
    last = env.client.get("/api/users/", params={"page_size": 10, "o": "username", "page": 3})
    assert [u["username"] for u in last.json()] == ["user19", "user20", "user21", "user22", "user23", "user24"]
    assert 'rel="next"' not in last.headers["Link"]
    assert env.client.get("/api/users/", params={"page": 4}).status_code == 404
    default = env.client.get("/api/users/")
    assert len(default.json()) == 10
    capped = env.client.get("/api/users/", params={"page_size": 1000})
    assert len(capped.json()) == 26
    head = env.client.head("/api/users/")
    assert (head.status_code, head.headers["X-Result-Count"], head.content) == (200, "26", b"")


def test_field_selection(env: Env) -> None:
    order = env.order()
    trimmed = env.client.get(
        f"/api/marketplace-orders/{order['uuid']}/", params=[("field", "uuid"), ("field", "state")]
    )
    assert trimmed.json() == {"uuid": order["uuid"], "state": "pending-provider"}
    listed = env.client.get("/api/marketplace-orders/", params=[("field", "uuid")])
    assert listed.json() == [{"uuid": order["uuid"]}]


def test_repeated_and_comma_filters(env: Env) -> None:
    second_offering, _ = env.seed.offering(env.customer, env.seed.category("Other"), "O2")
    first = env.order(name="one")
    env.client.post(f"/api/marketplace-orders/{first['uuid']}/approve_by_provider/")
    env.order(name="two")
    states = env.client.get("/api/marketplace-orders/", params=[("state", "executing"), ("state", "pending-provider")])
    assert len(states.json()) == 2
    only = env.client.get("/api/marketplace-orders/", params=[("state", "executing")])
    assert [o["uuid"] for o in only.json()] == [first["uuid"]]
    resource = env.seed.resource(second_offering, env.project, "other")
    both = env.client.get(
        "/api/marketplace-resources/", params={"offering_uuid": f"{env.offering.uuid},{second_offering.uuid}"}
    )
    assert len(both.json()) == 3
    one = env.client.get("/api/marketplace-resources/", params={"offering_uuid": second_offering.uuid})
    assert [r["uuid"] for r in one.json()] == [resource.uuid]
    after = env.client.get("/api/marketplace-orders/", params={"modified": "2999-01-01T00:00:00Z"})
    assert after.json() == []


def test_fault_injection_error_drop_latency_and_apply_then_fail(env: Env) -> None:
    order = env.order()
    url = f"/api/marketplace-orders/{order['uuid']}/"
    env.emulator.add_fault(FaultRule(path="/api/marketplace-orders/", method="GET", kind="error", status=503, times=1))
    assert env.admin.get(url).status_code == 503
    assert env.admin.get(url).status_code == 200
    env.emulator.add_fault(FaultRule(path="approve_by_provider", kind="drop", times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        env.admin.post(url + "approve_by_provider/")
    assert env.admin.get(url).json()["state"] == "pending-provider"
    env.admin.post(url + "approve_by_provider/")
    rule = {"path": "set_state_done", "kind": "apply_then_fail", "times": 1}
    assert env.admin.post("/api/emulator/faults/", json=rule).status_code == 201
    failed = env.admin.post(url + "set_state_done/")
    assert failed.status_code == 500
    assert env.admin.get(url).json()["state"] == "done"
    env.emulator.clear_faults()
    env.emulator.add_fault(FaultRule(path="/api/users/me/", latency=0.3))
    started = time.monotonic()
    env.admin.get("/api/users/me/")
    assert time.monotonic() - started >= 0.3
    env.emulator.add_fault(FaultRule(path="/api/customers/", kind="timeout", timeout_seconds=0.2))
    with pytest.raises(httpx.RemoteProtocolError):
        env.admin.get("/api/customers/")
    assert env.admin.delete("/api/emulator/faults/").status_code == 204
    assert env.admin.get("/api/emulator/faults/").json()["rules"] == []


def test_faults_are_deterministic_when_seeded() -> None:
    outcomes = []
    for _ in range(2):
        emulator = Emulator(staff_token=STAFF, seed=11)
        emulator.add_fault(FaultRule(kind="error", status=502, rate=0.5))
        with httpx.Client(
            transport=emulator.transport(), base_url="http://emulator", headers={"Authorization": f"Token {STAFF}"}
        ) as client:
            outcomes.append([client.get("/api/users/me/").status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 502}


def test_provider_simulation_completes_and_rejects_by_rule(env: Env) -> None:
    env.emulator.simulate_provider(
        env.offering.uuid,
        SimulationRule(
            delay=0.05,
            reject_when=(Condition(limit="cpu", above=100),),
            err_when=(Condition(attribute="name", equals="bad"),),
        ),
    )
    good, big, bad = env.order(5, "good"), env.order(500, "big"), env.order(5, "bad")
    deadline = time.monotonic() + 5
    states: dict[object, object] = {}
    while time.monotonic() < deadline:
        states = {
            o["uuid"]: env.client.get(f"/api/marketplace-orders/{o['uuid']}/").json()["state"] for o in (good, big, bad)
        }
        if all(s in ("done", "erred", "rejected") for s in states.values()):
            break
        time.sleep(0.02)
    assert states == {good["uuid"]: "done", big["uuid"]: "rejected", bad["uuid"]: "erred"}
    resource = env.client.get(f"/api/marketplace-resources/{good['marketplace_resource_uuid']}/").json()
    assert resource["state"] == "OK"
    assert env.admin.delete(f"/api/emulator/offerings/{env.offering.uuid}/provider-simulation/").status_code == 204
    later = env.order(1, "later")
    time.sleep(0.2)
    assert env.client.get(f"/api/marketplace-orders/{later['uuid']}/").json()["state"] == "pending-provider"


def test_instances_are_independent() -> None:
    one, two = Emulator(staff_token="one"), Emulator(staff_token="two")
    with (
        httpx.Client(transport=one.transport(), base_url="http://a", headers={"Authorization": "Token one"}) as a,
        httpx.Client(transport=two.transport(), base_url="http://b", headers={"Authorization": "Token two"}) as b,
    ):
        Seeder(a).customer("only in one")
        assert len(a.get("/api/customers/").json()) == 1
        assert b.get("/api/customers/").json() == []
        assert b.get("/api/users/me/", headers={"Authorization": "Token one"}).status_code == 401


def test_wrong_method_and_unknown_path(env: Env) -> None:
    assert env.admin.delete("/api/marketplace-orders/").status_code == 405
    assert env.admin.get("/api/no-such-thing/").status_code == 404
    assert env.admin.post("/api/emulator/faults/", json={"kind": "explode"}).status_code == 400
    created = Created("", "", {})
    assert created.uuid == ""
