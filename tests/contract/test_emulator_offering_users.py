"""Automatic offering users, as Waldur's marketplace handlers create them (docs/emulator.md, "Offering users").

Waldur runs its create-or-restore tasks when a project role is granted (``create_offering_users_when_project_role_
granted``), when a Create order reaches the provider (``create_offering_users_if_order_is_valid``: pending-provider
or executing) and when a resource's creation succeeds (``create_offering_user_for_new_resource``). Eligible are
offerings of type Basic, Slurm or Script with ``plugin_options.service_provider_can_create_offering_user``, with
an OK resource in the project or a Creating one whose Create order is with the provider. Every exchange passes
the schema-validating transport.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract.conftest import EmulatorWorld

pytestmark = pytest.mark.contract

OFFERING_USERS = "/marketplace-offering-users/"


def _offering(w: EmulatorWorld, name: str, *, allow: bool = True, kind: str = "Marketplace.Slurm",
              **plugin_options: Any) -> dict[str, Any]:
    options = {"service_provider_can_create_offering_user": allow, **plugin_options}
    offering = w.make(name, "/marketplace-provider-offerings/", {
        "name": name, "category": w.url("category"), "type": kind, "customer": w.url("customer"),
        "components": [{"type": "cpu", "name": "CPU", "billing_type": "limit"}],
        "plans": [{"name": "default", "unit": "month"}], "plugin_options": options,
    })
    w.call("POST", f"/marketplace-provider-offerings/{offering['uuid']}/activate/", expect=200)
    w.objects[f"{name}:plan"] = w.call("GET", f"/marketplace-public-offerings/{offering['uuid']}/plans/",
                                       expect=200)[0]
    return offering


def _lab(w: EmulatorWorld) -> dict[str, Any]:
    """A project whose members (carol as admin, dave as member) hold their roles before any resource exists."""
    lab = w.make("lab", "/projects/", {"customer": w.url("customer"), "name": "Lab"})
    for name, role in (("carol", "PROJECT.ADMIN"), ("dave", "PROJECT.MEMBER")):
        w.user(name)
        w.call("POST", f"/projects/{lab['uuid']}/add_user/", expect=201, body={"role": role, "user": w.uuid(name)})
    return lab


def _order(w: EmulatorWorld, offering: str, *, as_user: str | None = None) -> dict[str, Any]:
    body = {"offering": w.url(offering), "project": w.url("lab"), "plan": w.url(f"{offering}:plan"),
            "limits": {"cpu": 1}, "attributes": {"name": f"{offering}-resource"}}
    created: dict[str, Any] = w.call("POST", "/marketplace-orders/", expect=201, body=body, as_user=as_user)
    return created


def _records(w: EmulatorWorld, offering: str) -> dict[str, str]:
    """user UUID -> state of the offering's offering users."""
    listed = w.call("GET", OFFERING_USERS, expect=200, params={"offering_uuid": w.uuid(offering), "page_size": 50})
    return {r["user_uuid"]: r["state"] for r in listed}


def _members(w: EmulatorWorld, state: str = "Requested") -> dict[str, str]:
    return {w.uuid("carol"): state, w.uuid("dave"): state}


