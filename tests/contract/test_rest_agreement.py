"""The in-memory fakes and the REST adapter over two emulators, driven by the same generated operations, agree.

A :class:`~hypothesis.stateful.RuleBasedStateMachine` places the same orders on both A's (valid ones, and some for a
component B does not offer), runs order passes on both order processors, and plays B's service provider on both B's
(approving, finishing with done or erred). After every step both sides agree on what an observer can see: the state
of every A order, and how many B orders carry each A order's key and in which states. The REST side's every request
is checked against Waldur 8.0.5's schema on the way. Example counts are fixed here (not by the profile) to keep the
test within seconds; with them it catches, for instance, an adapter whose ``complete`` marks the order erred.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adapters.memory.orders import MemorySource, MemoryTarget
from contract.rest_kit import federate
from fedcore.conversion import build_conversion
from fedcore.enums import OrderState
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.model import ComponentMapping, Order, Project
from fedcore.services.orders import OrderPorts, OrderProcessor

pytestmark = pytest.mark.contract

A_OFFERING = Uuid("a" * 32)
B_OFFERING = Uuid("b" * 32)
B_CUSTOMER = Uuid("c" * 32)
PROJECTS = 3
CONVERSION = build_conversion([ComponentMapping("cpu")])
"""``cpu`` passes through unchanged; ``gpu`` (offered on A only) is a component B does not know."""


def b_view(orders: list[Order]) -> list[OrderState]:
    """What the observer compares of the B orders carrying one key: their states, in a stable order."""
    return sorted((o.state for o in orders), key=str)


class Agreement(RuleBasedStateMachine):
    """Memory and REST, step by step: the same orders, passes and B provider actions."""

    def __init__(self) -> None:
        super().__init__()
        self.kit = federate(a_components=("cpu", "gpu"))
        self.rest = self.kit.processor(CONVERSION)
        self.mem_a = MemorySource(A_OFFERING)
        self.mem_b = MemoryTarget(B_OFFERING, B_CUSTOMER, components={"cpu"})
        self.mem = OrderProcessor(OrderPorts(self.mem_a, self.mem_a, self.mem_b, self.mem_b, self.mem_b), CONVERSION)
        self.projects: list[tuple[Project, Uuid]] = []
        self.orders: list[tuple[Uuid, Uuid]] = []
        """(memory A order, REST A order) for each order placed."""

    @initialize(amounts=st.lists(st.integers(1, 9), min_size=1, max_size=3))
    def first_orders(self, amounts: list[int]) -> None:
        for n, amount in enumerate(amounts):
            self.place_order(n % PROJECTS, amount, valid=True)

    @rule(project=st.integers(0, PROJECTS - 1), amount=st.integers(1, 9), valid=st.booleans())
    def place_order(self, project: int, amount: int, valid: bool) -> None:
        while len(self.projects) <= project:
            self.projects.append((self.mem_a.add_project(f"p{len(self.projects)}"), self.kit.new_project()))
        memory_project, rest_project = self.projects[project]
        limits = {"cpu" if valid else "gpu": amount}
        name = f"res-{len(self.orders)}"
        placed = (self.mem_a.order_create(memory_project, limits, name=name).uuid,
                  self.kit.order_create(rest_project, limits, name=name).uuid)
        self.orders.append(placed)

    @rule()
    def run_passes(self) -> None:
        memory, rest = self.mem.run_pass(), self.rest.run_pass()
        assert sorted(o.status for o in memory.outcomes) == sorted(o.status for o in rest.outcomes)

    @rule(pick=st.integers(0, 99))
    def b_provider_approves(self, pick: int) -> None:
        pair = self._b_pair(pick, OrderState.PENDING_PROVIDER)
        if pair is not None:
            self.mem_b.provider_approve(pair[0])
            self.kit.b_approve(pair[1])

    @rule(pick=st.integers(0, 99), outcome=st.sampled_from([OrderState.DONE, OrderState.ERRED]))
    def b_provider_finishes(self, pick: int, outcome: OrderState) -> None:
        pair = self._b_pair(pick, OrderState.PENDING_PROVIDER, OrderState.EXECUTING)
        if pair is not None:
            self.mem_b.provider_finish(pair[0], outcome, "no capacity")
            self.kit.b_finish(pair[1], outcome, "no capacity")

    def _b_pair(self, pick: int, *states: OrderState) -> tuple[Uuid, Uuid] | None:
        """The B orders (memory, REST) serving the same A order, both in one of ``states``; None if there are none."""
        rest = self._rest_b_orders()
        pairs = []
        for memory_a, rest_a in self.orders:
            theirs = self.mem_b.orders_with_key(idempotency_key(memory_a))
            ours = rest[idempotency_key(rest_a)]
            if len(theirs) == len(ours) == 1 and theirs[0].state in states and ours[0].state in states:
                pairs.append((theirs[0].uuid, ours[0].uuid))
        return pairs[pick % len(pairs)] if pairs else None

    def _rest_b_orders(self) -> dict[str, list[Order]]:
        by_key: dict[str, list[Order]] = defaultdict(list)
        for order in self.kit.b_orders():
            by_key[order.key].append(order)
        return by_key

    @invariant()
    def both_sides_agree(self) -> None:
        rest_a = {o.uuid: o for o in self.kit.a_orders()}
        rest_b = self._rest_b_orders()
        for memory_a, rest_uuid in self.orders:
            assert self.mem_a.order(memory_a).state == rest_a[rest_uuid].state
            theirs = b_view(self.mem_b.orders_with_key(idempotency_key(memory_a)))
            assert theirs == b_view(rest_b[idempotency_key(rest_uuid)])
            assert len(theirs) <= 1
        assert not self.kit.problems()

    def teardown(self) -> None:
        self.kit.close()


Agreement.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # Shrinking this machine takes minutes (every step is HTTP); a failure is reported as generated, in at most
    # 15 readable steps, and replayed first on the next run from Hypothesis' example database.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
TestMemoryAndRestAgree = Agreement.TestCase
