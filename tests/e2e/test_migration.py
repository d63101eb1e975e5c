"""Migration from the existing agent: waldur-site-agent stops in the middle of a stream of orders, fedcore starts on
the same configuration file, and adopts what the agent left (issue 10, "Migration from the existing agent").

The first test runs the existing agent itself (waldur-site-agent 1.0.7 with its Waldur plugin, installed by
``scripts/existing-agent`` into ``.venv-agent``; skipped only when the package registry is unreachable) against two
emulated Waldurs, in front of A a :class:`migration_kit.CompatProxy` that fills in the one key the emulator leaves
out of the agent-identity answers (see ``migration_kit``). The others build, through the emulators' REST APIs and
with the calls and values the agent makes, the states a stopped agent leaves, including the ones a kill between two
of its writes leaves; they need no install.

What the agent leaves (read from its source and seen in the first test): a B project whose ``backend_id`` is
``<A customer uuid>_<A project uuid>`` in hyphenated form, B Create orders whose attributes hold only ``name`` (no
fedcore key), the B resource's hyphenated UUID as the A resource's ``backend_id`` and the B order's hyphenated UUID
as the A order's ``backend_id``, the A order left ``executing`` until a later pass of the agent sees the B order done.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from migration_kit import Agent, AgentMoves, CompatProxy, InstallResult, hyphenated, install_agent
from run_world import DEADLINE, Fedcore, World, until

pytestmark = pytest.mark.e2e

AGENT_DEADLINE = 75.0
"""Seconds the agent may take to start (its imports alone take 4-15 s here) and to make its first pass."""

LIMITS = {"node_hours": 2, "storage": 1}
B_LIMITS = {"cpu_k_hours": 256, "mem_gb_hours": 1024, "storage": 1}
"""``LIMITS`` converted with the sandbox configuration's factors, as the agent sends them to B."""


@pytest.fixture(scope="session")
def existing_agent() -> InstallResult:
    """``scripts/existing-agent`` run once per session (a no-op once ``.venv-agent`` holds the pinned versions)."""
    return install_agent()


@pytest.fixture
def agent_executable(existing_agent: InstallResult) -> str:
    """The agent's command, or a skip when the registry is unreachable (any other install failure fails)."""
    if existing_agent.unreachable:
        pytest.skip("the existing agent (waldur-site-agent 1.0.7 + waldur-site-agent-waldur 1.0.7) cannot be "
                    "installed: the package registry is unreachable (scripts/existing-agent exit 3)")
    assert existing_agent.code == 0, f"scripts/existing-agent failed:\n{existing_agent.stderr[-3000:]}"
    return existing_agent.executable


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    made.close()


# Reading and acting on both Waldurs through REST ------------------------------------------------------------------

def hexed(value: str) -> str:
    """A UUID in bare lowercase hex (the emulators' and fedcore's form)."""
    return uuid.UUID(value).hex


def has_key(order: dict[str, Any]) -> bool:
    """Whether a B order carries a fedcore idempotency key."""
    return "fedcore-order:" in json.dumps(order.get("attributes") or {})


def a_resource(world: World, resource: str) -> dict[str, Any]:
    answer: dict[str, Any] = world.staff_a.get(f"/api/marketplace-resources/{resource}/").json()
    return answer


def b_resources(world: World) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = world.staff_b.get("/api/marketplace-resources/").json()
    return answer


def b_projects(world: World) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = world.staff_b.get("/api/projects/",
                                                     params={"customer": world.fed.b_customer_uuid}).json()
    return answer


def complete_open_b_orders(world: World) -> int:
    """B's provider completes every B order not yet terminal; how many."""
    open_orders = [o["uuid"] for o in world.b_orders() if o["state"] in ("pending-provider", "executing")]
    for order in open_orders:
        world.b_done(order)
    return len(open_orders)


def fedcore_once(fedcore: Fedcore, config: str) -> str:
    """``fedcore run --once`` on the file; must exit 0; its stderr."""
    done = fedcore.run("run", "-c", config, "--once", timeout=60)
    if done.returncode != 0:  # not an AssertionError: the xfail tests expect those from their checks only
        pytest.fail(f"fedcore run --once: exit {done.returncode}\n{done.stderr[-3000:]}")
    return done.stderr


def update_limits(world: World, resource: str, limits: dict[str, int]) -> str:
    """An Update order placed on A by the consumer; its UUID."""
    return str(world.consumer("POST", f"/api/marketplace-resources/{resource}/update_limits/",
                              json={"limits": limits})["order_uuid"])


