"""The kit of the fault-injection suites (storms, secrets, bad input): the e2e world of ``tests/e2e/run_world.py``
plus a seeded storm of faults on both emulators, more A projects to spread orders over, and counters read from the
emulators' state (so checks never go through the faulted HTTP path).

``tests/faults`` has no package marker, like ``tests/e2e``: this module puts ``tests/e2e`` on ``sys.path`` so that
``run_world`` imports the same way it does there.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

_E2E = str(Path(__file__).resolve().parents[1] / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

import attrs  # noqa: E402
from run_world import DEADLINE, Fedcore, Running, World, stop, until  # noqa: E402

from waldur_emulator import Emulator  # noqa: E402
from waldur_emulator.faults import FaultRule  # noqa: E402
from waldur_emulator.federation import Federation, place_order  # noqa: E402
from waldur_emulator.seeding import Created, Seeder  # noqa: E402

__all__ = ["DEADLINE", "Fedcore", "Running", "World", "a_states", "b_orders_by_key", "b_resources_of", "end_storm",
           "place_orders", "spread_projects", "start_storm", "stop", "storm_rules", "until"]

API = "^/api/(?!emulator/)"
"""Every Waldur call; the emulators' admin API is never faulted anyway."""

KEY = "fedcore_order_key"

STORM_KINDS = ("error 500", "error 503", "drop", "timeout", "apply_then_fail")


def _rule(path: str, kind: str, rate: float, method: str, timeout_seconds: float) -> FaultRule:
    if kind.startswith("error"):
        return FaultRule(path=path, method=method, kind="error", status=int(kind.split()[1]), rate=rate)
    return FaultRule(path=path, method=method, kind=kind, rate=rate, timeout_seconds=timeout_seconds)


def storm_rules(rate: float = 0.2, *, timeout_seconds: float = 1.5) -> list[FaultRule]:
    """Rules that fail ``rate`` of every Waldur request, with the kind spread over the calls.

    The emulator's first matching rule decides (a rule that does not fire lets the request through), so the kinds
    are spread by disjoint paths: a call about one object by the last hex digit of the object's UUID (all five
    kinds on every such call), and the listings and creations (no UUID in the path) by endpoint and method.
    """
    by_digit = (("[0-2]", "error 500"), ("[3-5]", "error 503"), ("[6-8]", "drop"), ("[9ab]", "timeout"),
                ("[c-f]", "apply_then_fail"))
    rules = [_rule(f"^/api/[^/]+/[0-9a-f]{{31}}{digits}/", kind, rate, "*", timeout_seconds)
             for digits, kind in by_digit]
    rules += [
        _rule("^/api/marketplace-orders/$", "apply_then_fail", rate, "POST", timeout_seconds),
        _rule("^/api/marketplace-orders/$", "error 503", rate, "GET", timeout_seconds),
        _rule("^/api/projects/$", "drop", rate, "POST", timeout_seconds),
        _rule("^/api/projects/$", "timeout", rate, "GET", timeout_seconds),
        _rule("^/api/marketplace-provider-resources/$", "drop", rate, "GET", timeout_seconds),
        _rule(API, "error 500", rate, "*", timeout_seconds),
    ]
    return rules


def start_storm(world: World, seed: int, rate: float = 0.2, *, timeout_seconds: float = 1.5) -> None:
    """The seeded storm on both emulators (A with ``seed``, B with ``seed + 1``)."""
    for offset, emulator in enumerate((world.a, world.b)):
        emulator.faults.reseed(seed + offset)
        for rule in storm_rules(rate, timeout_seconds=timeout_seconds):
            emulator.add_fault(rule)


def end_storm(world: World) -> int:
    """Remove every rule; how many faults fired on A and B together."""
    fired = world.a.faults.injected + world.b.faults.injected
    world.a.clear_faults()
    world.b.clear_faults()
    return fired


def spread_projects(world: World, count: int) -> list[Federation]:
    """``count`` consumer projects on A (the federation's own first), each with the orderer as admin; one
    :class:`Federation` per project, for :func:`place_order`."""
    seeder = Seeder(world.staff_a)
    orderer = world.staff_a.get("/api/users/me/", headers={"Authorization": f"Token {world.fed.consumer_token}"})
    orderer_uuid = orderer.json()["uuid"]
    customer = world.staff_a.get(f"/api/customers/{world.fed.consumer_customer_uuid}/").json()
    feds = [world.fed]
    for index in range(1, count):
        project = seeder.project(Created(customer["uuid"], customer["url"], customer), f"Physics {index}")
        seeder.role("projects", project.uuid, orderer_uuid, "PROJECT.ADMIN")
        feds.append(attrs.evolve(world.fed, consumer_project_uuid=project.uuid))
    return feds


def place_orders(world: World, feds: list[Federation], count: int) -> list[str]:
    """``count`` Create orders on A, round-robin over ``feds``' projects; their UUIDs."""
    return [str(place_order(world.staff_a, feds[i % len(feds)], {"node_hours": 1 + i % 3, "storage": 1},
                            f"storm-{i}")["uuid"]) for i in range(count)]


def a_states(emulator: Emulator, uuids: list[str]) -> Counter[str]:
    """How many of these A orders are in each state (read from the emulator's state, not over HTTP)."""
    with emulator.locked():
        return Counter(emulator.state.orders[u].state for u in uuids)


def b_orders_by_key(emulator: Emulator) -> dict[str, list[str]]:
    """B's Create orders by the A order their idempotency key names."""
    found: dict[str, list[str]] = {}
    with emulator.locked():
        for order in emulator.state.orders.values():
            key = str(order.attributes.get(KEY, ""))
            if order.type == "Create" and key.startswith("fedcore-order:"):
                found.setdefault(key.removeprefix("fedcore-order:"), []).append(order.uuid)
    return found


def b_resources_of(emulator: Emulator, b_orders: list[str]) -> list[str]:
    """The B resources these B orders created."""
    with emulator.locked():
        return [emulator.state.orders[o].resource_uuid for o in b_orders]
