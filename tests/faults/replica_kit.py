"""The kit of "two replicas on one offering": two ``fedcore run`` processes on one configuration file, started
together, while Create orders are placed on A and B's provider (the emulator's provider simulation) completes the
B orders; then a census of both Waldurs read from the emulators' state (never over HTTP).

``tests/faults`` has no package marker, like ``tests/e2e``: importing :mod:`storm_kit` puts ``tests/e2e`` on
``sys.path`` so that ``run_world`` imports the same way it does there.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from typing import Any

import attrs
from storm_kit import KEY, Fedcore, Running, World, a_states, b_orders_by_key, place_orders, spread_projects, until

from waldur_emulator.faults import FaultRule

__all__ = ["Census", "Replicas", "World", "census", "race_lines", "run_replicas"]


def bare(uuid: str | None) -> str:
    """A UUID as the emulators key it (fedcore writes bare ones; hyphenated ones are followed too)."""
    return (uuid or "").replace("-", "").strip().lower()


@attrs.frozen
class Census:
    """What both Waldurs hold after the run, about the A orders placed."""

    a_states: dict[str, int]
    a_orders_sharing_a_b_order: dict[str, list[str]]
    """B order -> the A orders whose ``backend_id`` names it, when more than one does."""
    a_resources_sharing_a_b_resource: dict[str, list[str]]
    """B resource -> the A resources whose ``backend_id`` names it, when more than one does."""
    a_orders_dangling: list[str]
    """A orders whose ``backend_id`` names no B order (or is empty)."""
    a_resources_dangling: list[str]
    """A resources whose ``backend_id`` names no B resource (or is empty)."""
    keys_with_several_b_orders: dict[str, list[str]]
    """A order -> the live B Create orders carrying its key, when more than one does (live: not failed, and its
    resource not terminated; a deleted B order is gone from B altogether)."""
    unlinked_b_resources: list[str]
    """B resources of the offering that no A resource links and that are not terminated."""
    b_projects_per_a_project: dict[str, int]
    """B project ``backend_id`` (``<A customer>_<A project>``) -> how many B projects carry it, when more than one
    (deleted projects not counted)."""
    b_orders: int
    b_resources: int
    repaired: dict[str, int]
    """What the replicas undid: B orders deleted, B resources terminated, B projects deleted."""

    @property
    def duplicates(self) -> dict[str, int]:
        """The three duplicate counts of the issue: extra B orders for one key, unlinked B resources, extra B
        projects for one A project."""
        return {
            "extra B orders (same key)": sum(len(v) - 1 for v in self.keys_with_several_b_orders.values()),
            "A orders with >1 B order": len(self.keys_with_several_b_orders),
            "B resources linked from no A resource": len(self.unlinked_b_resources),
            "extra B projects (same A project)": sum(n - 1 for n in self.b_projects_per_a_project.values()),
        }


def census(world: World, orders: list[str]) -> Census:
    """Count links and duplicates for ``orders`` (A Create orders) on both emulators."""
    a, b = world.a, world.b
    with a.locked():
        order_links = {o: bare(a.state.orders[o].backend_id) for o in orders}
        resources = {o: a.state.orders[o].resource_uuid for o in orders}
        resource_links = {r: bare(a.state.resources[r].backend_id) for r in set(resources.values())}
    with b.locked():
        b_order_uuids = set(b.state.orders)
        offering = [r for r in b.state.resources.values() if r.offering_uuid == world.fed.b.offering_uuid]
        b_resources = {r.uuid for r in offering}
        live_resources = {r.uuid for r in offering if r.state != "Terminated"}
        live_orders = {o.uuid for o in b.state.orders.values()
                       if o.state not in ("erred", "canceled", "rejected") and o.resource_uuid in live_resources}
        b_projects = Counter(str(p.backend_id) for p in b.state.projects.values() if p.backend_id and not p.is_removed)
        removed_projects = sum(1 for p in b.state.projects.values() if p.is_removed)
        discards = sum(1 for o in b.state.orders.values()
                       if str(o.attributes.get(KEY, "")).startswith("fedcore-discard:"))
    by_b_order: dict[str, list[str]] = {}
    for a_order, link in order_links.items():
        by_b_order.setdefault(link, []).append(a_order)
    by_b_resource: dict[str, list[str]] = {}
    for a_resource, link in resource_links.items():
        by_b_resource.setdefault(link, []).append(a_resource)
    keyed = {k: [o for o in v if o in live_orders] for k, v in b_orders_by_key(b).items()}
    return Census(
        a_states=dict(a_states(a, orders)),
        a_orders_sharing_a_b_order={k: v for k, v in by_b_order.items() if k and len(v) > 1},
        a_resources_sharing_a_b_resource={k: v for k, v in by_b_resource.items() if k and len(v) > 1},
        a_orders_dangling=sorted(o for o, link in order_links.items() if link not in b_order_uuids),
        a_resources_dangling=sorted(r for r, link in resource_links.items() if link not in b_resources),
        keys_with_several_b_orders={k: v for k, v in keyed.items() if k in order_links and len(v) > 1},
        unlinked_b_resources=sorted(live_resources - set(resource_links.values())),
        b_projects_per_a_project={k: n for k, n in b_projects.items() if n > 1},
        b_orders=len(b_order_uuids),
        b_resources=len(b_resources),
        repaired={"B resources terminated": discards, "B projects deleted": removed_projects},
    )


@attrs.define
class Replicas:
    """The outcome of one run: the A orders, the census, each replica's log and the timings."""

    orders: list[str]
    census: Census
    logs: list[str]
    codes: list[int]
    seconds_to_done: float
    seconds_total: float
    final_pass: str = ""

    def figures(self) -> str:
        """One line for the test's output and the xfail reason."""
        dup = ", ".join(f"{k}: {v}" for k, v in self.census.duplicates.items())
        deleted = sum(log.count("DeleteDuplicate") for log in self.logs)
        repaired = ", ".join(f"{k}: {v}" for k, v in {"B orders deleted (log lines)": deleted,
                                                         **self.census.repaired}.items())
        return (f"{len(self.orders)} orders done in {self.seconds_to_done:.1f} s; B holds {self.census.b_orders} "
                f"orders and {self.census.b_resources} resources; left: {dup}; repaired: {repaired}")


