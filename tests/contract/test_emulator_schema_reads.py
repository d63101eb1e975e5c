"""The emulator's read operations against the schema: lists with pagination headers, HEAD counts, retrieves,
``field=`` selection, multi-value filters and the generic error paths (401, 404). Also checks that every
operation the emulator serves is driven by one of the contract suites, and that it serves no operation Waldur
8.0.5 does not have."""

from __future__ import annotations

from typing import Any

import pytest

from contract import test_emulator_schema, test_emulator_schema_market, test_emulator_schema_site
from contract.conftest import EmulatorWorld, build_world
from contract.openapi_check import SchemaChecker, load_spec

pytestmark = pytest.mark.contract

UNKNOWN = "0123456789abcdef0123456789abcdef"

# The world object whose UUID fills a template's {uuid} (and {plan_uuid}), by the template's first segment.
TARGETS = {
    "customers": "customer", "marketplace-categories": "category", "marketplace-service-providers": "provider",
    "marketplace-provider-offerings": "offering", "marketplace-public-offerings": "offering",
    "marketplace-plans": "plan", "projects": "project", "users": "alice", "roles": "role:PROJECT.ADMIN",
    "marketplace-orders": "order", "marketplace-resources": "resource", "marketplace-provider-resources": "resource",
    "marketplace-offering-users": "offering_user", "event-subscriptions": "subscription",
    "event-subscription-queues": "queue", "marketplace-site-agent-identities": "identity",
    "marketplace-component-usages": "usage", "marketplace-component-user-usages": "user_usage",
    "marketplace-site-agent-services": "service", "marketplace-site-agent-processors": "processor",
}


def _served() -> list[tuple[str, str, str]]:
    """(method, template, operation id) of every schema operation the emulator routes.

    Reads the emulator's route table (a private attribute: the emulator has no public listing yet).
    """
    from waldur_emulator import Emulator

    spec = load_spec()
    served = []
    for template, table in Emulator(staff_token="listing").router._by_template.items():
        for method in table:
            operation = spec.operation(method, template) if template in spec.document["paths"] else None
            if operation is not None:
                served.append((method, template, operation.operation_id))
    return sorted(served)


SERVED = _served()
LISTS = [(t, o) for m, t, o in SERVED if m == "GET" and o.endswith("_list")]
RETRIEVES = [(t, o) for m, t, o in SERVED if m == "GET" and not o.endswith("_list")]
COUNTS = [(t, o) for m, t, o in SERVED if m == "HEAD"]


def concrete(world: EmulatorWorld, template: str) -> str:
    """The template with the world's objects filled in, relative to the API root."""
    path = template.removeprefix("/api")
    test_emulator_schema_site.ensure_agent_objects(world)
    if "{uuid}" in path:
        path = path.replace("{uuid}", world.objects[TARGETS[path.split("/")[1]]]["uuid"])
    return path.replace("{plan_uuid}", world.uuid("plan")).replace("{service_provider_uuid}", world.uuid("provider"))


def test_world_set_up_conforms(schema_checker: SchemaChecker) -> None:
    world = build_world(schema_checker)
    world.transport.assert_clean()
    assert sum(world.transport.calls.values()) > 20


@pytest.mark.parametrize(("template", "operation_id"), LISTS, ids=[o for _, o in LISTS])
def test_list_pages_conform(emulator_world: EmulatorWorld, template: str, operation_id: str) -> None:
    w = emulator_world
    path = concrete(w, template)
    operation = load_spec().operation("GET", template)
    assert operation is not None
    if "page" not in load_spec().query_params(operation):  # a plain list action, not paginated by Waldur
        assert isinstance(w.call("GET", path, expect=200), list)
        w.transport.assert_clean()
        return
    response = w.client.get(path, params={"page_size": 1}, headers={"Authorization": f"Token {w.tokens['staff']}"})
    assert response.status_code == 200, response.text
    count = int(response.headers["x-result-count"])
    assert len(response.json()) == min(count, 1)
    assert 'rel="first"' in response.headers["link"]
    if count > 1:
        second = w.call("GET", path, expect=200, params={"page_size": 1, "page": 2})
        assert len(second) == 1
    w.call("GET", path, expect=404, params={"page": count + 5})
    w.call("GET", path, expect=401, as_user="anonymous")
    assert w.transport.calls[operation_id] >= 3
    w.transport.assert_clean()


