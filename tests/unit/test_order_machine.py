"""The order lifecycle under crashes, transient faults and every B outcome, as a hypothesis state machine.

Many Create, Update and Terminate orders run against the in-memory A and B while the machine injects transient
faults (before or after a write takes effect), kills the agent right after any write (the next pass is a new
processor that remembers nothing), and plays B's provider (done, erred, rejected, canceled). After every step:

- at most one B order (so at most one B resource) per A order, and at most one B project per A project;
- no A order is done before its B order is done (or, for Terminate, before the B resource is terminated);
- no A order is erred or rejected unless B failed it or the request itself was invalid;
- an Update or Terminate reaches B only on the resource the user meant, and is refused as unresolvable only when
  an independent oracle (which knows which resource the user meant) agrees that its shadow could mean another;
and once faults stop and B's provider finishes its work, every A order reaches a terminal state.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from attrs import evolve
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.memory.faults import Crash, Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.errors import TransientError
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.model import Order, ProjectKey, Resource
from fedcore.services.orders import OrderPorts, OrderProcessor

pytestmark = pytest.mark.unit

PORT_METHODS = (
    "list_open_orders", "list_project_resources", "approve", "set_resource_backend_id", "set_order_backend_id",
    "complete", "fail", "find_project", "create_project", "create_order", "request_update", "request_termination",
    "find_orders", "get_orders", "get_resource",
)
B_OUTCOMES = (OrderState.DONE, OrderState.DONE, OrderState.DONE, OrderState.ERRED, OrderState.REJECTED,
              OrderState.CANCELED)
RESOLUTION_FAILURES = ("never created there", "shadow with no link to B", "could be meant")
EXPLAINED_FAILURES = (*RESOLUTION_FAILURES, "cannot convert", "terminated; it cannot be updated",
                      "only updates the limits of OK resources")
POSSIBLE_TARGETS = (ResourceState.OK, ResourceState.ERRED, ResourceState.UPDATING)


class Double:
    """x2 for ``cpu``, x3 for ``mem``; any other component is unknown (so such orders are invalid)."""

    def limits_to_target(self, a_limits: Mapping[str, int]) -> dict[str, int]:
        factors = {"cpu": 2, "mem": 3}
        unknown = sorted(set(a_limits) - set(factors))
        if unknown:
            raise ValueError(f"component {unknown[0]!r} is not configured")
        return {f"{name}_b": value * factors[name] for name, value in a_limits.items()}


class OrderLifecycle(RuleBasedStateMachine):
    """Drives A users, the agent, faults and B's provider with generated operations."""

    def __init__(self) -> None:
        super().__init__()
        self.faults = Faults()
        self.a = MemorySource(Uuid("a" * 32), faults=self.faults)
        self.b = MemoryTarget(Uuid("b" * 32), Uuid("c" * 32), components={"cpu_b", "mem_b"}, faults=self.faults)
        customer = self.a.new_uuid()
        self.projects = [self.a.add_project("alpha", customer), self.a.add_project("beta", customer),
                         self.a.add_project("gamma")]
        self.crashes = 0
        self.meant: dict[Uuid, Uuid] = {}  # A change order -> the A resource its user meant
        self.shadows: set[Uuid] = set()
        self.refused_resolvable: dict[Uuid, bool] = {}  # order failed in a pass -> the oracle could resolve it

    def agent(self) -> OrderProcessor:
        return OrderProcessor(OrderPorts(self.a, self.a, self.b, self.b, self.b), Double())

    # -- A's users -------------------------------------------------------------------------------------------

    @rule(project=st.integers(0, 2), cpu=st.integers(0, 100), extra=st.sampled_from([None, "mem", "gpu"]))
    def order_create(self, project: int, cpu: int, extra: str | None) -> None:
        limits = {"cpu": cpu} | ({extra: 1} if extra else {})
        self.a.order_create(self.projects[project], limits, name=f"res{len(self.a.orders)}")

    def _changeable(self) -> list[Resource]:
        busy = {o.resource_uuid for o in self.a.orders.values() if not o.state.is_terminal}
        return sorted(
            (r for r in self.a.resources.values()
             if r.name and r.state in (ResourceState.OK, ResourceState.ERRED) and r.uuid not in busy),
            key=lambda r: r.uuid,
        )

    @precondition(lambda self: bool(self._changeable()))
    @rule(data=st.data(), kind=st.sampled_from([OrderType.UPDATE, OrderType.TERMINATE]), shadow=st.booleans(),
          cpu=st.integers(0, 100))
    def order_change(self, data: st.DataObject, kind: OrderType, shadow: bool, cpu: int) -> None:
        resource = data.draw(st.sampled_from(self._changeable()))
        order = self.a.order_change(resource.uuid, kind, {"cpu": cpu}, shadow=shadow)
        self.meant[order.uuid] = resource.uuid
        if shadow:
            self.shadows.add(order.uuid)

    # -- the agent -------------------------------------------------------------------------------------------

    @rule()
    def run_pass(self) -> None:
        before = self._oracle_targets()
        open_before = {u for u in self.meant if not self.a.orders[u].state.is_terminal}
        try:
            self.agent().run_pass()
        except Crash:
            self.crashes += 1
        except TransientError:
            pass  # A's listing failed: the pass had nothing to work on
        after = self._oracle_targets()
        for order_uuid in open_before:
            order = self.a.orders[order_uuid]
            if order.state in (OrderState.ERRED, OrderState.REJECTED):
                # Refused in this pass as unresolvable: the oracle must agree, before or after the pass (earlier
                # orders of the same pass may change which resources the project holds).
                resolvable = before[order_uuid] is not None and before[order_uuid] == after[order_uuid]
                self.refused_resolvable[order_uuid] = resolvable

    def _oracle_targets(self) -> dict[Uuid, Uuid | None]:
        """For each change order, the B resource it must act on, worked out from what the user meant."""
        return {u: self._oracle_target(u) for u in self.meant}

    def _oracle_target(self, order_uuid: Uuid) -> Uuid | None:
        meant = self.a.resources[self.meant[order_uuid]]
        if order_uuid in self.shadows:
            project = self.a.orders[order_uuid].project_uuid
            plausible = [r.uuid for r in self.a.resources.values()
                         if r.project_uuid == project and r.name and r.state in POSSIBLE_TARGETS]
            if plausible != [meant.uuid]:
                return None  # the shadow could mean another resource: fedcore must refuse it
        return meant.link

    @rule(data=st.data())
    def hide_from_listings(self, data: st.DataObject) -> None:
        """B's batched reads miss an order (a paging race): it must still be read alone, never taken as gone."""
        if self.b.orders:
            self.b.unlisted.add(data.draw(st.sampled_from(sorted(self.b.orders))))

    @precondition(lambda self: any(o.state == OrderState.PENDING_PROVIDER for o in self.a.orders.values()))
    @rule(data=st.data())
    def approved_elsewhere(self, data: st.DataObject) -> None:
        """Someone approves an order on A before fedcore sees it (so invalid ones must fail without B writes)."""
        pending = sorted(u for u, o in self.a.orders.items() if o.state == OrderState.PENDING_PROVIDER)
        chosen = data.draw(st.sampled_from(pending))
        self.a.orders[chosen] = evolve(self.a.orders[chosen], state=OrderState.EXECUTING)

    # -- faults ----------------------------------------------------------------------------------------------

    @rule(method=st.sampled_from(PORT_METHODS), times=st.integers(1, 2), after=st.booleans())
    def inject_fault(self, method: str, times: int, after: bool) -> None:
        if after:
            self.faults.apply_then_fail(method, times)
        else:
            self.faults.fail_next(method, times)

    @rule(writes=st.integers(1, 6))
    def arm_crash(self, writes: int) -> None:
        self.faults.crash_after_writes(writes)

    # -- B's service provider --------------------------------------------------------------------------------

    @precondition(lambda self: bool(self.b.open_orders()))
    @rule(data=st.data(), outcome=st.sampled_from(B_OUTCOMES))
    def b_provider(self, data: st.DataObject, outcome: OrderState) -> None:
        order = data.draw(st.sampled_from(sorted(self.b.open_orders(), key=lambda o: o.uuid)))
        self.b.provider_finish(order.uuid, outcome, f"B says {outcome}")

    # -- invariants ------------------------------------------------------------------------------------------

    def _b_order(self, a_order: Order) -> Order | None:
        found = self.b.orders_with_key(idempotency_key(a_order.uuid))
        return found[0] if found else None

    @invariant()
    def at_most_one_b_order_per_a_order(self) -> None:
        for order in self.a.orders.values():
            assert len(self.b.orders_with_key(idempotency_key(order.uuid))) <= 1, order
        for project in self.projects:
            assert len(self.b.projects_with_key(ProjectKey(project.customer_uuid, project.uuid))) <= 1

    @invariant()
    def no_a_order_done_before_its_b_order(self) -> None:
        for order in self.a.orders.values():
            if order.state != OrderState.DONE:
                continue
            if order.type == OrderType.TERMINATE and self._terminated_on_b(order):
                continue  # whichever B order did it, the B resource is gone: that is what Terminate asks
            b_order = self._b_order(order)
            assert b_order is not None, order
            assert b_order.state == OrderState.DONE, (order, b_order)

    def _terminated_on_b(self, order: Order) -> bool:
        own = self.a.resources[order.resource_uuid] if order.resource_uuid else None
        if own is not None and own.name:  # a real resource: its own link must be terminated
            candidates = [own] if own.backend_id else []
        else:  # a shadow: the resolved resource is one of the project's federated ones
            candidates = [r for r in self.a.resources.values() if r.project_uuid == order.project_uuid and r.backend_id]
        return any(self.b.resources[Uuid(r.backend_id)].state == ResourceState.TERMINATED for r in candidates)

    @invariant()
    def no_a_order_erred_without_cause(self) -> None:
        for order in self.a.orders.values():
            if order.state not in (OrderState.ERRED, OrderState.REJECTED):
                continue
            b_order = self._b_order(order)
            failed_on_b = b_order is not None and b_order.state.is_failure and "B says" in order.error_message
            explained = any(reason in order.error_message for reason in EXPLAINED_FAILURES)
            assert failed_on_b or explained, (order, b_order)
            if order.state == OrderState.REJECTED:
                assert b_order is None, (order, b_order)  # rejected before anything reached B

    @invariant()
    def changes_reach_only_the_resource_the_user_meant(self) -> None:
        for order_uuid, meant in self.meant.items():
            order = self.a.orders[order_uuid]
            b_order = self._b_order(order)
            if b_order is not None:
                assert b_order.resource_uuid == self.a.resources[meant].link, (order, b_order)
            unresolved = any(reason in order.error_message for reason in RESOLUTION_FAILURES)
            if order.state in (OrderState.ERRED, OrderState.REJECTED) and unresolved:
                assert not self.refused_resolvable.get(order_uuid, False), (order, self.a.resources[meant])

    def teardown(self) -> None:
        self.faults.clear()
        for _ in range(8):
            self.agent().run_pass()
            for b_order in self.b.open_orders():
                self.b.provider_finish(b_order.uuid, OrderState.DONE)
        stuck = [o for o in self.a.orders.values() if not o.state.is_terminal]
        assert not stuck, stuck
        self.at_most_one_b_order_per_a_order()
        self.no_a_order_done_before_its_b_order()
        self.no_a_order_erred_without_cause()


TestOrderLifecycle = OrderLifecycle.TestCase
# The machine is cheap (about 75 runs of 60 steps a second) and the heart of the guarantees: run it harder.
_profile = settings.get_profile(settings.get_current_profile_name())
TestOrderLifecycle.settings = settings(_profile, max_examples=_profile.max_examples * 4)
