"""Storms: a fifth of all requests to A and to B fail while ``fedcore run`` carries Create orders.

Both emulators get seeded rules at rate 0.2 (``storm_kit.storm_rules``): 500 and 503 answers, timeouts longer than
fedcore's read timeout, dropped connections, and apply-then-fail (the change is made, the answer is a 500), spread
over every call. B's provider is the emulator's provider simulation (set through the admin API, never faulted), so
B orders are approved and completed as soon as they are pending. fedcore runs as a daemon with short periods and
short order backoff. Afterwards, with the storm over: every A order is done, none erred, and each has exactly one B
order (by its idempotency key) and one B resource, and B holds no other resource of the offering.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from storm_kit import (
    Fedcore,
    Running,
    World,
    a_states,
    b_orders_by_key,
    b_resources_of,
    end_storm,
    place_orders,
    spread_projects,
    start_storm,
    until,
)

pytestmark = pytest.mark.e2e

ORDERS = int(os.environ.get("FEDCORE_STORM_ORDERS", "200"))
"""Create orders carried through the storm (a longer soak: set the variable)."""
PROJECTS = 10
SEED = int(os.environ.get("FEDCORE_STORM_SEED", "20"))
DEADLINE = float(os.environ.get("FEDCORE_STORM_DEADLINE", "90"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


def test_a_storm_of_faults_on_both_sides_leaves_every_order_done_once(world: World) -> None:
    simulated = world.staff_b.put(f"/api/emulator/offerings/{world.fed.b.offering_uuid}/provider-simulation/",
                                  json={"delay": 0, "outcome": "done"})
    assert simulated.status_code < 300, simulated.text
    feds = spread_projects(world, PROJECTS)
    orders = place_orders(world, feds, ORDERS)
    config = world.write_config(world.config(
        periods={"order_process": 0.005},
        http_timeouts={"connect": 1.0, "read": 0.5, "write": 1.0, "pool": 2.0}))

    start_storm(world, SEED, timeout_seconds=0.8)
    started = time.monotonic()
    running = Running(Fedcore().start("run", "-c", config, "-m", "order_process", "--workers", "6",
                                      "--backoff-initial", "0.05", "--backoff-max", "0.5"))
    try:
        def finished() -> bool:
            states = a_states(world.a, orders)
            return states["done"] + states["erred"] + states["rejected"] + states["canceled"] == len(orders)

        until(finished, f"{ORDERS} orders to finish through the storm (now {a_states(world.a, orders)})", DEADLINE)
        elapsed = time.monotonic() - started
    finally:
        running.signal(15)
        code, log = running.wait(30)
    fired = end_storm(world)

    states = a_states(world.a, orders)
    assert states == {"done": len(orders)}, states
    assert code == 0, log[-3000:]
    by_key = b_orders_by_key(world.b)
    assert sorted(by_key) == sorted(orders)
    twice = {a: b for a, b in by_key.items() if len(b) != 1}
    assert not twice, f"A orders with more than one B order: {twice}"
    b_resources = b_resources_of(world.b, [b[0] for b in by_key.values()])
    assert len(set(b_resources)) == len(orders)
    with world.b.locked():
        offering_resources = {r.uuid for r in world.b.state.resources.values()
                              if r.offering_uuid == world.fed.b.offering_uuid}
        assert {world.b.state.resources[r].state for r in b_resources} == {"OK"}
    assert offering_resources == set(b_resources), "B holds resources no A order is linked to"
    with world.a.locked():
        linked = {world.a.state.resources[world.a.state.orders[o].resource_uuid].backend_id for o in orders}
    assert linked == set(b_resources), "each A resource names its own B resource"
    # the storm really blew: about a fifth of fedcore's calls failed (and the log says what it did about them)
    assert fired >= len(orders) // 2, fired
    print(f"storm: {len(orders)} orders done in {elapsed:.1f} s, {fired} faults injected")
