"""Ports from the in-memory fakes, built from an offering's configuration: for tests, demos and dry runs."""

from __future__ import annotations

from attrs import frozen

from adapters.config import OfferingConfig
from adapters.memory.clock import FakeClock
from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from adapters.memory.usage import MemoryUsage
from adapters.memory.users import MemoryUsers
from runners.wiring.root import Ports


@frozen
class MemoryWorld:
    """The fakes behind one offering's :class:`Ports`, kept so a test can arrange and inspect them."""

    a: MemorySource
    b: MemoryTarget
    a_users: MemoryUsers
    b_users: MemoryUsers
    a_usage: MemoryUsage
    b_usage: MemoryUsage
    clock: FakeClock
    faults: Faults

    @property
    def ports(self) -> Ports:
        """The ports the services use, all backed by these fakes."""
        return Ports(
            a_orders=self.a, a_resources=self.a, a_users=self.a_users, a_usage=self.a_usage,
            b_orders=self.b, b_resources=self.b, b_projects=self.b, b_users=self.b_users, b_usage=self.b_usage,
            clock=self.clock,
        )


def memory_world(offering: OfferingConfig, *, faults: Faults | None = None) -> MemoryWorld:
    """Empty in-memory Waldurs shaped by ``offering``: its UUIDs, B's components, the bridge source it uses.

    B's two fakes know the same people: users the identity bridge creates in ``b_users`` are the users that
    ``b``'s project members are.
    """
    faults = faults or Faults()
    target = offering.backend_settings
    b_components = {b for m in offering.component_mappings for b in (m.targets or [m.source])}
    source = target.identity_bridge_source
    b_users = MemoryUsers("B", offering_uuid=target.target_offering_uuid,
                          managed_sources=[source] if source else [], faults=faults)
    return MemoryWorld(
        a=MemorySource(offering.waldur_offering_uuid, faults=faults),
        b=MemoryTarget(target.target_offering_uuid, target.target_customer_uuid, components=b_components,
                       faults=faults, users=b_users.registry),
        a_users=MemoryUsers("A", offering_uuid=offering.waldur_offering_uuid, faults=faults),
        b_users=b_users,
        a_usage=MemoryUsage("A", faults=faults),
        b_usage=MemoryUsage("B", faults=faults),
        clock=FakeClock(),
        faults=faults,
    )


def memory_ports(offering: OfferingConfig) -> Ports:
    """A ports factory over fresh fakes (use :func:`memory_world` to keep hold of them)."""
    return memory_world(offering).ports
