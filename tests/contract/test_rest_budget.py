"""The REST adapter's call budget, counted at the transport (listings and retries included) over two emulators.

fedcore promises (``fedcore.ports.orders``): at most 8 HTTP calls to A and B together per federated Create order,
from pending-provider on A to done on A, amortised over a busy offering; at most 10 for the first order in a new
project; exactly 1 for a polling pass with nothing to do; and an outage of B costs each failing read once per pass,
not once per order. B's service provider is the emulator's provider simulation, driven through its admin API: those
calls are not fedcore's and are not counted. Run with ``-s`` to see the measured figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from contract.rest_kit import Kit, federate
from fedcore.enums import OrderState
from fedcore.ids import Uuid
from fedcore.lifecycle import idempotency_key
from fedcore.services.orders import OrderProcessor

pytestmark = pytest.mark.contract

MAX_PASSES = 6


@pytest.fixture
def kit() -> Iterator[Kit]:
    """A federation whose B provider approves and finishes every order at once (when asked to act)."""
    made = federate()
    made.simulate_b_provider()
    yield made
    problems = made.problems()
    made.close()
    assert not problems, "\n".join(problems)


def until_done(kit: Kit, processor: OrderProcessor, orders: set[Uuid]) -> int:
    """Passes until every one of ``orders`` is done on A (B's provider acting between passes); how many it took.

    Whether they are done is read with A's staff client, which is not counted.
    """
    for passes in range(1, MAX_PASSES + 1):
        processor.run_pass()
        kit.b_provider_acts()
        states = {o.uuid: o.state for o in kit.a_orders() if o.uuid in orders}
        if all(state.is_terminal for state in states.values()):
            assert set(states.values()) == {OrderState.DONE}, states
            return passes
    raise AssertionError(f"orders still open after {MAX_PASSES} passes")


def figures(kit: Kit, orders: int = 0) -> str:
    """The calls counted since the last ``forget_traffic``: per server, per order (if any), per endpoint."""
    a, b = kit.a.calls, kit.b.calls
    per_endpoint = Counter({f"A {k}": v for k, v in kit.a.traffic.calls.items()})
    per_endpoint.update({f"B {k}": v for k, v in kit.b.traffic.calls.items()})
    share = f"; per order {(a + b) / orders:.2f} (A {a / orders:.2f}, B {b / orders:.2f})" if orders else ""
    return f"{a + b} calls (A {a}, B {b}){share}; by endpoint {dict(sorted(per_endpoint.items()))}"


def test_a_hundred_create_orders_over_ten_projects_cost_at_most_8_calls_each(kit: Kit) -> None:
    processor = kit.processor()
    projects = [kit.new_project(f"project {n}") for n in range(10)]
    placed = {kit.order_create(projects[n % 10], {"cpu": n + 1}, name=f"res-{n}").uuid for n in range(100)}
    kit.forget_traffic()
    passes = until_done(kit, processor, placed)
    report = f"100 Create orders, 10 projects, {passes} passes: {figures(kit, 100)}"
    print(report)
    assert (kit.a.calls + kit.b.calls) / 100 <= 8, report
    keys = Counter(o.key for o in kit.b_orders())
    assert all(keys[idempotency_key(uuid)] == 1 for uuid in placed)


def test_the_first_order_in_a_new_project_costs_at_most_14_calls(kit: Kit) -> None:
    """10 calls, plus one: a B project not found under fedcore's spelling of its key is looked up once more under
    the existing agent's (hyphenated), so that a project it federated is never made twice after a migration; plus
    three looks for a second replica's work (docs/scaling.md): the B project again after creating it, the key
    again after submitting, and once more before completing."""
    processor = kit.processor()
    first = kit.order_create(kit.new_project("first"), {"cpu": 1})
    kit.forget_traffic()
    until_done(kit, processor, {first.uuid})
    cold = kit.a.calls + kit.b.calls
    cold_report = f"the processor's very first order (B's plan looked up once): {figures(kit, 1)}"
    print(cold_report)
    order = kit.order_create(kit.new_project("second"), {"cpu": 2})
    kit.forget_traffic()
    passes = until_done(kit, processor, {order.uuid})
    report = f"the first order in a new project, {passes} passes: {figures(kit, 1)}"
    print(report)
    assert kit.a.calls + kit.b.calls <= 14, report
    assert cold <= 15, cold_report


def test_a_pass_with_nothing_to_do_costs_exactly_one_call(kit: Kit) -> None:
    processor = kit.processor()
    kit.forget_traffic()
    processor.run_pass()
    report = f"an idle pass on a new offering: {figures(kit)}"
    print(report)
    assert (kit.a.calls, kit.b.calls) == (1, 0), report
    order = kit.order_create(kit.new_project(), {"cpu": 1})
    until_done(kit, processor, {order.uuid})
    kit.forget_traffic()
    processor.run_pass()
    report = f"an idle pass after work: {figures(kit)}"
    print(report)
    assert (kit.a.calls, kit.b.calls) == (1, 0), report


def test_a_pass_waiting_on_b_costs_one_listing_per_side_whatever_the_number_of_orders(kit: Kit) -> None:
    processor = kit.processor()
    kit.b.admin("DELETE", f"offerings/{kit.federation.b.offering_uuid}/provider-simulation/")
    project = kit.new_project()
    for n in range(20):
        kit.order_create(project, {"cpu": n + 1})
    processor.run_pass()
    kit.forget_traffic()
    report = processor.run_pass()
    text = f"a pass with 20 orders waiting on B: {figures(kit, 20)}"
    print(text)
    assert report.count("waiting") == 20
    assert (kit.a.calls, kit.b.calls) == (1, 1), text


def test_an_outage_of_b_costs_each_failing_read_once_per_pass_not_once_per_order(kit: Kit) -> None:
    processor = kit.processor()
    kit.b.admin("DELETE", f"offerings/{kit.federation.b.offering_uuid}/provider-simulation/")
    waiting = kit.new_project("waiting")
    linked = {kit.order_create(waiting, {"cpu": n + 1}).uuid for n in range(20)}
    processor.run_pass()  # linked to B orders B's provider has not acted on yet
    fresh = [kit.new_project(f"fresh {n}") for n in range(5)]
    new = {kit.order_create(fresh[n % 5], {"cpu": n + 1}).uuid for n in range(10)}
    kit.b.fault(".*")  # 503 on every B request
    kit.forget_traffic()
    report = processor.run_pass()
    attempts = processor_attempts(kit)
    reads = Counter(kit.b.requests)
    text = (f"B down (503), 30 orders (20 waiting on B, 10 new in 5 new projects): {figures(kit, 30)}; "
            f"{len(reads)} distinct B reads, each tried {set(reads.values())} time(s)")
    print(text)
    assert report.count("retrying") == 30
    assert all(request.startswith("GET ") for request in reads), reads
    assert len(reads) == 1 + 5, text  # the batched read of the linked B orders, one project lookup per project
    assert set(reads.values()) == {attempts}, text
    assert not [o for o in kit.a_orders() if o.state == OrderState.ERRED]
    kit.b.clear_faults()
    kit.simulate_b_provider()
    until_done(kit, processor, linked | new)


def processor_attempts(kit: Kit) -> int:
    """How many times the adapter tries a failing read (its retry policy)."""
    return kit.b.http.retry.attempts
