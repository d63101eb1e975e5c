"""Contract of the usage ports (SourceUsage on A, TargetUsage on B), for every implementation.

A :class:`UsageWorld` arranges resources and the provider's own usage reports behind the ports' back; the tests then
speak only through the ports and assert what they promise. The worlds: ``memory`` (the fakes) and ``emulator`` (the
REST adapter against two emulated Waldurs in-process, every exchange checked against Waldur's schema); the tests named
in :data:`OVER_SOCKET` also run against ``socket`` (the emulators on 127.0.0.1, the adapter's own client over TCP).

Amounts read back are whole numbers: Waldur 8.0.5's schema types a usage's ``usage`` as an integer, and the emulator
renders it so (truncating), while the fakes keep two decimals. Decimal amounts are covered by the adapter's unit
tests (tests/unit/test_rest_users_usage.py) and the fakes' own tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Literal, Protocol

import pytest

from adapters.memory.usage import MemoryUsage
from contract.ports.emulated_users_usage import EmulatorUsageWorld
from fedcore.errors import NotFound, PermanentError
from fedcore.ids import Uuid
from fedcore.model import ResourceUsage, UserUsage
from fedcore.ports.usage import SourceUsage, TargetUsage

pytestmark = pytest.mark.contract

Side = Literal["A", "B"]
FEBRUARY = dt.date(2026, 2, 1)
MID_FEBRUARY = dt.date(2026, 2, 17)
MARCH = dt.date(2026, 3, 1)


class UsageWorld(Protocol):
    """Two Waldurs seen through the usage ports, with helpers that arrange state behind the ports' back."""

    @property
    def source(self) -> SourceUsage:
        """Waldur A's usage port."""
        ...

    @property
    def target(self) -> TargetUsage:
        """Waldur B's usage port."""
        ...

    def add_resource(self, side: Side) -> Uuid:
        """Create a resource of that side's offering; usage can only be reported for it."""
        ...

    def report(
        self,
        side: Side,
        resource: Uuid,
        period: dt.date,
        totals: Mapping[str, Decimal],
        per_user: Iterable[UserUsage] = (),
    ) -> None:
        """Record usage as the side's own service provider would."""
        ...

    def unknown_uuid(self) -> Uuid:
        """A UUID that names no resource on either side."""
        ...

    def close(self) -> None:
        """Release what the world holds; may fail on what it observed (schema problems)."""
        ...


class MemoryUsageWorld:
    """The in-memory fakes: one :class:`MemoryUsage` per side."""

    def __init__(self) -> None:
        self.sides = {"A": MemoryUsage("A"), "B": MemoryUsage("B")}
        self.source: SourceUsage = self.sides["A"]
        self.target: TargetUsage = self.sides["B"]
        self._count = 0

    def add_resource(self, side: Side) -> Uuid:
        """Make a fresh resource known."""
        self._count += 1
        return self.sides[side].add_resource(f"{side.lower()}{self._count:031x}")

    def report(
        self,
        side: Side,
        resource: Uuid,
        period: dt.date,
        totals: Mapping[str, Decimal],
        per_user: Iterable[UserUsage] = (),
    ) -> None:
        """Record usage directly."""
        self.sides[side].report(resource, period, totals, per_user)

    def unknown_uuid(self) -> Uuid:
        """A UUID no resource has."""
        return Uuid("f" * 32)

    def close(self) -> None:
        """Nothing to release."""


WORLDS: dict[str, Callable[[], UsageWorld]] = {
    "memory": MemoryUsageWorld,
    "emulator": EmulatorUsageWorld,
    "socket": lambda: EmulatorUsageWorld(socket=True),
}
"""Implementation name -> world factory."""
OVER_SOCKET = frozenset(
    {"test_reported_usage_reads_back_for_any_day_of_its_month", "test_user_usages_need_the_components_total_first"}
)
"""The tests that also run over TCP; every other test runs on every world but ``socket``."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Bind ``world`` to each implementation (``socket`` only for :data:`OVER_SOCKET`)."""
    if "world" in metafunc.fixturenames:
        chosen = [n for n in sorted(WORLDS) if n != "socket" or metafunc.function.__name__ in OVER_SOCKET]
        metafunc.parametrize("world", chosen, indirect=True)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[UsageWorld]:
    """A fresh world of one implementation, closed after the test."""
    made = WORLDS[request.param]()
    yield made
    made.close()


def d(value: str) -> Decimal:
    """A decimal amount."""
    return Decimal(value)


def per_user(usage: ResourceUsage) -> set[tuple[str, str, Decimal]]:
    """The per-user rows as a set (their order is not part of the contract)."""
    return {(row.component, row.username, row.amount) for row in usage.per_user}


