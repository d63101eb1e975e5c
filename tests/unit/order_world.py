"""A, B, a fault plan and an agent factory for the order-service tests (a new agent = the agent restarted)."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from fedcore.enums import OrderState
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.services.orders import OrderPorts, OrderProcessor, PassReport

A_OFFERING = Uuid("a" * 32)
B_OFFERING = Uuid("b" * 32)
B_CUSTOMER = Uuid("c" * 32)


class Times:
    """A x``factor`` converter for the ``cpu`` component; any other component is unknown."""

    def __init__(self, factor: int = 2) -> None:
        self.factor = factor

    def limits_to_target(self, a_limits: Mapping[str, int]) -> dict[str, int]:
        unknown = sorted(set(a_limits) - {"cpu"})
        if unknown:
            raise ValueError(f"component {unknown[0]!r} is not configured")
        return {"cpu_b": a_limits["cpu"] * self.factor} if "cpu" in a_limits else {}


class World:
    """A, B, the shared fault plan and a processor factory."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.a = MemorySource(A_OFFERING, faults=self.faults)
        self.b = MemoryTarget(B_OFFERING, B_CUSTOMER, components={"cpu_b"}, faults=self.faults)
        self.project = self.a.add_project("physics")
        self.ports = OrderPorts(self.a, self.a, self.b, self.b, self.b)

    def agent(self) -> OrderProcessor:
        return OrderProcessor(self.ports, Times(), passthrough_attributes=("purpose",))

    def run(self) -> PassReport:
        return self.agent().run_pass()

    def b_order_for(self, a_order: Uuid) -> Uuid:
        [order] = self.b.orders_with_key(idempotency_key(a_order))
        return order.uuid

    def create_done(self, cpu: int = 10, name: str = "res") -> Uuid:
        """A Create order taken all the way to done; returns the A resource."""
        order = self.a.order_create(self.project, {"cpu": cpu}, name=name)
        self.run()
        self.b.provider_finish(self.b_order_for(order.uuid), OrderState.DONE)
        self.run()
        assert self.a.orders[order.uuid].state == OrderState.DONE
        assert order.resource_uuid is not None
        return order.resource_uuid