def test_the_first_resource_brings_offering_users_for_members_who_hold_roles(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    _offering(w, "hpc")
    _lab(w)
    assert _records(w, "hpc") == {}  # roles alone, no resource: nothing yet
    order = _order(w, "hpc", as_user="carol")  # a project admin may order but not approve: pending-consumer
    assert order["state"] == "pending-consumer"
    assert _records(w, "hpc") == {}
    w.call("POST", f"/marketplace-orders/{order['uuid']}/approve_by_consumer/", expect=200)
    assert _records(w, "hpc") == _members(w)  # the Create order reached the provider
    for action in ("approve_by_provider", "set_state_done"):
        w.call("POST", f"/marketplace-orders/{order['uuid']}/{action}/", expect=200)
    assert _records(w, "hpc") == _members(w)  # creation succeeded: no duplicates
    w.transport.assert_clean()


def test_an_order_executing_at_once_also_brings_them(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    _offering(w, "auto", auto_approve_remote_orders=True)
    _lab(w)
    order = _order(w, "auto")
    assert order["state"] == "executing"
    assert _records(w, "auto") == _members(w)
    w.transport.assert_clean()


def test_resource_creation_success_alone_brings_them(emulator_world: EmulatorWorld) -> None:
    """create_offering_user_for_new_resource: the provider allowed offering users only after approving."""
    w = emulator_world
    offering = _offering(w, "late", allow=False)
    _lab(w)
    order = _order(w, "late")
    w.call("POST", f"/marketplace-orders/{order['uuid']}/approve_by_provider/", expect=200)
    w.call("POST", f"/marketplace-provider-offerings/{offering['uuid']}/update_integration/", expect=200,
           body={"plugin_options": {"service_provider_can_create_offering_user": True}})
    assert _records(w, "late") == {}
    w.call("POST", f"/marketplace-orders/{order['uuid']}/set_state_done/", expect=200)
    assert _records(w, "late") == _members(w)
    w.transport.assert_clean()


@pytest.mark.parametrize(("kind", "allow"), [("Marketplace.Slurm", False), ("OpenStack.Tenant", True)])
def test_offerings_that_do_not_admit_them_get_none(emulator_world: EmulatorWorld, kind: str, allow: bool) -> None:
    w = emulator_world
    _offering(w, "closed", allow=allow, kind=kind)
    _lab(w)
    order = _order(w, "closed")
    w.call("POST", f"/marketplace-orders/{order['uuid']}/approve_by_provider/", expect=200)
    if kind == "Marketplace.Slurm":  # set_state_done is refused (405) for OpenStack offerings
        w.call("POST", f"/marketplace-orders/{order['uuid']}/set_state_done/", expect=200)
    w.call("POST", f"/projects/{w.uuid('lab')}/add_user/", expect=201,
           body={"role": "PROJECT.MEMBER", "user": w.uuid("bob")})
    assert not any(r.offering_uuid == w.uuid("closed") for r in w.emulator.state.offering_users.values())
    w.transport.assert_clean()


def test_basic_offerings_admit_them(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    _offering(w, "basic", kind="Marketplace.Basic")
    _lab(w)
    _order(w, "basic")
    assert _records(w, "basic") == _members(w)
    w.transport.assert_clean()


def test_a_role_granted_later_brings_one_but_not_while_the_resource_is_only_updating(
    emulator_world: EmulatorWorld,
) -> None:
    w = emulator_world
    _offering(w, "hpc")
    _lab(w)
    order = _order(w, "hpc")
    for action in ("approve_by_provider", "set_state_done"):
        w.call("POST", f"/marketplace-orders/{order['uuid']}/{action}/", expect=200)
    resource = order["marketplace_resource_uuid"]
    w.call("POST", f"/marketplace-resources/{resource}/update_limits/", expect=200, body={"limits": {"cpu": 2}})
    w.user("erin")
    w.call("POST", f"/projects/{w.uuid('lab')}/add_user/", expect=201,
           body={"role": "PROJECT.MEMBER", "user": w.uuid("erin")})
    assert w.uuid("erin") not in _records(w, "hpc")  # Updating is neither OK nor being created
    update = w.call("GET", "/marketplace-orders/", expect=200, params={"resource_uuid": resource, "type": "Update"})[0]
    for action in ("approve_by_provider", "set_state_done"):
        w.call("POST", f"/marketplace-orders/{update['uuid']}/{action}/", expect=200)
    w.user("frank")
    w.call("POST", f"/projects/{w.uuid('lab')}/add_user/", expect=201,
           body={"role": "PROJECT.MEMBER", "user": w.uuid("frank")})
    assert _records(w, "hpc")[w.uuid("frank")] == "Requested"
    w.transport.assert_clean()


def test_regaining_access_restores_a_record_in_the_deletion_flow(emulator_world: EmulatorWorld) -> None:
    """With a username the account still exists (OK); without one, or once Deleted, it is requested anew."""
    w = emulator_world
    _offering(w, "hpc", auto_approve_remote_orders=True)
    _lab(w)
    _order(w, "hpc")
    records = w.call("GET", OFFERING_USERS, expect=200, params={"offering_uuid": w.uuid("hpc")})
    by_user = {r["user_uuid"]: r["uuid"] for r in records}
    carol, dave = by_user[w.uuid("carol")], by_user[w.uuid("dave")]
    w.call("PATCH", f"{OFFERING_USERS}{carol}/", expect=200, body={"username": "carol01"})
    w.call("POST", f"{OFFERING_USERS}{carol}/request_deletion/", expect=200)
    w.call("POST", f"{OFFERING_USERS}{dave}/set_ok/", expect=200)
    for action in ("request_deletion", "set_deleting", "set_deleted"):
        w.call("POST", f"{OFFERING_USERS}{dave}/{action}/", expect=200)
    for name in ("carol", "dave"):
        w.call("POST", f"/projects/{w.uuid('lab')}/delete_user/", expect=200,
               body={"role": "PROJECT.ADMIN" if name == "carol" else "PROJECT.MEMBER", "user": w.uuid(name)})
        w.call("POST", f"/projects/{w.uuid('lab')}/add_user/", expect=201,
               body={"role": "PROJECT.MEMBER", "user": w.uuid(name)})
    assert _records(w, "hpc") == {w.uuid("carol"): "OK", w.uuid("dave"): "Requested"}
    w.transport.assert_clean()
