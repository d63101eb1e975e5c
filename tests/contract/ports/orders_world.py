"""The world the order-port contract suites arrange their state in, its in-memory implementation, and the registry.

An :class:`OrdersWorld` gives the five order ports of Waldur A and Waldur B, plus a back door for what fedcore never
does itself: A's users placing orders, B's service provider approving and finishing orders, B's listings missing an
order. The suites (``test_*orders_contract.py``) speak only through the ports and these helpers, and run unchanged
against every world of :data:`WORLDS`:

- ``memory``: the in-memory fakes;
- ``emulator``: the REST adapter between two in-process emulators, every request checked against Waldur's schema
  (:mod:`contract.ports.emulator_world`);
- ``socket``: the same served on 127.0.0.1 with a real ``make_client`` over TCP, for the tests marked
  :func:`also_over_tcp`;
- ``live``: real Waldurs named by the environment (:mod:`contract.ports.live_world`); when none is named, the
  suites run without it and ``test_live_waldur_runs_these_suites_when_configured`` is skipped, saying how.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol, TypeVar

import pytest

from adapters.memory.orders import MemorySource, MemoryTarget
from fedcore.enums import OrderState, OrderType
from fedcore.ids import Uuid
from fedcore.model import Order, UserIdentity
from fedcore.ports.orders import SourceOrders, SourceResources, TargetOrders, TargetProjects, TargetResources

A_OFFERING = Uuid("a" * 32)
B_OFFERING = Uuid("b" * 32)
B_CUSTOMER = Uuid("c" * 32)


class OrdersWorld(Protocol):
    """Waldur A and Waldur B seen through the order ports, with helpers that act behind the ports' back.

    Both offerings have a limit-based component ``cpu``; every other component is unknown to them.
    """

    @property
    def a_orders(self) -> SourceOrders:
        """A's orders of the offering fedcore provides."""
        ...

    @property
    def a_resources(self) -> SourceResources:
        """A's resources of that offering."""
        ...

    @property
    def b_orders(self) -> TargetOrders:
        """B's orders of the target offering."""
        ...

    @property
    def b_resources(self) -> TargetResources:
        """B's resources of the target offering under fedcore's customer."""
        ...

    @property
    def b_projects(self) -> TargetProjects:
        """B's projects under fedcore's customer, and their members."""
        ...

    @property
    def b_customer(self) -> Uuid:
        """Fedcore's customer on B: the customer of every B project fedcore creates."""
        ...

    def a_project(self) -> Uuid:
        """An empty A project (in a customer of its own), where A's users may order."""
        ...

    def a_order_create(self, project: Uuid, limits: Mapping[str, int], name: str = "res") -> Order:
        """A user of A orders a new resource named ``name``: a pending-provider Create order."""
        ...

    def a_order_change(self, resource: Uuid, type_: OrderType, limits: Mapping[str, int] | None = None) -> Order:
        """A user of A orders an Update (new ``limits``) or a Terminate of an OK or Erred A resource."""
        ...

    def a_order(self, order: Uuid) -> Order:
        """An A order in any state, as its user sees it (the ports list only open ones)."""
        ...

    def b_user(self, username: str) -> Uuid:
        """A user on B who may be given project roles."""
        ...

    def b_provider_approve(self, order: Uuid) -> None:
        """B's service provider approves a pending-provider B order: it becomes executing."""
        ...

    def b_provider_finish(self, order: Uuid, state: OrderState, message: str = "") -> None:
        """B's service provider takes a B order to done, erred or rejected (with ``message`` as the reason)."""
        ...

    def hide_from_batched_reads(self, order: Uuid) -> None:
        """Make batched reads of B's orders miss this order (a paging race, a filter); single reads still see it.

        A world may have to finish the order to hide it: the REST adapter's batched read lists in-flight orders only.
        """
        ...

    def unknown_uuid(self) -> Uuid:
        """A UUID that names nothing on either side."""
        ...

    def a_next_order_read_fails(self, order: Uuid) -> None:
        """A's next read of this one order fails with a passing fault (503), through every retry the adapter makes;
        the read after it succeeds. Skips the test where faults cannot be injected (a live Waldur)."""
        ...

    def close(self) -> None:
        """Release what the world holds; fails when the ports' traffic broke Waldur's contract."""
        ...


