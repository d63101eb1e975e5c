"""Every write operation the emulator implements, driven through the OpenAPI-validating transport.

Each test drives one operation (success and, where the operation has one, its error path) in a fresh world and
asserts that no request or response deviated from Waldur 8.0.5's schema. Reads (lists, retrieves, HEAD counts,
pagination, ``field=``) and the generic error paths are in ``test_emulator_schema_reads.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contract.conftest import EmulatorWorld

pytestmark = pytest.mark.contract

Driver = Callable[[EmulatorWorld], None]
DRIVERS: dict[str, Driver] = {}
UNKNOWN = "0123456789abcdef0123456789abcdef"


def drives(operation_id: str) -> Callable[[Driver], Driver]:
    """Register a function as the driver of an operation."""

    def register(driver: Driver) -> Driver:
        DRIVERS[operation_id] = driver
        return driver

    return register


def _roles(prefix: str, target: str, role: str) -> None:
    """add_user / update_user / delete_user / list_users on a scope (customer, project, provider, offering)."""
    for action in ("add_user", "update_user", "delete_user"):

        def drive(w: EmulatorWorld, action: str = action) -> None:
            path = f"{prefix}{w.uuid(target)}/"
            body = {"role": role, "user": w.uuid("bob")}
            if action != "add_user":
                w.call("POST", path + "add_user/", expect=201, body=body)
            expect = 201 if action == "add_user" else 200
            if action == "update_user":
                body = body | {"expiration_time": "2030-01-01T00:00:00Z"}
            w.call("POST", path + f"{action}/", expect=expect, body=body)
            w.call("POST", path + f"{action}/", expect=400, invalid=True, body={"role": role})
            w.user("eve")  # no role anywhere
            w.call("POST", path + f"{action}/", expect=(403, 404), body=body, as_user="eve")

        DRIVERS[f"{_op_prefix(prefix)}_{action}"] = drive


def _op_prefix(prefix: str) -> str:
    return prefix.strip("/").replace("-", "_")


_roles("/customers/", "customer", "CUSTOMER.OWNER")
_roles("/projects/", "project", "PROJECT.MANAGER")
_roles("/marketplace-service-providers/", "provider", "CUSTOMER.OWNER")
_roles("/marketplace-provider-offerings/", "offering", "OFFERING.MANAGER")


# --- identity: users, customers, categories, providers, projects ------------------------------------------------


@drives("users_create")
def _users_create(w: EmulatorWorld) -> None:
    w.call("POST", "/users/", expect=201, body={"username": "carol", "email": "carol@example.org"})
    w.call("POST", "/users/", expect=400, invalid=True, body={"username": "carol2"})
    w.call("POST", "/users/", expect=403, body={"username": "dave", "email": "d@example.org"}, as_user="alice")


@drives("users_update")
def _users_update(w: EmulatorWorld) -> None:
    w.call("PUT", f"/users/{w.uuid('alice')}/", expect=200, body={"username": "alice", "email": "a@example.org"})


@drives("users_partial_update")
def _users_partial_update(w: EmulatorWorld) -> None:
    body = {"is_identity_manager": True, "managed_isds": ["isd:puhuri"]}
    w.call("PATCH", f"/users/{w.uuid('manager')}/", expect=200, body=body)
    w.call("PATCH", f"/users/{w.uuid('alice')}/", expect=200, body={"first_name": "Al"}, as_user="alice")
    w.call("PATCH", f"/users/{UNKNOWN}/", expect=404, body={"first_name": "X"})


@drives("users_refresh_token")
def _users_refresh_token(w: EmulatorWorld) -> None:
    w.call("POST", f"/users/{w.uuid('alice')}/refresh_token/", expect=403, as_user="bob")
    w.call("POST", f"/users/{w.uuid('bob')}/refresh_token/", expect=200)


@drives("users_destroy")
def _users_destroy(w: EmulatorWorld) -> None:
    w.call("DELETE", f"/users/{w.uuid('alice')}/", expect=403, as_user="bob")
    w.call("DELETE", f"/users/{w.uuid('alice')}/", expect=204)


@drives("customers_create")
def _customers_create(w: EmulatorWorld) -> None:
    w.call("POST", "/customers/", expect=201, body={"name": "Consumer org", "abbreviation": "CO"})
    w.call("POST", "/customers/", expect=400, invalid=True, body={"abbreviation": "X"})


@drives("customers_update")
def _customers_update(w: EmulatorWorld) -> None:
    w.call("PUT", f"/customers/{w.uuid('customer')}/", expect=200, body={"name": "Renamed"})


@drives("customers_partial_update")
def _customers_partial_update(w: EmulatorWorld) -> None:
    w.call("PATCH", f"/customers/{w.uuid('customer')}/", expect=200, body={"description": "x"})
    w.call("PATCH", f"/customers/{w.uuid('customer')}/", expect=403, body={"description": "x"}, as_user="bob")


@drives("customers_destroy")
def _customers_destroy(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/customers/", {"name": "Spare"})
    w.call("DELETE", f"/customers/{spare['uuid']}/", expect=204)


@drives("marketplace_categories_create")
def _categories_create(w: EmulatorWorld) -> None:
    w.call("POST", "/marketplace-categories/", expect=201, body={"title": "Storage", "description": "Disks"})
    w.call("POST", "/marketplace-categories/", expect=400, invalid=True, body={"description": "no title"})


@drives("marketplace_categories_destroy")
def _categories_destroy(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/marketplace-categories/", {"title": "Spare"})
    w.call("DELETE", f"/marketplace-categories/{spare['uuid']}/", expect=204)


@drives("marketplace_service_providers_create")
def _providers_create(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/customers/", {"name": "Second provider"})
    w.call("POST", "/marketplace-service-providers/", expect=201, body={"customer": spare["url"]})
    w.call("POST", "/marketplace-service-providers/", expect=400, invalid=True, body={})


@drives("marketplace_service_providers_destroy")
def _providers_destroy(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/customers/", {"name": "Second provider"})
    provider = w.make("spare_provider", "/marketplace-service-providers/", {"customer": spare["url"]})
    w.call("DELETE", f"/marketplace-service-providers/{provider['uuid']}/", expect=204)


@drives("projects_create")
def _projects_create(w: EmulatorWorld) -> None:
    w.call("POST", "/projects/", expect=201, body={"customer": w.url("customer"), "name": "Second"})
    w.call("POST", "/projects/", expect=400, invalid=True, body={"name": "No customer"})
    w.call("POST", "/projects/", expect=403, body={"customer": w.url("customer"), "name": "X"}, as_user="bob")


@drives("projects_update")
def _projects_update(w: EmulatorWorld) -> None:
    body = {"customer": w.url("customer"), "name": "Renamed", "backend_id": "p-2"}
    w.call("PUT", f"/projects/{w.uuid('project')}/", expect=200, body=body)


@drives("projects_partial_update")
def _projects_partial_update(w: EmulatorWorld) -> None:
    w.call("PATCH", f"/projects/{w.uuid('project')}/", expect=200, body={"description": "d"})
    w.call("PATCH", f"/projects/{UNKNOWN}/", expect=404, body={"description": "d"})


@drives("projects_destroy")
def _projects_destroy(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/projects/", {"customer": w.url("customer"), "name": "Spare"})
    w.call("DELETE", f"/projects/{spare['uuid']}/", expect=204)


# --- offerings, components and plans ----------------------------------------------------------------------------


@drives("marketplace_provider_offerings_create")
def _offerings_create(w: EmulatorWorld) -> None:
    body = {"name": "Basic", "category": w.url("category"), "type": "Marketplace.Basic", "customer": w.url("customer")}
    w.call("POST", "/marketplace-provider-offerings/", expect=201, body=body)
    w.call("POST", "/marketplace-provider-offerings/", expect=400, invalid=True, body={"name": "No type"})


def _offering_action(action: str, expect: int, body: object = None, *, then_conflict: bool = False) -> Driver:
    def drive(w: EmulatorWorld) -> None:
        path = f"/marketplace-provider-offerings/{w.uuid('offering')}/{action}/"
        w.call("POST", path, expect=expect, body=body)
        if then_conflict:
            w.call("POST", path, expect=409, body=body)
        w.call("POST", f"/marketplace-provider-offerings/{UNKNOWN}/{action}/", expect=404, body=body)

    return drive


DRIVERS["marketplace_provider_offerings_pause"] = _offering_action("pause", 200, {"paused_reason": "x"})
DRIVERS["marketplace_provider_offerings_archive"] = _offering_action("archive", 200, then_conflict=True)
DRIVERS["marketplace_provider_offerings_update_integration"] = _offering_action(
    "update_integration", 200, {"plugin_options": {"service_provider_can_create_offering_user": False}}
)
DRIVERS["marketplace_provider_offerings_draft"] = _offering_action("draft", 200, then_conflict=True)
DRIVERS["marketplace_provider_offerings_update_overview"] = _offering_action(
    "update_overview", 200, {"name": "Renamed offering", "description": "overview"}
)
DRIVERS["marketplace_provider_offerings_update_attributes"] = _offering_action("update_attributes", 200, {"x": 1})
DRIVERS["marketplace_provider_offerings_create_offering_component"] = _offering_action(
    "create_offering_component", 201, {"type": "gpu", "name": "GPU", "billing_type": "limit"}
)


@drives("marketplace_provider_offerings_activate")
def _offerings_activate(w: EmulatorWorld) -> None:
    path = f"/marketplace-provider-offerings/{w.uuid('offering')}/activate/"
    w.call("POST", path, expect=409)
    w.call("POST", path, expect=(403, 404), as_user="bob")


@drives("marketplace_provider_offerings_update_offering_component")
def _offerings_update_component(w: EmulatorWorld) -> None:
    offering = w.call("GET", f"/marketplace-provider-offerings/{w.uuid('offering')}/", expect=200)
    cpu = next(c for c in offering["components"] if c["type"] == "cpu")
    body = {"uuid": cpu["uuid"], "type": "cpu", "name": "CPU hours", "billing_type": "limit"}
    w.call("POST", f"/marketplace-provider-offerings/{w.uuid('offering')}/update_offering_component/", expect=200,
           body=body)
    w.call("POST", f"/marketplace-provider-offerings/{w.uuid('offering')}/update_offering_component/", expect=400,
           body=body | {"uuid": UNKNOWN})


@drives("marketplace_provider_offerings_remove_offering_component")
def _offerings_remove_component(w: EmulatorWorld) -> None:
    offering = w.call("GET", f"/marketplace-provider-offerings/{w.uuid('offering')}/", expect=200)
    ram = next(c for c in offering["components"] if c["type"] == "ram")
    path = f"/marketplace-provider-offerings/{w.uuid('offering')}/remove_offering_component/"
    w.call("POST", path, expect=200, body={"uuid": ram["uuid"]})
    w.call("POST", path, expect=400, body={"uuid": UNKNOWN})


@drives("marketplace_plans_create")
def _plans_create(w: EmulatorWorld) -> None:
    w.call("POST", "/marketplace-plans/", expect=201, body={"name": "gold", "offering": w.url("offering"),
                                                            "unit": "month", "unit_price": "10.00"})
    w.call("POST", "/marketplace-plans/", expect=400, invalid=True, body={"name": "no offering"})


@drives("marketplace_plans_update")
def _plans_update(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/marketplace-plans/", {"name": "spare", "offering": w.url("offering"), "unit": "month"})
    body = {"name": "renamed", "offering": w.url("offering"), "unit": "month"}
    w.call("PUT", f"/marketplace-plans/{spare['uuid']}/", expect=200, body=body)
    w.call("PUT", f"/marketplace-plans/{w.uuid('plan')}/", expect=409, body=body)


@drives("marketplace_plans_partial_update")
def _plans_partial_update(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/marketplace-plans/", {"name": "spare", "offering": w.url("offering"), "unit": "month"})
    w.call("PATCH", f"/marketplace-plans/{spare['uuid']}/", expect=200, body={"description": "d"})


@drives("marketplace_plans_destroy")
def _plans_destroy(w: EmulatorWorld) -> None:
    spare = w.make("spare", "/marketplace-plans/", {"name": "spare", "offering": w.url("offering"), "unit": "month"})
    w.call("DELETE", f"/marketplace-plans/{spare['uuid']}/", expect=204)


@drives("marketplace_plans_archive")
def _plans_archive(w: EmulatorWorld) -> None:
    w.call("POST", f"/marketplace-plans/{w.uuid('plan')}/archive/", expect=200)
    w.call("POST", f"/marketplace-plans/{w.uuid('plan')}/archive/", expect=400)


@drives("marketplace_plans_update_prices")
def _plans_update_prices(w: EmulatorWorld) -> None:
    path = f"/marketplace-plans/{w.uuid('plan')}/update_prices/"
    w.call("POST", path, expect=200, body={"prices": {"cpu": "0.50", "ram": "1"}})
    w.call("POST", path, expect=400, invalid=True, body={})


@drives("marketplace_plans_update_quotas")
def _plans_update_quotas(w: EmulatorWorld) -> None:
    path = f"/marketplace-plans/{w.uuid('plan')}/update_quotas/"
    w.call("POST", path, expect=200, body={"quotas": {"cpu": 100}})
    w.call("POST", path, expect=400, invalid=True, body={})


# --- the test -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation_id", sorted(DRIVERS))
def test_operation_traffic_conforms(emulator_world: EmulatorWorld, operation_id: str) -> None:
    DRIVERS[operation_id](emulator_world)
    assert emulator_world.transport.calls[operation_id] > 0, f"the driver never called {operation_id}"
    emulator_world.transport.assert_clean()