class TestTargetUsage:
    """Waldur B: what a resource used in a billing period."""

    def test_nothing_reported_reads_as_empty(self, world: UsageWorld) -> None:
        resource = world.add_resource("B")
        usage = world.target.read_usage(resource, FEBRUARY)
        assert (usage.resource_uuid, dict(usage.totals), usage.per_user) == (resource, {}, ())

    def test_reported_usage_reads_back_for_any_day_of_its_month(self, world: UsageWorld) -> None:
        resource = world.add_resource("B")
        rows = [UserUsage("cpu", "ann01", d("6")), UserUsage("cpu", "bob01", d("4"))]
        world.report("B", resource, FEBRUARY, {"cpu": d("10"), "ram": d("2")}, rows)
        usage = world.target.read_usage(resource, MID_FEBRUARY)
        assert usage.billing_period == FEBRUARY
        assert dict(usage.totals) == {"cpu": d("10"), "ram": d("2")}
        assert per_user(usage) == {("cpu", "ann01", d("6")), ("cpu", "bob01", d("4"))}

    def test_periods_do_not_mix(self, world: UsageWorld) -> None:
        resource = world.add_resource("B")
        world.report("B", resource, FEBRUARY, {"cpu": d("1")})
        assert dict(world.target.read_usage(resource, MARCH).totals) == {}

    def test_an_unknown_resource_is_not_found(self, world: UsageWorld) -> None:
        with pytest.raises(NotFound):
            world.target.read_usage(world.unknown_uuid(), FEBRUARY)


class TestSourceUsage:
    """Waldur A: reading the usage shown on a resource, and writing totals and per-user usage."""

    def test_set_usage_creates_then_replaces_per_component(self, world: UsageWorld) -> None:
        resource = world.add_resource("A")
        world.source.set_usage(resource, FEBRUARY, {"cpu": d("5"), "ram": d("1")})
        world.source.set_usage(resource, MID_FEBRUARY, {"cpu": d("7")})
        assert dict(world.source.read_usage(resource, FEBRUARY).totals) == {"cpu": d("7"), "ram": d("1")}

    def test_set_usage_twice_is_the_same_as_once(self, world: UsageWorld) -> None:
        resource = world.add_resource("A")
        for _ in range(2):
            world.source.set_usage(resource, FEBRUARY, {"cpu": d("5")})
        assert dict(world.source.read_usage(resource, FEBRUARY).totals) == {"cpu": d("5")}

    def test_user_usages_need_the_components_total_first(self, world: UsageWorld) -> None:
        resource = world.add_resource("A")
        with pytest.raises(NotFound):
            world.source.set_user_usages(resource, FEBRUARY, "cpu", {"ann_a": d("1")})
        world.source.set_usage(resource, FEBRUARY, {"cpu": d("3")})
        world.source.set_user_usages(resource, FEBRUARY, "cpu", {"ann_a": d("1"), "bob_a": d("2")})
        world.source.set_user_usages(resource, FEBRUARY, "cpu", {"ann_a": d("3")})
        assert {(u, a) for c, u, a in per_user(world.source.read_usage(resource, FEBRUARY)) if u == "ann_a"} == {
            ("ann_a", d("3"))
        }

    def test_a_total_in_another_period_does_not_count(self, world: UsageWorld) -> None:
        resource = world.add_resource("A")
        world.source.set_usage(resource, MARCH, {"cpu": d("3")})
        with pytest.raises(NotFound):
            world.source.set_user_usages(resource, FEBRUARY, "cpu", {"ann_a": d("1")})

    def test_negative_amounts_are_refused_not_absent(self, world: UsageWorld) -> None:
        resource = world.add_resource("A")
        with pytest.raises(PermanentError) as refused:
            world.source.set_usage(resource, FEBRUARY, {"cpu": d("-1")})
        assert not isinstance(refused.value, NotFound)
        world.source.set_usage(resource, FEBRUARY, {"cpu": d("1")})
        with pytest.raises(PermanentError) as refused:
            world.source.set_user_usages(resource, FEBRUARY, "cpu", {"ann_a": d("-1")})
        assert not isinstance(refused.value, NotFound)

    def test_reads_show_what_the_provider_reported(self, world: UsageWorld) -> None:
        resource = world.add_resource("A")
        world.report("A", resource, FEBRUARY, {"cpu": d("2")}, [UserUsage("cpu", "ann_a", d("2"))])
        usage = world.source.read_usage(resource, FEBRUARY)
        assert (dict(usage.totals), per_user(usage)) == ({"cpu": d("2")}, {("cpu", "ann_a", d("2"))})

    def test_an_unknown_resource_is_not_found(self, world: UsageWorld) -> None:
        missing = world.unknown_uuid()
        with pytest.raises(NotFound):
            world.source.read_usage(missing, FEBRUARY)
        with pytest.raises(NotFound):
            world.source.set_usage(missing, FEBRUARY, {"cpu": d("1")})
        with pytest.raises(NotFound):
            world.source.set_user_usages(missing, FEBRUARY, "cpu", {"ann_a": d("1")})