class MemoryOrdersWorld:
    """The in-memory fakes: a :class:`MemorySource` for A and a :class:`MemoryTarget` for B."""

    def __init__(self) -> None:
        self.a = MemorySource(A_OFFERING)
        self.b = MemoryTarget(B_OFFERING, B_CUSTOMER, components={"cpu"})
        self.a_orders: SourceOrders = self.a
        self.a_resources: SourceResources = self.a
        self.b_orders: TargetOrders = self.b
        self.b_resources: TargetResources = self.b
        self.b_projects: TargetProjects = self.b
        self.b_customer = B_CUSTOMER

    def a_project(self) -> Uuid:
        """A new A project."""
        return self.a.add_project().uuid

    def a_order_create(self, project: Uuid, limits: Mapping[str, int], name: str = "res") -> Order:
        """A user's Create order."""
        return self.a.order_create(self.a.projects[project], limits, name=name)

    def a_order_change(self, resource: Uuid, type_: OrderType, limits: Mapping[str, int] | None = None) -> Order:
        """A user's Update or Terminate order."""
        return self.a.order_change(resource, type_, limits)

    def a_order(self, order: Uuid) -> Order:
        """Any A order."""
        return self.a.order(order)

    def b_user(self, username: str) -> Uuid:
        """A B user known to the fake."""
        uuid = self.b.new_uuid()
        self.b.users[uuid] = UserIdentity(uuid, username)
        return uuid

    def b_provider_approve(self, order: Uuid) -> None:
        """B's provider approves."""
        self.b.provider_approve(order)

    def b_provider_finish(self, order: Uuid, state: OrderState, message: str = "") -> None:
        """B's provider finishes the order."""
        self.b.provider_finish(order, state, message)

    def hide_from_batched_reads(self, order: Uuid) -> None:
        """Batched reads miss the order."""
        self.b.unlisted.add(order)

    def unknown_uuid(self) -> Uuid:
        """A UUID neither fake ever hands out."""
        return Uuid("f" * 32)

    def a_next_order_read_fails(self, order: Uuid) -> None:
        """The fake's fault plan: the next ``get_order`` on A raises TransientError."""
        self.a.faults.fail_next("A.get_order")

    def close(self) -> None:
        """Nothing to release."""


def _emulator_world(*, over_tcp: bool) -> OrdersWorld:
    from contract.ports.emulator_world import EmulatorOrdersWorld

    return EmulatorOrdersWorld(over_tcp=over_tcp)


def _live_world() -> OrdersWorld:
    from contract.ports.live_world import LiveOrdersWorld, live_problem

    problem = live_problem()
    if problem:
        pytest.fail(problem)
    return LiveOrdersWorld()


def live_requested() -> bool:
    """Whether the environment asks for the live world (``WALDUR_E2E_TESTS``)."""
    return os.environ.get("WALDUR_E2E_TESTS", "").strip().lower() in ("1", "true", "yes")


WORLDS: dict[str, Callable[[], OrdersWorld]] = {
    "memory": MemoryOrdersWorld,
    "emulator": lambda: _emulator_world(over_tcp=False),
    "socket": lambda: _emulator_world(over_tcp=True),
    "live": _live_world,
}
"""Implementation name -> world factory."""

EVERY_TEST = ("memory", "emulator", *(("live",) if live_requested() else ()))
"""The worlds every contract test runs in (``live`` when requested; without it, one test says why it is skipped);
``socket`` runs the tests marked :func:`also_over_tcp`."""

_OVER_TCP: set[str] = set()
F = TypeVar("F", bound=Callable[..., object])


def also_over_tcp(test: F) -> F:
    """Run this contract test in the ``socket`` world too (a subset: TCP adds little to what the rest pins)."""
    _OVER_TCP.add(f"{test.__module__}.{test.__qualname__}")
    return test


def parametrize_worlds(metafunc: pytest.Metafunc) -> None:
    """``pytest_generate_tests`` of the contract suites: one run of each test per world it belongs to."""
    if "world" in metafunc.fixturenames:
        test = metafunc.function
        names = [*EVERY_TEST, *(["socket"] if f"{test.__module__}.{test.__qualname__}" in _OVER_TCP else [])]
        metafunc.parametrize("world", names, indirect=True)


def open_world(name: str) -> Iterator[OrdersWorld]:
    """A fresh world of one implementation, closed (and its traffic checked) after the test."""
    world = WORLDS[name]()
    try:
        yield world
    finally:
        world.close()