def terminate(world: World, resource: str) -> str:
    """A Terminate order placed on A by the consumer; its UUID."""
    return str(world.consumer("POST", f"/api/marketplace-resources/{resource}/terminate/", json={})["order_uuid"])


def assert_migrated(world: World, creates: list[str], changes: dict[str, str]) -> None:
    """Every A order done; one B order per A order, of the same type; one B resource per A resource, linked."""
    for order in [*creates, *changes]:
        assert world.a_order(order)["state"] == "done", world.a_order(order)
    b_orders = world.b_orders()
    assert len(b_orders) == len(creates) + len(changes), [(o["type"], o["attributes"]) for o in b_orders]
    assert all(o["state"] == "done" for o in b_orders)
    b_creates = [o for o in b_orders if o["type"] == "Create"]
    assert len(b_creates) == len(creates)
    assert sorted(o["type"] for o in b_orders if o["type"] != "Create") == sorted(changes.values())
    assert len(b_resources(world)) == len(creates)
    by_b_resource = {o["marketplace_resource_uuid"]: o for o in b_creates}
    linked = set()
    for order in creates:
        resource = a_resource(world, world.a_resource_of(order))
        link = hexed(resource["backend_id"])
        assert link in by_b_resource, f"A resource {resource['uuid']} links to {resource['backend_id']}, no B resource"
        linked.add(link)
    assert linked == set(by_b_resource), "two A resources share a B resource"
    for order, kind in changes.items():
        link = hexed(a_resource(world, world.a_resource_of(order))["backend_id"])
        targets = [o for o in b_orders if o["type"] == kind and o["marketplace_resource_uuid"] == link]
        assert len(targets) == 1, f"the {kind} of {order} reached {len(targets)} B orders on its B resource"


# The existing agent itself ------------------------------------------------------------------------------------------

def test_the_real_agent_stopped_mid_stream_fedcore_adopts_its_orders_and_resources(
        world: World, tmp_path: Path, agent_executable: str) -> None:
    proxy = CompatProxy(world.handles[0].base_url)
    agent: Agent | None = None
    try:
        data = world.config()
        data["offerings"][0]["waldur_api_url"] = proxy.api_url
        config = world.write_config(data)
        fedcore = Fedcore()
        first = [world.order(LIMITS, name=f"agent-{i}") for i in range(4)]
        agent = Agent(agent_executable, config, tmp_path / "agent.log")
        # While the agent starts: fedcore loads the agent's file as it is.
        validating = fedcore.start("validate", "-c", config)

        def linked_by_agent() -> bool:
            return all(world.a_order(o).get("backend_id") for o in first)

        until(linked_by_agent, "the agent's first pass to link every A order to a B order", AGENT_DEADLINE)
        out, err = validating.communicate(timeout=DEADLINE)
        assert validating.returncode == 0, out + err
        # The agent's pass is over (it sleeps a minute between passes): B's provider completes half of its orders,
        # two more orders arrive, and the operator stops the agent the hard way.
        agent_orders = world.b_orders()
        assert len(agent_orders) == 4
        assert not any(has_key(o) for o in agent_orders)
        assert all(o["limits"] == B_LIMITS for o in agent_orders)
        for b_order in agent_orders[:2]:
            world.b_done(b_order["uuid"])
        later = [world.order(LIMITS, name=f"later-{i}") for i in range(2)]
        assert agent.stop(signal.SIGKILL) == -signal.SIGKILL
        log = "\n".join(agent.events())
        assert proxy.patched >= 1, "the compatibility proxy had nothing to fill in: drop it"
        for order in first:
            a_order = world.a_order(order)
            assert a_order["state"] == "executing"
            assert a_order["backend_id"] == hyphenated(a_order["backend_id"]), a_order["backend_id"]
            assert f"setting order {hyphenated(order)} backend_id" in log
            resource = a_resource(world, a_order["marketplace_resource_uuid"])
            assert resource["backend_id"] == hyphenated(resource["backend_id"])

        # fedcore's first pass completes the two agent orders B has done, waits on the other two, and approves and
        # submits the two later ones.
        fedcore_once(fedcore, config)
        for order in first[:2]:
            assert world.a_order(order)["state"] == "done"
        # An Update and a Terminate on resources the agent created, to be followed through its hyphenated links.
        changes = {update_limits(world, world.a_resource_of(first[0]), {"node_hours": 3}): "Update",
                   terminate(world, world.a_resource_of(first[1])): "Terminate"}
        assert complete_open_b_orders(world) == 4
        fedcore_once(fedcore, config)   # completes the rest of the Creates; approves and submits the changes
        assert complete_open_b_orders(world) == 2
        fedcore_once(fedcore, config)
        assert_migrated(world, first + later, changes)
        agent_b_orders = {o["uuid"] for o in agent_orders}
        assert not [o for o in world.b_orders() if o["uuid"] in agent_b_orders and has_key(o)]
    finally:
        if agent is not None and agent.process.poll() is None:
            agent.stop(signal.SIGKILL)
        proxy.close()


