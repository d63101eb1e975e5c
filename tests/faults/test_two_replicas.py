"""Two replicas on one offering: two ``fedcore run`` processes on the same configuration file, started together.

(a) both polling (``-m order_process``), (b) both in ``-m event_process`` (on the local RabbitMQ, sharing the
offering's queues), every period short. Create orders are placed on A over several projects while both run; B's
provider is the emulator's provider simulation (approves and completes at once). When every A order is done both
are stopped, one more ``--once`` order pass runs, and both Waldurs are counted (``replica_kit.census``).

Assertions: every A order done, no A order or A resource linked twice, every link names an existing B object, and
no B duplicate is left after the next pass: no two live B orders carry one key, no live B resource is linked from
no A resource, no two B projects mirror one A project. The replicas do race (both find no B project or keyed B
order, both create one); the oldest serves and the loser is deleted or terminated (docs/scaling.md). The repairs
are printed with the figures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from replica_kit import Replicas, World, census, race_lines, run_replicas
from storm_kit import Fedcore, a_states, b_orders_by_key, place_orders, until

pytestmark = pytest.mark.e2e

ORDERS = int(os.environ.get("FEDCORE_REPLICA_ORDERS", "200"))
PROJECTS = 10
DEADLINE = 40.0
LATENCY = 0.1
"""Seconds B takes to create a project or an order (a real Waldur takes longer): the window of the race."""
SHORT = {"order_process": 0.004, "membership_sync": 0.01, "report": 0.01, "username_sync": 0.01}
"""Every period short: an order pass every 0.24 s, the other modes every 0.6 s."""

CASES = {
    "polling": pytest.param("polling", id="polling"),
    "events": pytest.param("events", id="events", marks=pytest.mark.broker),
}


def _run(kind: str, directory: Path) -> Replicas:
    world = World(directory, events=kind == "events")
    try:
        if kind == "polling":
            return run_replicas(world, world.config(periods=SHORT), ["order_process"], orders=ORDERS,
                                projects=PROJECTS, deadline=DEADLINE,
                                latency=LATENCY)
        return run_replicas(world, world.event_config(periods=SHORT), ["event_process"], orders=ORDERS,
                            projects=PROJECTS, deadline=DEADLINE, latency=LATENCY, ready=": on events")
    finally:
        world.close()


_RUNS: dict[str, Replicas] = {}


@pytest.fixture
def outcome(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Replicas:
    """One run per case, shared by the case's tests."""
    kind = str(request.param)
    if kind not in _RUNS:
        _RUNS[kind] = _run(kind, tmp_path_factory.mktemp(f"replicas-{kind}"))
        print(f"two replicas ({kind}): {_RUNS[kind].figures()}")
    return _RUNS[kind]


@pytest.mark.parametrize("outcome", CASES.values(), indirect=True)
def test_every_a_order_is_done_and_linked_once(outcome: Replicas) -> None:
    found = outcome.census
    assert found.a_states == {"done": len(outcome.orders)}, found.a_states
    assert not found.a_orders_sharing_a_b_order, found.a_orders_sharing_a_b_order
    assert not found.a_resources_sharing_a_b_resource, found.a_resources_sharing_a_b_resource
    assert not found.a_orders_dangling, found.a_orders_dangling
    assert not found.a_resources_dangling, found.a_resources_dangling
    assert outcome.codes == [0, 0], outcome.logs[0][-2000:] + outcome.logs[1][-2000:]


@pytest.mark.parametrize("outcome", CASES.values(), indirect=True)
def test_no_b_duplicate_is_left_after_the_next_pass(outcome: Replicas) -> None:
    found = outcome.census
    evidence = "\n".join(race_lines(outcome))
    assert not any(found.duplicates.values()), f"{outcome.figures()}\n{evidence}"


def test_a_duplicate_left_behind_after_its_a_order_closed_is_terminated_by_the_next_run(tmp_path: Path) -> None:
    """The duplicate sweep end to end: the A order was completed by one replica; the other's B order with the same
    key, submitted late and completed by B's provider, is left behind. The next ``fedcore run --once`` (whose first
    order pass sweeps a week back) terminates its resource, and touches nothing else."""
    world = World(tmp_path)
    try:
        simulated = world.staff_b.put(f"/api/emulator/offerings/{world.fed.b.offering_uuid}/provider-simulation/",
                                      json={"delay": 0, "outcome": "done"})
        assert simulated.status_code < 300, simulated.text
        path = world.write_config(world.config())
        [a_order] = place_orders(world, [world.fed], 1)
        for _ in range(3):
            Fedcore().run("run", "-c", path, "-m", "order_process", "--once", timeout=60)
        assert a_states(world.a, [a_order]) == {"done": 1}
        [winner] = b_orders_by_key(world.b)[a_order]
        served = world.staff_b.get(f"/api/marketplace-orders/{winner}/").json()
        late = world.staff_b.post("/api/marketplace-orders/", json={
            "offering": served["offering"], "project": f"{world.b_api}projects/{served['project_uuid']}/",
            "plan": served["plan"],
            "limits": served["limits"], "attributes": {**served["attributes"]}, "type": "Create",
            "accepting_terms_of_service": True,
        })
        assert late.status_code == 201, late.text
        loser = late.json()
        until(lambda: world.staff_b.get(f"/api/marketplace-orders/{loser['uuid']}/").json()["state"] == "done",
              "B's provider to complete the late duplicate", 10)

        swept = Fedcore().run("run", "-c", path, "-m", "order_process", "--once", timeout=60)

        loser_resource = loser["marketplace_resource_uuid"]
        assert f"duplicate sweep: terminated B resource {loser_resource}" in swept.stderr, swept.stderr[-3000:]
        until(lambda: world.staff_b.get(f"/api/marketplace-resources/{loser_resource}/").json()["state"]
              == "Terminated", "the duplicate's resource to be terminated", 10)
        assert world.staff_b.get(f"/api/marketplace-resources/{served['marketplace_resource_uuid']}/").json()[
            "state"] == "OK"
        again = Fedcore().run("run", "-c", path, "-m", "order_process", "--once", timeout=60)
        assert "duplicate sweep: terminated" not in again.stderr
        found = census(world, [a_order])
        assert not any(found.duplicates.values()), found
    finally:
        world.close()