@pytest.mark.parametrize(("template", "operation_id"), COUNTS, ids=[o for _, o in COUNTS])
def test_head_counts_conform(emulator_world: EmulatorWorld, template: str, operation_id: str) -> None:
    w = emulator_world
    path = concrete(w, template)
    counted = w.client.head(path, headers={"Authorization": f"Token {w.tokens['staff']}"})
    assert counted.status_code == 200
    assert counted.content == b""
    if operation_id != "users_me_count":
        listed = w.client.get(path, headers={"Authorization": f"Token {w.tokens['staff']}"})
        assert counted.headers["x-result-count"] == listed.headers["x-result-count"]
    assert w.transport.calls[operation_id] == 1
    w.transport.assert_clean()


@pytest.mark.parametrize(("template", "operation_id"), RETRIEVES, ids=[o for _, o in RETRIEVES])
def test_retrieves_conform(emulator_world: EmulatorWorld, template: str, operation_id: str) -> None:
    w = emulator_world
    w.call("GET", concrete(w, template), expect=200)
    if "{" in template and "/me/" not in template:
        unknown = template.removeprefix("/api").replace("{uuid}", UNKNOWN).replace("{plan_uuid}", UNKNOWN)
        w.call("GET", unknown.replace("{service_provider_uuid}", UNKNOWN), expect=404)
    w.call("GET", concrete(w, template), expect=401, as_user="anonymous")
    assert w.transport.calls[operation_id] >= 2
    w.transport.assert_clean()


def _field_choice(template: str, method: str = "GET") -> list[str]:
    operation = load_spec().operation(method, template)
    assert operation is not None
    params = load_spec().query_params(operation)
    if "field" not in params:
        return []
    enum: list[str] = load_spec().deref(load_spec().deref(load_spec().at(params["field"].pointer))["items"])["enum"]
    preferred: list[str] = [name for name in ("uuid", "name", "state") if name in enum]
    return (preferred or enum)[:2]


SELECTABLE = [(t, o) for t, o in LISTS + RETRIEVES if _field_choice(t)]


@pytest.mark.parametrize(("template", "operation_id"), SELECTABLE, ids=[o for _, o in SELECTABLE])
def test_field_selection_conforms(emulator_world: EmulatorWorld, template: str, operation_id: str) -> None:
    w = emulator_world
    fields = _field_choice(template)
    body: Any = w.call("GET", concrete(w, template), expect=200, params={"field": fields})
    for item in body if isinstance(body, list) else [body]:
        assert set(item) <= set(fields), item
    w.transport.assert_clean()


def test_multi_value_filters_conform(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    w.order("pending")
    states = w.call("GET", "/marketplace-orders/", expect=200,
                    params=[("state", "pending-provider"), ("state", "done")])
    assert {order["state"] for order in states} == {"pending-provider", "done"}
    joined = f"{w.uuid('offering')},{UNKNOWN}"
    for path in ("/marketplace-resources/", "/marketplace-provider-resources/", "/marketplace-offering-users/"):
        found = w.call("GET", path, expect=200, params={"offering_uuid": joined})
        assert found, path
    users = w.call("GET", "/marketplace-offering-users/", expect=200, params=[("state", "Requested"), ("state", "OK")])
    assert users
    w.call("GET", "/projects/", expect=200, params={"backend_id": "p-1", "o": "-created,name"})
    w.call("GET", "/users/", expect=200, params={"email": "example.org"})
    w.transport.assert_clean()


def test_every_served_operation_is_driven() -> None:
    driven = set(test_emulator_schema.DRIVERS) | set(test_emulator_schema_market.DRIVERS)
    driven |= set(test_emulator_schema_site.DRIVERS)
    driven |= {o for _, o in LISTS + RETRIEVES + COUNTS}
    assert sorted({o for _, _, o in SERVED} - driven) == []


def test_no_operation_outside_waldur_8_0_5_is_served() -> None:
    from waldur_emulator import Emulator

    spec = load_spec()
    extra = []
    for template, table in Emulator(staff_token="listing").router._by_template.items():
        if template.startswith("/api/emulator/"):
            continue  # the emulator's own admin API
        for method in table:
            if method != "HEAD" and (template not in spec.document["paths"] or not spec.operation(method, template)):
                extra.append(f"{method} {template}")
    assert extra == []
