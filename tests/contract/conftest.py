"""Fixtures for the contract suites.

Waldur 8.0.5's schema is parsed and indexed once per test session (``schema_checker``). ``emulator_world`` is a
fresh emulator holding a small marketplace built through its own API, with every exchange checked against the
schema by a :class:`ValidatingTransport`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest

from contract.openapi_check import SKIP_REQUEST_CHECK, SchemaChecker, ValidatingTransport, load_spec

STAFF_TOKEN = "contract-staff-token-0123456789abcdef0123"
BASE_URL = "http://emulator/api"


@pytest.fixture(scope="session")
def schema_checker() -> SchemaChecker:
    """The checker every contract test shares: closed (undeclared properties are problems), not complete."""
    return SchemaChecker(load_spec())


@attrs.define
class EmulatorWorld:
    """An emulator with named objects created through its API; all traffic passes the schema check."""

    emulator: Any
    transport: ValidatingTransport
    client: httpx.Client
    objects: dict[str, dict[str, Any]] = attrs.Factory(dict)
    tokens: dict[str, str] = attrs.Factory(dict)

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: int | tuple[int, ...],
        body: object = None,
        params: Any = None,
        as_user: str | None = None,
        invalid: bool = False,
    ) -> Any:
        """One request (as staff unless ``as_user`` names a user of the world); asserts the status.

        ``invalid`` marks a deliberately non-conforming request: only the (error) response is checked.
        """
        headers = {} if as_user == "anonymous" else {"Authorization": f"Token {self.tokens[as_user or 'staff']}"}
        extensions = {SKIP_REQUEST_CHECK: True} if invalid else {}
        request = self.client.build_request(method, path, json=body, params=params, headers=headers,
                                            extensions=extensions)
        response = self.client.send(request)
        allowed = expect if isinstance(expect, tuple) else (expect,)
        assert response.status_code in allowed, f"{method} {path}: {response.status_code} {response.text[:400]}"
        return response.json() if response.content else None

    def make(self, name: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create an object with POST (201) and remember it under ``name``."""
        created: dict[str, Any] = self.call("POST", path, expect=201, body=body)
        self.objects[name] = created
        return created

    def url(self, name: str) -> str:
        """The ``url`` of a named object."""
        return str(self.objects[name]["url"])

    def uuid(self, name: str) -> str:
        """The ``uuid`` of a named object."""
        return str(self.objects[name]["uuid"])

    def user(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create a user and learn its token (staff sees it)."""
        created = self.make(name, "/users/", {"username": name, "email": f"{name}@example.org", **fields})
        self.tokens[name] = self.call("GET", f"/users/{created['uuid']}/", expect=200)["token"]
        return created

    def order(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create an order for the world's offering in its project (as staff: it starts pending-provider)."""
        body = {"offering": self.url("offering"), "project": self.url("project"), "plan": self.url("plan"),
                "limits": {"cpu": 10, "ram": 4}, "attributes": {"name": name}, "accepting_terms_of_service": True}
        return self.make(name, "/marketplace-orders/", body | fields)

    def forget_traffic(self) -> None:
        """Clear what the transport recorded (after set-up, so a test sees only its own exchanges)."""
        self.transport.problems.clear()
        self.transport.undocumented.clear()
        self.transport.calls.clear()


def build_world(checker: SchemaChecker) -> EmulatorWorld:
    """A customer, provider, active Slurm offering with two components and a plan, a project with members, a done
    order with its resource, an offering user, an event subscription and a site-agent identity."""
    from waldur_emulator import Emulator

    emulator = Emulator(staff_token=STAFF_TOKEN, seed=7)
    transport = ValidatingTransport(emulator.transport(), checker)
    world = EmulatorWorld(emulator, transport, httpx.Client(transport=transport, base_url=BASE_URL),
                          tokens={"staff": STAFF_TOKEN})
    customer = world.make("customer", "/customers/", {"name": "Provider org"})
    world.make("category", "/marketplace-categories/", {"title": "HPC"})
    world.make("provider", "/marketplace-service-providers/", {"customer": customer["url"]})
    components = [
        {"type": "cpu", "name": "CPU", "billing_type": "limit", "measured_unit": "hours"},
        {"type": "ram", "name": "RAM", "billing_type": "usage", "measured_unit": "GB"},
    ]
    offering = world.make("offering", "/marketplace-provider-offerings/", {
        "name": "Cluster", "category": world.url("category"), "type": "Marketplace.Slurm",
        "customer": customer["url"], "components": components, "plans": [{"name": "default", "unit": "month"}],
        "plugin_options": {"service_provider_can_create_offering_user": True},
    })
    world.call("POST", f"/marketplace-provider-offerings/{offering['uuid']}/activate/", expect=200)
    world.objects["plan"] = world.call("GET", f"/marketplace-public-offerings/{offering['uuid']}/plans/", expect=200)[0]
    world.make("project", "/projects/", {"customer": customer["url"], "name": "Research", "backend_id": "p-1"})
    world.user("alice", first_name="Alice", last_name="Liddell")
    world.user("bob")
    world.user("manager")
    roles = {role["name"]: role for role in world.call("GET", "/roles/", expect=200, params={"page_size": 100})}
    world.objects |= {f"role:{name}": role for name, role in roles.items()}
    world.call("POST", f"/projects/{world.uuid('project')}/add_user/", expect=201,
               body={"role": "PROJECT.ADMIN", "user": world.uuid("alice")})
    world.call("POST", f"/marketplace-provider-offerings/{offering['uuid']}/add_user/", expect=201,
               body={"role": "OFFERING.MANAGER", "user": world.uuid("manager")})
    order = world.order("order")
    world.call("POST", f"/marketplace-orders/{order['uuid']}/approve_by_provider/", expect=200)
    world.call("POST", f"/marketplace-orders/{order['uuid']}/set_state_done/", expect=200)
    world.objects["resource"] = world.call("GET", f"/marketplace-resources/{order['marketplace_resource_uuid']}/",
                                           expect=200)
    world.call("POST", f"/projects/{world.uuid('project')}/add_user/", expect=201,
               body={"role": "PROJECT.MEMBER", "user": world.uuid("bob")})
    world.objects["offering_user"] = world.call("GET", "/marketplace-offering-users/", expect=200,
                                                params={"user_uuid": world.uuid("bob")})[0]
    world.make("subscription", "/event-subscriptions/", {"observable_objects": [{"object_type": "order"}]})
    world.make("identity", "/marketplace-site-agent-identities/", {"name": "agent", "offering": offering["uuid"]})
    world.objects["queue"] = world.call("POST", f"/event-subscriptions/{world.uuid('subscription')}/create_queue/",
                                        expect=201, body={"offering_uuid": offering["uuid"], "object_type": "order"})
    world.call("POST", "/marketplace-component-usages/set_usage/", expect=201,
               body={"resource": world.uuid("resource"), "usages": [{"type": "ram", "amount": "5.5"}]})
    world.objects["usage"] = world.call("GET", "/marketplace-component-usages/", expect=200)[0]
    world.call("POST", f"/marketplace-component-usages/{world.uuid('usage')}/set_user_usage/", expect=201,
               body={"username": "bob", "usage": "2.5", "user": world.url("bob")})
    world.objects["user_usage"] = world.call("GET", "/marketplace-component-user-usages/", expect=200)[0]
    return world


@pytest.fixture
def emulator_world(schema_checker: SchemaChecker) -> Iterator[EmulatorWorld]:
    """A fresh world whose set-up traffic is forgotten (``test_world_set_up_conforms`` checks it)."""
    world = build_world(schema_checker)
    world.forget_traffic()
    yield world
    world.client.close()
