"""The emulator's marketplace write operations (orders, resources, offering users, usages, identity bridge,
site agents, event subscriptions), each driven through the OpenAPI-validating transport in a fresh world."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contract.conftest import EmulatorWorld

pytestmark = pytest.mark.contract

Driver = Callable[[EmulatorWorld], None]
DRIVERS: dict[str, Driver] = {}
UNKNOWN = "0123456789abcdef0123456789abcdef"
ORDERS = "/marketplace-orders/"


def drives(operation_id: str) -> Callable[[Driver], Driver]:
    """Register a function as the driver of an operation."""

    def register(driver: Driver) -> Driver:
        DRIVERS[operation_id] = driver
        return driver

    return register


# --- orders ----------------------------------------------------------------------------------------------------


@drives("marketplace_orders_create")
def _orders_create(w: EmulatorWorld) -> None:
    w.order("second")
    w.call("POST", ORDERS, expect=400, invalid=True, body={"project": w.url("project")})


def _order_action(action: str, *, setup: tuple[str, ...] = (), expect: int = 200, body: object = None,
                  as_user: str | None = None, repeat: int | None = 409) -> Driver:
    def drive(w: EmulatorWorld) -> None:
        order = w.order("pending")
        for step in setup:
            w.call("POST", f"{ORDERS}{order['uuid']}/{step}/", expect=200)
        w.call("POST", f"{ORDERS}{order['uuid']}/{action}/", expect=expect, body=body, as_user=as_user)
        if repeat is not None:
            w.call("POST", f"{ORDERS}{order['uuid']}/{action}/", expect=repeat, body=body)
        w.call("POST", f"{ORDERS}{UNKNOWN}/{action}/", expect=404, body=body)

    return drive


DRIVERS["marketplace_orders_approve_by_provider"] = _order_action("approve_by_provider", as_user="manager")
DRIVERS["marketplace_orders_reject_by_provider"] = _order_action(
    "reject_by_provider", body={"provider_rejection_comment": "no capacity"}
)
DRIVERS["marketplace_orders_set_state_executing"] = _order_action("set_state_executing", repeat=None)
DRIVERS["marketplace_orders_set_state_done"] = _order_action("set_state_done", setup=("approve_by_provider",))
DRIVERS["marketplace_orders_set_state_erred"] = _order_action(
    "set_state_erred", setup=("approve_by_provider",), body={"error_message": "boom", "error_traceback": "tb"},
    repeat=None,
)
DRIVERS["marketplace_orders_set_backend_id"] = _order_action(
    "set_backend_id", body={"backend_id": "job-1"}, repeat=200
)


@drives("marketplace_orders_approve_by_consumer")
def _orders_approve_by_consumer(w: EmulatorWorld) -> None:
    body = {"offering": w.url("offering"), "project": w.url("project"), "plan": w.url("plan"),
            "limits": {"cpu": 1}, "attributes": {"name": "by-alice"}}
    order = w.call("POST", ORDERS, expect=201, body=body, as_user="alice")
    if order["state"] == "pending-consumer":
        w.call("POST", f"{ORDERS}{order['uuid']}/approve_by_consumer/", expect=200)
    w.call("POST", f"{ORDERS}{order['uuid']}/approve_by_consumer/", expect=409)


@drives("marketplace_orders_reject_by_consumer")
def _orders_reject_by_consumer(w: EmulatorWorld) -> None:
    order = w.order("pending")
    w.call("POST", f"{ORDERS}{order['uuid']}/reject_by_consumer/", expect=409)
    w.call("POST", f"{ORDERS}{UNKNOWN}/reject_by_consumer/", expect=404)


@drives("marketplace_orders_cancel")
def _orders_cancel(w: EmulatorWorld) -> None:
    order = w.order("pending")
    w.call("POST", f"{ORDERS}{order['uuid']}/cancel/", expect=405)  # Waldur cancels only some offering types
    w.call("POST", f"{ORDERS}{UNKNOWN}/cancel/", expect=404)
    body = {"name": "Basic", "category": w.url("category"), "type": "Marketplace.Basic", "customer": w.url("customer"),
            "plans": [{"name": "basic", "unit": "month"}]}
    basic = w.make("basic", "/marketplace-provider-offerings/", body)
    w.call("POST", f"/marketplace-provider-offerings/{basic['uuid']}/activate/", expect=200)
    plan = w.call("GET", f"/marketplace-public-offerings/{basic['uuid']}/plans/", expect=200)[0]
    order = w.order("basic_order", offering=basic["url"], plan=plan["url"], limits={})
    w.call("POST", f"{ORDERS}{order['uuid']}/cancel/", expect=202)
    w.call("POST", f"{ORDERS}{order['uuid']}/cancel/", expect=409)


@drives("marketplace_orders_update")
def _orders_update(w: EmulatorWorld) -> None:
    order = w.order("pending")
    w.call("PUT", f"{ORDERS}{order['uuid']}/", expect=200, body={"limits": {"cpu": 20}, "attributes": {"a": 1}})


@drives("marketplace_orders_partial_update")
def _orders_partial_update(w: EmulatorWorld) -> None:
    order = w.order("pending")
    w.call("PATCH", f"{ORDERS}{order['uuid']}/", expect=200, body={"start_date": "2030-01-01"})


@drives("marketplace_orders_destroy")
def _orders_destroy(w: EmulatorWorld) -> None:
    order = w.order("pending")
    w.call("DELETE", f"{ORDERS}{order['uuid']}/", expect=204)
    w.call("DELETE", f"{ORDERS}{order['uuid']}/", expect=404)


# --- resources ---------------------------------------------------------------------------------------------------


def _resource_action(base: str, action: str, body: object, expect: int = 200, method: str = "POST") -> Driver:
    def drive(w: EmulatorWorld) -> None:
        suffix = f"{action}/" if action else ""
        w.call(method, f"{base}{w.uuid('resource')}/{suffix}", expect=expect, body=body)
        w.call(method, f"{base}{UNKNOWN}/{suffix}", expect=404, body=body)

    return drive


CONSUMER, PROVIDER = "/marketplace-resources/", "/marketplace-provider-resources/"
for _base, _prefix in ((CONSUMER, "marketplace_resources"), (PROVIDER, "marketplace_provider_resources")):
    DRIVERS[f"{_prefix}_update"] = _resource_action(_base, "", {"name": "renamed", "description": "d"}, method="PUT")
    DRIVERS[f"{_prefix}_partial_update"] = _resource_action(_base, "", {"description": "d"}, method="PATCH")
    DRIVERS[f"{_prefix}_set_end_date_by_staff"] = _resource_action(_base, "set_end_date_by_staff",
                                                                   {"end_date": "2031-01-01"})
    DRIVERS[f"{_prefix}_terminate"] = _resource_action(_base, "terminate", {"attributes": {}})
DRIVERS["marketplace_resources_update_limits"] = _resource_action(CONSUMER, "update_limits", {"limits": {"cpu": 20}})
DRIVERS["marketplace_resources_set_downscaled"] = _resource_action(CONSUMER, "set_downscaled", {"downscaled": True})
DRIVERS["marketplace_resources_set_paused"] = _resource_action(CONSUMER, "set_paused", {"paused": True})
DRIVERS["marketplace_resources_set_restrict_member_access"] = _resource_action(
    CONSUMER, "set_restrict_member_access", {"restrict_member_access": True}
)
for _action, _body in (
    ("set_backend_id", {"backend_id": "alloc-7"}),
    ("set_limits", {"limits": {"cpu": 30}}),
    ("set_end_date_by_provider", {"end_date": "2031-01-01"}),
    ("set_as_erred", {"error_message": "node down", "error_traceback": ""}),
    ("set_as_ok", None),
    ("set_state_ok", None),
    ("set_backend_metadata", {"backend_metadata": {"cluster": "c1"}}),
    ("refresh_last_sync", None),
):
    DRIVERS[f"marketplace_provider_resources_{_action}"] = _resource_action(PROVIDER, _action, _body)


# --- offering users ------------------------------------------------------------------------------------------------

OFFERING_USERS = "/marketplace-offering-users/"


@drives("marketplace_offering_users_create")
def _offering_users_create(w: EmulatorWorld) -> None:
    w.user("carol")  # alice and bob, members of the world's project, have offering users already
    body = {"offering": w.url("offering"), "user": w.url("carol"), "username": "carol01"}
    w.call("POST", OFFERING_USERS, expect=201, body=body)
    w.call("POST", OFFERING_USERS, expect=400, invalid=True, body={"offering": w.url("offering")})


@drives("marketplace_offering_users_partial_update")
def _offering_users_partial_update(w: EmulatorWorld) -> None:
    path = f"{OFFERING_USERS}{w.uuid('offering_user')}/"
    w.call("PATCH", path, expect=200, body={"username": "bob01"}, as_user="manager")
    w.call("PATCH", path, expect=404, body={"username": "bob02"}, as_user="alice")


@drives("marketplace_offering_users_update")
def _offering_users_update(w: EmulatorWorld) -> None:
    w.call("PUT", f"{OFFERING_USERS}{w.uuid('offering_user')}/", expect=200, body={"username": "bob01"})


@drives("marketplace_offering_users_destroy")
def _offering_users_destroy(w: EmulatorWorld) -> None:
    w.call("DELETE", f"{OFFERING_USERS}{w.uuid('offering_user')}/", expect=204)
    w.call("DELETE", f"{OFFERING_USERS}{w.uuid('offering_user')}/", expect=404)


@drives("marketplace_offering_users_update_restricted")
def _offering_users_update_restricted(w: EmulatorWorld) -> None:
    path = f"{OFFERING_USERS}{w.uuid('offering_user')}/update_restricted/"
    w.call("POST", path, expect=200, body={"is_restricted": True})
    w.call("POST", path, expect=400, invalid=True, body={})


def _offering_user_transition(action: str, before: tuple[str, ...] = (), body: object = None) -> Driver:
    def drive(w: EmulatorWorld) -> None:
        path = f"{OFFERING_USERS}{w.uuid('offering_user')}/"
        for step in before:
            w.call("POST", f"{path}{step}/", expect=200)
        w.call("POST", f"{path}{action}/", expect=200, body=body)
        w.call("POST", f"{OFFERING_USERS}{UNKNOWN}/{action}/", expect=404, body=body)

    return drive


for _action, _before in (
    ("begin_creating", ()),
    ("set_ok", ()),
    ("set_pending_account_linking", ("begin_creating",)),
    ("set_pending_additional_validation", ("begin_creating",)),
    ("set_validation_complete", ("begin_creating", "set_pending_additional_validation")),
    ("set_error_creating", ("begin_creating",)),
    ("request_deletion", ("set_ok",)),
    ("set_deleting", ("set_ok", "request_deletion")),
    ("set_deleted", ("set_ok", "request_deletion", "set_deleting")),
    ("set_error_deleting", ("set_ok", "request_deletion", "set_deleting")),
):
    _body = {"comment": "see ticket", "comment_url": "https://example.org/t/1"} if "pending" in _action else None
    DRIVERS[f"marketplace_offering_users_{_action}"] = _offering_user_transition(_action, _before, _body)


# --- usages, identity bridge, remote eduteams ----------------------------------------------------------------------


@drives("marketplace_component_usages_set_usage")
def _set_usage(w: EmulatorWorld) -> None:
    body = {"resource": w.uuid("resource"), "usages": [{"type": "ram", "amount": "7.25", "description": "May"}]}
    w.call("POST", "/marketplace-component-usages/set_usage/", expect=201, body=body)
    w.call("POST", "/marketplace-component-usages/set_usage/", expect=400, invalid=True,
           body={"resource": w.uuid("resource")})


@drives("marketplace_component_usages_set_user_usage")
def _set_user_usage(w: EmulatorWorld) -> None:
    path = f"/marketplace-component-usages/{w.uuid('usage')}/set_user_usage/"
    w.call("POST", path, expect=201, body={"username": "bob", "usage": "1.5"})
    w.call("POST", path, expect=400, invalid=True, body={"usage": "1"})


@drives("marketplace_component_usages_set_user_usages")
def _set_user_usages(w: EmulatorWorld) -> None:
    path = f"/marketplace-component-usages/{w.uuid('usage')}/set_user_usages/"
    w.call("POST", path, expect=201, body={"usages": [{"username": "bob", "usage": "1"},
                                                      {"username": "alice", "usage": "2"}]})
    w.call("POST", path, expect=400, invalid=True, body={})


@drives("identity_bridge")
def _identity_bridge(w: EmulatorWorld) -> None:
    w.call("PATCH", f"/users/{w.uuid('manager')}/", expect=200,
           body={"is_identity_manager": True, "managed_isds": ["isd:puhuri"]})
    body = {"username": "cuid-1@puhuri", "source": "isd:puhuri", "first_name": "Eve", "email": "eve@example.org"}
    w.call("POST", "/identity-bridge/", expect=200, body=body, as_user="manager")
    w.call("POST", "/identity-bridge/", expect=400, invalid=True, body={"username": "x"}, as_user="manager")
    w.call("POST", "/identity-bridge/", expect=403, body=body, as_user="alice")


@drives("identity_bridge_remove")
def _identity_bridge_remove(w: EmulatorWorld) -> None:
    w.call("PATCH", f"/users/{w.uuid('manager')}/", expect=200,
           body={"is_identity_manager": True, "managed_isds": ["isd:puhuri"]})
    body = {"username": "cuid-1@puhuri", "source": "isd:puhuri"}
    w.call("POST", "/identity-bridge/", expect=200, body=body, as_user="manager")
    w.call("POST", "/identity-bridge/remove/", expect=200, body=body, as_user="manager")
    w.call("POST", "/identity-bridge/remove/", expect=400, invalid=True, body={"source": "isd:puhuri"},
           as_user="manager")


@drives("remote_eduteams")
def _remote_eduteams(w: EmulatorWorld) -> None:
    w.emulator.add_known_cuid("abc@eduteams.org", {"email": "abc@example.org"})
    w.call("POST", "/remote-eduteams/", expect=200, body={"cuid": "abc@eduteams.org"})
    w.call("POST", "/remote-eduteams/", expect=404, body={"cuid": "unknown@eduteams.org"})


# --- site agents and event subscriptions ---------------------------------------------------------------------------

IDENTITIES = "/marketplace-site-agent-identities/"


@drives("marketplace_site_agent_identities_create")
def _identities_create(w: EmulatorWorld) -> None:
    w.call("POST", IDENTITIES, expect=201, body={"name": "agent-2", "offering": w.uuid("offering")})
    w.call("POST", IDENTITIES, expect=400, invalid=True, body={"name": "agent-3"})


@drives("marketplace_site_agent_identities_update")
def _identities_update(w: EmulatorWorld) -> None:
    body = {"name": "agent", "offering": w.uuid("offering"), "version": "1.2.3"}
    w.call("PUT", f"{IDENTITIES}{w.uuid('identity')}/", expect=200, body=body)


@drives("marketplace_site_agent_identities_destroy")
def _identities_destroy(w: EmulatorWorld) -> None:
    w.call("DELETE", f"{IDENTITIES}{w.uuid('identity')}/", expect=204)
    w.call("DELETE", f"{IDENTITIES}{w.uuid('identity')}/", expect=404)


@drives("marketplace_site_agent_identities_register_service")
def _register_service(w: EmulatorWorld) -> None:
    path = f"{IDENTITIES}{w.uuid('identity')}/register_service/"
    w.call("POST", path, expect=201, body={"name": "order-processor", "mode": "event"})
    w.call("POST", path, expect=200, body={"name": "order-processor", "mode": "event"})
    w.call("POST", path, expect=400, invalid=True, body={})


@drives("marketplace_site_agent_identities_register_event_subscription")
def _register_event_subscription(w: EmulatorWorld) -> None:
    path = f"{IDENTITIES}{w.uuid('identity')}/register_event_subscription/"
    w.call("POST", path, expect=(200, 201), body={"observable_object_type": "order"})
    w.call("POST", path, expect=200, body={"observable_object_type": "order"})
    w.call("POST", path, expect=400, invalid=True, body={"observable_object_type": "offering_resources_sync"})


@drives("event_subscriptions_create")
def _subscriptions_create(w: EmulatorWorld) -> None:
    body = {"description": "agent", "observable_objects": [{"object_type": "resource"}]}
    w.call("POST", "/event-subscriptions/", expect=201, body=body, as_user="manager")


@drives("event_subscriptions_create_queue")
def _subscriptions_create_queue(w: EmulatorWorld) -> None:
    path = f"/event-subscriptions/{w.uuid('subscription')}/create_queue/"
    w.call("POST", path, expect=201, body={"offering_uuid": w.uuid("offering"), "object_type": "resource"})
    w.call("POST", path, expect=400, invalid=True, body={"offering_uuid": w.uuid("offering"), "object_type": "invoice"})


@drives("event_subscriptions_destroy")
def _subscriptions_destroy(w: EmulatorWorld) -> None:
    w.call("DELETE", f"/event-subscriptions/{w.uuid('subscription')}/", expect=204)
    w.call("DELETE", f"/event-subscriptions/{w.uuid('subscription')}/", expect=404)


@drives("event_subscription_queues_destroy")
def _queues_destroy(w: EmulatorWorld) -> None:
    w.call("DELETE", f"/event-subscription-queues/{w.uuid('queue')}/", expect=204)
    w.call("DELETE", f"/event-subscription-queues/{w.uuid('queue')}/", expect=404)


@pytest.mark.parametrize("operation_id", sorted(DRIVERS))
def test_operation_traffic_conforms(emulator_world: EmulatorWorld, operation_id: str) -> None:
    DRIVERS[operation_id](emulator_world)
    assert emulator_world.transport.calls[operation_id] > 0, f"the driver never called {operation_id}"
    emulator_world.transport.assert_clean()
