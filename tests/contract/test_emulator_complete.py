"""Completeness: every field Waldur 8.0.5 declares for orders (``OrderDetails``), resources (``Resource``),
offering users (``OfferingUser``) and users (``User``) is in the emulator's responses, null or empty where Waldur
would send that, so clients that read any of them do not crash. ``field=`` still trims.

The check is the contract kit's ``SchemaChecker(complete=True)``. Two groups of declared fields are knowingly
absent, because Waldur itself leaves them out and a generated client expects them absent:

- a resource's ``parent_*`` and ``service_settings_uuid``: their serializer sources run through a relation the
  resource does not have (no parent resource, no parent offering, no offering scope), and DRF skips such a field.
  Sending ``null`` instead would break the schema (they are non-nullable UUIDs) and the generated client, which
  parses them with ``UUID(...)``;
- a user's token, session and identity-bridge fields, when neither the user nor staff is looking (Waldur's
  ``UserSerializer.get_fields`` drops them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract.conftest import EmulatorWorld
from contract.openapi_check import SchemaChecker, ValidatingTransport, load_spec

pytestmark = pytest.mark.contract

WALDUR_OMITS_ON_RESOURCES = (
    "parent_uuid", "parent_name", "parent_offering_uuid", "parent_offering_name", "parent_offering_slug",
    "service_settings_uuid",
)
HIDDEN_FROM_OTHER_USERS = {
    "token", "token_lifetime", "has_active_session", "is_identity_manager", "managed_isds", "active_isds",
    "attribute_sources",
}


class Complete:
    """Clients of the world's emulator whose traffic is checked with ``complete=True``."""

    def __init__(self, world: EmulatorWorld) -> None:
        self.world = world
        self.transport = ValidatingTransport(world.emulator.transport(), SchemaChecker(load_spec(), complete=True))
        self._clients: list[httpx.Client] = []

    def get(self, path: str, *, as_user: str = "staff", params: Any = None) -> Any:
        client = httpx.Client(transport=self.transport, base_url="http://emulator/api",
                              headers={"Authorization": f"Token {self.world.tokens[as_user]}"})
        self._clients.append(client)
        response = client.get(path, params=params)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        return response.json()

    def problems(self) -> list[str]:
        """What the completeness check found, less Waldur's own omissions on resources."""
        def waldurs_own(line: str) -> bool:
            return "resources/" in line and any(f"property {name!r} is missing" in line
                                                for name in WALDUR_OMITS_ON_RESOURCES)
        return [line for line in self.transport.problems if not waldurs_own(line)]

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def complete(emulator_world: EmulatorWorld) -> Iterator[Complete]:
    checker = Complete(emulator_world)
    yield checker
    checker.close()


def _busy_world(w: EmulatorWorld) -> dict[str, str]:
    """A pending Create order, an Update order in progress on the done resource, and a terminated second one."""
    pending = w.order("pending")
    update = w.call("POST", f"/marketplace-resources/{w.uuid('resource')}/update_limits/", expect=200,
                    body={"limits": {"cpu": 12, "ram": 4}})
    done = w.order("to-terminate")
    for action in ("approve_by_provider", "set_state_done"):
        w.call("POST", f"/marketplace-orders/{done['uuid']}/{action}/", expect=200)
    terminate = w.call("POST", f"/marketplace-resources/{done['marketplace_resource_uuid']}/terminate/", expect=200)
    return {"pending": pending["uuid"], "update": update["order_uuid"], "terminate": terminate["order_uuid"],
            "quiet": done["marketplace_resource_uuid"]}


def test_orders_carry_every_declared_field(emulator_world: EmulatorWorld, complete: Complete) -> None:
    w = emulator_world
    made = _busy_world(w)
    listed = complete.get("/marketplace-orders/", params={"page_size": 50})
    assert {o["type"] for o in listed} == {"Create", "Update", "Terminate"}
    for uuid in (w.uuid("order"), made["pending"], made["update"], made["terminate"]):
        order = complete.get(f"/marketplace-orders/{uuid}/")
        assert order["issue"] is None
    assert complete.problems() == []


def test_resources_carry_every_declared_field(emulator_world: EmulatorWorld, complete: Complete) -> None:
    w = emulator_world
    made = _busy_world(w)
    for base in ("/marketplace-resources/", "/marketplace-provider-resources/"):
        complete.get(base, params={"page_size": 50})
        busy = complete.get(f"{base}{w.uuid('resource')}/")
        assert busy["order_in_progress"]["uuid"] == made["update"]
        assert busy["creation_order"]["uuid"] == w.uuid("order")
    w.call("POST", f"/marketplace-orders/{made['update']}/approve_by_provider/", expect=200)
    w.call("POST", f"/marketplace-orders/{made['update']}/set_state_done/", expect=200)
    quiet = complete.get(f"/marketplace-resources/{w.uuid('resource')}/")
    assert quiet["order_in_progress"] is None  # Waldur sends null, it does not leave the key out
    assert complete.problems() == []
    omitted = [line for line in complete.transport.problems if "resources/" in line]
    assert omitted, "the resource's parent_* and service_settings_uuid are absent, as in Waldur"


def test_offering_users_carry_every_declared_field(emulator_world: EmulatorWorld, complete: Complete) -> None:
    w = emulator_world
    listed = complete.get("/marketplace-offering-users/")
    record = complete.get(f"/marketplace-offering-users/{w.uuid('offering_user')}/")
    assert record["service_provider_comment_url"] == ""
    assert (record["user_gender"], record["user_nationalities"]) == (None, [])
    path = f"/marketplace-offering-users/{w.uuid('offering_user')}/"
    w.call("POST", path + "begin_creating/", expect=200)
    w.call("POST", path + "set_pending_account_linking/", expect=200,
           body={"comment": "link your account", "comment_url": "https://idp.example.org/link"})
    linked = complete.get(path)
    assert linked["service_provider_comment_url"] == "https://idp.example.org/link"
    assert listed
    assert complete.problems() == []


def test_users_carry_every_declared_field(emulator_world: EmulatorWorld, complete: Complete) -> None:
    w = emulator_world
    complete.get("/users/me/")
    complete.get("/users/", params={"page_size": 50})
    complete.get(f"/users/{w.uuid('alice')}/")
    complete.get("/users/me/", as_user="alice")
    own = complete.get(f"/users/{w.uuid('alice')}/", as_user="alice")
    assert (own["requested_email"], own["birth_date"], own["has_active_session"]) == (None, None, True)
    assert complete.problems() == []
    other = w.call("GET", f"/users/{w.uuid('bob')}/", expect=200, as_user="alice")
    declared = set(load_spec().deref({"$ref": "#/components/schemas/User"})["properties"])
    assert declared - set(other) == HIDDEN_FROM_OTHER_USERS
    w.transport.assert_clean()


def test_field_selection_still_trims(emulator_world: EmulatorWorld, complete: Complete) -> None:
    w = emulator_world
    order = complete.get(f"/marketplace-orders/{w.uuid('order')}/", params={"field": ["uuid", "issue"]})
    assert order == {"uuid": w.uuid("order"), "issue": None}
    resource = complete.get(f"/marketplace-resources/{w.uuid('resource')}/",
                            params={"field": ["uuid", "order_in_progress"]})
    assert resource == {"uuid": w.uuid("resource"), "order_in_progress": None}
    users = complete.get("/marketplace-offering-users/", params={"field": ["uuid", "service_provider_comment_url"]})
    assert all(set(u) == {"uuid", "service_provider_comment_url"} for u in users)
    assert complete.transport.problems == []
