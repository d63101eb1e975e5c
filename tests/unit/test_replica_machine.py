"""Two replicas, as a hypothesis state machine: whatever a second replica duplicates on B, and whenever, the order
lifecycle and the duplicate sweep converge on one live B order (and resource) per A order and one B project per A
project, with A linked to the one that lives.

The second replica is played at the moments it can strike (tests/unit/test_replicas.py plays each once): its B
project made just before fedcore's, its B order submitted just before or just after fedcore's, or a late B order
for an A order fedcore already linked or completed. B's provider approves and completes orders at random moments,
transient faults hit any call, and the sweep runs at random. Once the rival stops and B's provider finishes
everything, a few passes and a sweep leave exactly one live B order per A order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, cast

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from order_world import A_OFFERING, B_CUSTOMER, B_OFFERING, Times
from rival_kit import RivalB

from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from fedcore.enums import OrderState, ResourceState
from fedcore.errors import PortError
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.model import NewOrder, Order, ProjectKey
from fedcore.services.duplicates import sweep_duplicates
from fedcore.services.orders import OrderPorts, OrderProcessor

pytestmark = pytest.mark.unit

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
FAULTABLE = ("find_project", "create_project", "create_order", "find_orders", "get_orders", "get_order",
             "delete_order", "delete_project", "request_termination", "set_order_backend_id",
             "set_resource_backend_id", "complete", "list_keyed_creates", "get_resource")


def _sharing(b: MemoryTarget) -> MemoryTarget:
    """Another client of the same fake B: its own (empty) fault plan, B's state, clock and UUIDs."""
    other = MemoryTarget(B_OFFERING, B_CUSTOMER, components={"cpu_b"})
    other.orders, other.resources, other.projects, other.members = b.orders, b.resources, b.projects, b.members
    other.new_uuid, other._ticks = b.new_uuid, b._ticks
    return other


class TwoReplicas(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.faults = Faults()
        self.a = MemorySource(A_OFFERING, faults=self.faults)
        self.b = MemoryTarget(B_OFFERING, B_CUSTOMER, components={"cpu_b"}, faults=self.faults)
        self.projects = [self.a.add_project(f"p{n}") for n in range(2)]
        self.rival = RivalB(self.b)
        self.other = _sharing(self.b)
        """The other replica's B: the same state, without fedcore's injected faults."""
        self.ports = OrderPorts(self.a, self.a, cast(Any, self.rival), self.b, cast(Any, self.rival))
        self.placed: list[Uuid] = []

    def agent(self) -> OrderProcessor:
        return OrderProcessor(self.ports, Times())

    @rule(project=st.integers(0, 1), cpu=st.integers(1, 9))
    def place_create(self, project: int, cpu: int) -> None:
        self.placed.append(self.a.order_create(self.projects[project], {"cpu": cpu}).uuid)

    @rule()
    def run_pass(self) -> None:
        self.agent().run_pass()

    @rule()
    def sweep(self) -> None:
        with contextlib.suppress(PortError):  # a sweep that could not start: the next one covers the same window
            sweep_duplicates(self.ports, EPOCH, LATER)

    @rule(moment=st.sampled_from(["before", "after"]))
    def rival_submits_with_fedcore(self, moment: str) -> None:
        if moment == "before":
            self.rival.before_order = self._rival_order
        else:
            self.rival.after_order = lambda made: self._rival_order(
                NewOrder(made.project_uuid, made.key, made.limits))

    def _rival_order(self, order: NewOrder) -> None:
        self.other.create_order(NewOrder(order.project_uuid, order.key, order.limits))

    @rule()
    def rival_makes_the_project_first(self) -> None:
        self.rival.before_project = lambda key: self.other.create_project(key, "rival's", "")

    @precondition(lambda self: bool(self._keyed_orders()))
    @rule(data=st.data())
    def rival_submits_late(self, data: st.DataObject) -> None:
        """The other replica found no keyed order long ago and its submission lands only now."""
        served = data.draw(st.sampled_from(self._keyed_orders()))
        if served.project_uuid in self.b.projects:
            self.other.create_order(NewOrder(served.project_uuid, served.key, served.limits))

    @precondition(lambda self: bool(self.b.open_orders()))
    @rule(data=st.data(), finish=st.booleans())
    def b_provider(self, data: st.DataObject, finish: bool) -> None:
        order = data.draw(st.sampled_from(sorted(self.b.open_orders(), key=lambda o: o.uuid)))
        if finish:
            self.b.provider_finish(order.uuid, OrderState.DONE)
        elif order.state == OrderState.PENDING_PROVIDER:
            self.b.provider_approve(order.uuid)

    @rule(method=st.sampled_from(FAULTABLE), after=st.booleans())
    def transient_fault(self, method: str, after: bool) -> None:
        if after:
            self.faults.apply_then_fail(method)
        else:
            self.faults.fail_next(method)

    def _keyed_orders(self) -> list[Order]:
        keys = {idempotency_key(u) for u in self.placed}
        return sorted((o for o in self.b.orders.values() if o.key in keys), key=lambda o: o.uuid)

    def _live(self, a_order: Uuid) -> list[Order]:
        key = idempotency_key(a_order)
        return [o for o in self.b.orders.values() if o.key == key and not o.state.is_failure
                and self.b.resources[Uuid(o.resource_uuid or "")].state != ResourceState.TERMINATED]

    @invariant()
    def a_never_links_a_b_order_that_is_not_there(self) -> None:
        for uuid in self.placed:
            link = self.a.orders[uuid].link
            assert link is None or link in self.b.orders, (uuid, link)

    @invariant()
    def no_a_order_fails(self) -> None:
        failed = [self.a.orders[u] for u in self.placed if self.a.orders[u].state.is_failure]
        assert not failed, [o.error_message for o in failed]

    def teardown(self) -> None:
        self.rival.disarm()
        self.faults.clear()
        for _ in range(8):
            for order in list(self.b.open_orders()):
                self.b.provider_finish(order.uuid, OrderState.DONE)
            self.agent().run_pass()
            sweep_duplicates(self.ports, EPOCH, LATER)
        assert not self.b.open_orders()
        for uuid in self.placed:
            a_order = self.a.orders[uuid]
            assert a_order.state == OrderState.DONE, a_order
            live = self._live(uuid)
            assert [o.uuid for o in live] == [a_order.link], (uuid, live, a_order.link)
            a_resource = self.a.resources[Uuid(a_order.resource_uuid or "")]
            assert a_resource.link == live[0].resource_uuid
        for project in self.projects:
            key = ProjectKey(project.customer_uuid, project.uuid)
            assert len(self.b.projects_with_key(key)) <= 1, self.b.projects_with_key(key)


TestTwoReplicas = TwoReplicas.TestCase
TestTwoReplicas.settings = settings(TestTwoReplicas.settings, stateful_step_count=30)