B_CREATIONS = ("^/api/projects/$", "^/api/marketplace-orders/$")


def run_replicas(world: World, config: dict[str, Any], modes: list[str], *, orders: int, projects: int,
                 deadline: float, latency: float, ready: str | None = None) -> Replicas:
    """Start two ``fedcore run -c <one file> -m <modes>`` together, place ``orders`` Create orders on A over
    ``projects`` projects while they run (after both logged ``ready``, when given; B's POST of a project or of an
    order takes ``latency`` seconds), wait until every one is done on A, stop both with SIGTERM, make one more
    ``--once`` order pass, and count."""
    simulated = world.staff_b.put(f"/api/emulator/offerings/{world.fed.b.offering_uuid}/provider-simulation/",
                                  json={"delay": 0, "outcome": "done"})
    assert simulated.status_code < 300, simulated.text
    for path in B_CREATIONS:  # B takes a real Waldur's time to create a project or an order
        world.b.add_fault(FaultRule(path=path, method="POST", latency=latency))
    feds = spread_projects(world, projects)
    path = world.write_config(config)
    args = ["run", "-c", path, *[a for m in modes for a in ("-m", m)], "--workers", "4",
            "--backoff-initial", "0.05", "--backoff-max", "0.5"]
    if "event_process" in modes:
        args += ["--event-watch-seconds", "1"]
    started = time.monotonic()
    replicas = [Running(Fedcore().start(*args)) for _ in range(2)]
    try:
        if ready is not None:
            for running in replicas:
                until(lambda r=running: r.saw(ready), f"'{ready}' in a replica's log", 30)  # type: ignore[misc]
        placed = time.monotonic()
        a_orders = place_orders(world, feds, orders)

        def finished() -> bool:
            states = a_states(world.a, a_orders)
            return sum(states[s] for s in ("done", "erred", "rejected", "canceled")) == len(a_orders)

        until(finished, f"{orders} orders to finish under two replicas", deadline)
        to_done = time.monotonic() - placed
    finally:
        for running in replicas:
            if running.process.poll() is None:
                running.signal(signal.SIGTERM)
        ended = [running.wait(30) for running in replicas]
    final = Fedcore().run("run", "-c", path, "-m", "order_process", "--once", timeout=60)
    return Replicas(a_orders, census(world, a_orders), [log for _, log in ended], [code for code, _ in ended],
                    to_done, time.monotonic() - started, final.stderr)


def race_lines(outcome: Replicas, limit: int = 3) -> list[str]:
    """For up to ``limit`` A orders with several B orders: every log line of either replica naming that A order
    or one of its B orders, prefixed with the replica's number (the evidence of the race)."""
    evidence: list[str] = []
    for a_order, b_orders in list(outcome.census.keys_with_several_b_orders.items())[:limit]:
        names = [a_order, *b_orders]
        evidence.append(f"A order {a_order}: B orders {', '.join(b_orders)}")
        for number, log in enumerate(outcome.logs, 1):
            for line in log.splitlines():
                if any(n in line.replace("-", "") for n in names):
                    evidence.append(f"  replica {number}: {line.strip()}")
    return evidence