# The states a stopped agent leaves, made through REST as the agent makes them ----------------------------------------

def agent_done(world: World, moves: AgentMoves, name: str) -> str:
    """A Create order the agent carried through: submitted, linked and, in a later pass, completed; its UUID."""
    order = world.order(LIMITS, name=name)
    moves.approve(order)
    b_order, b_resource = moves.submit(order, name)
    moves.link_resource(world.a_resource_of(order), b_resource)
    moves.link_order(order, b_order)
    world.b_done(b_order)
    moves.complete(order)
    return order


def agent_in_flight(world: World, moves: AgentMoves, name: str, *, b_done: bool) -> str:
    """A Create order the agent submitted and linked, stopped before it saw B's outcome; its UUID."""
    order = world.order(LIMITS, name=name)
    moves.approve(order)
    b_order, b_resource = moves.submit(order, name)
    moves.link_resource(world.a_resource_of(order), b_resource)
    moves.link_order(order, b_order)
    if b_done:
        world.b_done(b_order)
    return order


def test_the_states_a_stopped_agent_leaves_are_adopted_and_nothing_is_created_twice(world: World) -> None:
    moves = AgentMoves(world.staff_a, world.staff_b, world.fed, B_LIMITS)
    completed = [agent_done(world, moves, f"done-{i}") for i in range(2)]
    waiting = agent_in_flight(world, moves, "in-flight", b_done=False)
    finished = agent_in_flight(world, moves, "b-finished", b_done=True)
    approved = world.order(LIMITS, name="approved-only")
    moves.approve(approved)   # stopped right after approving: nothing on B yet
    changes = {update_limits(world, world.a_resource_of(completed[0]), {"node_hours": 3}): "Update",
               terminate(world, world.a_resource_of(completed[1])): "Terminate"}
    creates = [*completed, waiting, finished, approved]
    config = world.write_config()
    fedcore = Fedcore()

    fedcore_once(fedcore, config)
    assert world.a_order(finished)["state"] == "done"
    assert world.a_order(waiting)["state"] == "executing"
    assert complete_open_b_orders(world) == 4   # the agent's in-flight order, fedcore's Create, Update, Terminate
    fedcore_once(fedcore, config)
    assert_migrated(world, creates, changes)
    keyed = sorted(o["attributes"]["name"] for o in world.b_orders() if o["type"] == "Create" and has_key(o))
    assert keyed == ["approved-only"]   # fedcore submitted only what the agent never did


def test_a_new_order_in_a_project_the_agent_federated_uses_the_agents_b_project(world: World) -> None:
    moves = AgentMoves(world.staff_a, world.staff_b, world.fed, B_LIMITS)
    agent_done(world, moves, "by-agent")
    world.order(LIMITS, name="after-migration")
    fedcore_once(fedcore=Fedcore(), config=world.write_config())
    assert len(world.b_orders()) == 2
    assert [p["backend_id"] for p in b_projects(world)] == [moves.project_backend_id]


def test_an_agent_killed_between_its_two_links_leaves_an_order_fedcore_adopts(world: World) -> None:
    moves = AgentMoves(world.staff_a, world.staff_b, world.fed, B_LIMITS)
    order = world.order(LIMITS, name="torn")
    moves.approve(order)
    b_order, b_resource = moves.submit(order, "torn")
    moves.link_resource(world.a_resource_of(order), b_resource)   # killed here, before the A order's link
    world.b_done(b_order)
    fedcore_once(fedcore=Fedcore(), config=world.write_config())
    assert [o["uuid"] for o in world.b_orders()] == [b_order]
    assert hexed(a_resource(world, world.a_resource_of(order))["backend_id"]) == b_resource
    assert world.a_order(order)["state"] == "done"
