"""Where a client's idempotency key can travel on an order, and what the emulator keeps, as Waldur 8.0.5 does
(docs/emulator.md, "Where an idempotency key can travel"):

- a Create order keeps the ``attributes`` (and the ``request_comment``) of ``POST /marketplace-orders/``;
- a Terminate order keeps the ``attributes`` of ``POST .../terminate/`` (consumer and provider view);
- an Update order does *not* keep the ``request_comment`` of ``POST .../update_limits/``: Waldur validates it and
  builds the order from ``limits`` alone, with ``attributes`` ``{"old_limits": ...}``.

Each is read back through retrieval and through the listings a client searches (by resource, type and state).
Every exchange passes the schema-validating transport.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract.conftest import EmulatorWorld

pytestmark = pytest.mark.contract

ORDERS = "/marketplace-orders/"
KEY = "fedcore-order:0123456789abcdef0123456789abcdef"


def _found(w: EmulatorWorld, order_uuid: str, **filters: Any) -> dict[str, Any]:
    """The order as retrieved, after checking that the filtered listing shows exactly the same order."""
    retrieved: dict[str, Any] = w.call("GET", f"{ORDERS}{order_uuid}/", expect=200)
    listed = w.call("GET", ORDERS, expect=200, params={**filters, "page_size": 100})
    assert [o for o in listed if o["uuid"] == order_uuid] == [retrieved]
    return retrieved


def test_a_create_order_keeps_its_attributes_and_request_comment(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    created = w.order("keyed", attributes={"name": "keyed", "fedcore_key": KEY}, request_comment=KEY)
    assert created["attributes"] == {"name": "keyed", "fedcore_key": KEY}
    found = _found(w, created["uuid"], project_uuid=w.uuid("project"), type="Create", state="pending-provider")
    assert (found["attributes"]["fedcore_key"], found["request_comment"]) == (KEY, KEY)
    w.call("POST", f"{ORDERS}{created['uuid']}/approve_by_provider/", expect=200, body={"attributes": {"x": 1}})
    approved = _found(w, created["uuid"], resource_uuid=created["marketplace_resource_uuid"])
    assert approved["attributes"] == {"name": "keyed", "fedcore_key": KEY, "x": 1}  # merged, key kept
    w.transport.assert_clean()


@pytest.mark.parametrize("view", ["marketplace-resources", "marketplace-provider-resources"])
def test_a_terminate_order_keeps_the_attributes_of_terminate(emulator_world: EmulatorWorld, view: str) -> None:
    w = emulator_world
    resource = w.uuid("resource")
    made = w.call("POST", f"/{view}/{resource}/terminate/", expect=200, body={"attributes": {"fedcore_key": KEY}})
    found = _found(w, made["order_uuid"], resource_uuid=resource, type="Terminate", state="pending-provider")
    assert (found["type"], found["attributes"]) == ("Terminate", {"fedcore_key": KEY})
    plain = w.order("plain")
    for action in ("approve_by_provider", "set_state_done"):
        w.call("POST", f"{ORDERS}{plain['uuid']}/{action}/", expect=200)
    bare = w.call("POST", f"/{view}/{plain['marketplace_resource_uuid']}/terminate/", expect=200)
    assert w.call("GET", f"{ORDERS}{bare['order_uuid']}/", expect=200)["attributes"] == {}
    w.transport.assert_clean()


def test_an_update_order_does_not_keep_the_request_comment_of_update_limits(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    resource = w.uuid("resource")
    before = w.call("GET", f"/marketplace-resources/{resource}/", expect=200)["limits"]
    made = w.call("POST", f"/marketplace-resources/{resource}/update_limits/", expect=200,
                  body={"limits": {"cpu": 20, "ram": 4}, "request_comment": KEY})
    found = _found(w, made["order_uuid"], resource_uuid=resource, type="Update", state="pending-provider")
    assert found["request_comment"] is None
    assert found["attributes"] == {"old_limits": before}
    assert found["limits"] == {"cpu": 20, "ram": 4}
    w.transport.assert_clean()


def test_update_limits_refuses_the_limits_the_resource_already_has(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    resource = w.call("GET", f"/marketplace-resources/{w.uuid('resource')}/", expect=200)
    body = w.call("POST", f"/marketplace-resources/{resource['uuid']}/update_limits/", expect=400,
                  body={"limits": resource["limits"], "request_comment": KEY})
    assert body == ["Impossible to create update orders with limits set to exactly the same."]
    assert w.call("GET", ORDERS, expect=200, params={"type": "Update"}) == []
    w.transport.assert_clean()
