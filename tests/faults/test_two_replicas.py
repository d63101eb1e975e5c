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
from replica_kit import Replicas, World, race_lines, run_replicas

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
