"""The emulator's state stays consistent: after every write operation the contract suites drive, each index of
the store agrees with its table (the store's own ``index_problems`` self-check), and indexed list filters return
what a scan of the table would."""

from __future__ import annotations

import pytest

from contract import test_emulator_schema, test_emulator_schema_market, test_emulator_schema_site
from contract.conftest import EmulatorWorld

pytestmark = pytest.mark.contract

WRITES = {**test_emulator_schema.DRIVERS, **test_emulator_schema_market.DRIVERS, **test_emulator_schema_site.DRIVERS}


def test_world_set_up_leaves_indexes_consistent(emulator_world: EmulatorWorld) -> None:
    assert emulator_world.emulator.state.index_problems() == []


@pytest.mark.parametrize("operation_id", sorted(WRITES))
def test_every_write_keeps_indexes_consistent(emulator_world: EmulatorWorld, operation_id: str) -> None:
    WRITES[operation_id](emulator_world)
    assert emulator_world.emulator.state.index_problems() == []
    emulator_world.transport.assert_clean()


def test_deletes_cascade_through_the_indexes(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    w.call("DELETE", f"/users/{w.uuid('bob')}/", expect=204)
    w.call("DELETE", f"/marketplace-site-agent-identities/{w.uuid('identity')}/", expect=204)
    w.call("DELETE", f"/event-subscriptions/{w.uuid('subscription')}/", expect=204)
    pending = w.order("pending")
    w.call("DELETE", f"/marketplace-orders/{pending['uuid']}/", expect=204)
    state = w.emulator.state
    assert state.index_problems() == []
    assert w.uuid("bob") not in {a.user_uuid for a in state.assignments.values()}
    assert state.orders_by_resource.get(pending["marketplace_resource_uuid"]) == []
    assert state.queues == {}
    w.transport.assert_clean()


def test_indexed_filters_match_a_scan(emulator_world: EmulatorWorld) -> None:
    w = emulator_world
    w.order("second")
    w.call("POST", "/marketplace-component-usages/set_usage/", expect=201,
           body={"resource": w.uuid("resource"), "usages": [{"type": "cpu", "amount": "3"}]})
    state = w.emulator.state
    for path, key, table in (
        ("/marketplace-orders/", "resource_uuid", state.orders),
        ("/marketplace-component-usages/", "resource_uuid", state.usages),
    ):
        listed = w.call("GET", path, expect=200, params={key: w.uuid("resource"), "page_size": 100})
        scanned = {u for u, r in table.items() if r.resource_uuid == w.uuid("resource")}
        assert {item["uuid"] for item in listed} == scanned, path
    offering_users = w.call("GET", "/marketplace-offering-users/", expect=200,
                            params={"offering_uuid": w.uuid("offering"), "page_size": 100})
    assert {r["uuid"] for r in offering_users} == set(state.offering_users)
    w.transport.assert_clean()


def test_the_self_check_notices_a_write_around_the_store(emulator_world: EmulatorWorld) -> None:
    state = emulator_world.emulator.state
    usage = next(iter(state.usages.values()))
    del state.usages[usage.uuid]  # what api_usage used to do the other way round: a table write without its index
    stale = f"usages_by_resource[{usage.resource_uuid}]: stale [{usage.uuid!r}] (ComponentUsage)"
    assert state.index_problems() == [stale]
