"""The drift rules of ``fedcore status`` (runners.drift): pure comparisons of what A and B showed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcore.conversion import build_conversion
from fedcore.enums import EndDateSyncDirection, OrderState, OrderType, ResourceState
from fedcore.ids import Uuid, normalize_uuid
from fedcore.model import ComponentMapping, Order, Resource
from runners.drift import (
    SETTLED,
    DriftKind,
    Observed,
    ResourceRow,
    compare,
    end_date_drift,
    limits_drift,
    order_row,
    state_drift,
)

pytestmark = pytest.mark.unit

A_OFFERING, B_OFFERING = "a" * 32, "b" * 32
PROJECT, CUSTOMER = "c" * 32, "d" * 32
FAN_OUT = build_conversion([ComponentMapping("node_hours", {"cpu_k_hours": Decimal(128)}),
                            ComponentMapping("storage")])
BOTH = EndDateSyncDirection.BIDIRECTIONAL


def uid(n: int) -> Uuid:
    return normalize_uuid(f"{n:032x}")


def a_res(n: int, state: ResourceState = ResourceState.OK, *, link: int | None = None, backend_id: str = "",
          limits: Mapping[str, int] | None = None, end_date: dt.date | None = None) -> Resource:
    return Resource(uid(n), state, A_OFFERING, PROJECT, name=f"r{n}", backend_id=backend_id or (
        uid(link) if link is not None else ""), limits=limits or {}, end_date=end_date)


def b_res(n: int, state: ResourceState = ResourceState.OK, *, limits: Mapping[str, int] | None = None,
          end_date: dt.date | None = None) -> Resource:
    return Resource(uid(n), state, B_OFFERING, PROJECT, name=f"b{n}", limits=limits or {}, end_date=end_date)


def a_order(n: int, *, link: int | None = None, state: OrderState = OrderState.EXECUTING) -> Order:
    return Order(uid(n), OrderType.CREATE, state, A_OFFERING, PROJECT, CUSTOMER,
                 backend_id=uid(link) if link is not None else "", resource_name=f"r{n}",
                 created=dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n))


def b_order(n: int, state: OrderState, *, resource: int | None = None, error: str = "") -> Order:
    return Order(uid(n), OrderType.CREATE, state, B_OFFERING, PROJECT, CUSTOMER,
                 resource_uuid=uid(resource) if resource is not None else None, error_message=error)


def observed(a: Sequence[Resource], b: Sequence[Resource], *, orders: Sequence[Order] = (),
             b_orders: Sequence[Order] = (), missing: Collection[int] = (), missing_orders: Collection[int] = (),
             unlisted: Collection[int] = ()) -> Observed:
    return Observed(tuple(a), tuple(b), frozenset(r.uuid for r in b if int(r.uuid, 16) not in unlisted),
                    tuple(orders), {o.uuid: o for o in b_orders}, frozenset(uid(n) for n in missing),
                    frozenset(uid(n) for n in missing_orders))


def kinds(observation: Observed, *, include_settled: bool = False) -> dict[str, list[str]]:
    comparison = compare(observation, FAN_OUT, BOTH, include_settled=include_settled)
    return {_name(row): [d.kind.value for d in row.drift] for row in comparison.resources}


def _name(row: ResourceRow) -> str:
    side = row.a or row.b
    assert side is not None
    return side.name


# --- one rule at a time -----------------------------------------------------------------------------------------


@given(st.sampled_from(list(ResourceState)), st.sampled_from(list(ResourceState)))
def test_states_drift_only_when_both_are_settled_and_differ(a: ResourceState, b: ResourceState) -> None:
    drift = state_drift(a, b)
    assert (drift is not None) == (a in SETTLED and b in SETTLED and a != b)
    if drift is not None:
        assert drift.message == f"A is {a} but B is {b}"


def test_limits_compare_a_converted_with_b_and_a_missing_value_counts_as_zero() -> None:
    assert limits_drift({"cpu_k_hours": 384, "storage": 0}, {"cpu_k_hours": 384}) is None
    drift = limits_drift({"cpu_k_hours": 128}, {"cpu_k_hours": 512, "storage": 2})
    assert drift is not None
    assert drift.message == ("cpu_k_hours: A's limits convert to 128, B has 512; "
                             "storage: A's limits convert to 0, B has 2")


def test_end_dates_drift_unless_they_are_not_synced() -> None:
    june, july = dt.date(2030, 6, 1), dt.date(2030, 7, 1)
    assert end_date_drift(june, june, BOTH) is None
    assert end_date_drift(june, july, EndDateSyncDirection.DISABLED) is None
    drift = end_date_drift(None, july, EndDateSyncDirection.A_TO_B)
    assert drift is not None
    assert drift.message == "A ends never, B ends 2030-07-01 (sync: a_to_b)"


# --- compare: pairs, lone resources, strays -----------------------------------------------------------------------


def test_a_pair_in_step_has_no_drift_and_shows_limits_converted_both_ways() -> None:
    a = a_res(1, link=101, limits={"node_hours": 3, "storage": 5})
    b = b_res(101, limits={"cpu_k_hours": 384, "storage": 5, "gpu": 7})
    [row] = compare(observed([a], [b]), FAN_OUT, BOTH).resources
    assert (row.a, row.b, row.drift) == (a, b, ())
    assert row.a_limits_as_b == {"cpu_k_hours": 384, "storage": 5}
    assert row.b_limits_as_a == {"node_hours": 3, "storage": 5}


def test_every_kind_of_resource_drift_is_flagged_on_its_row() -> None:
    a = [
        a_res(1, link=101, limits={"node_hours": 1}),
        a_res(2, link=102),
        a_res(3, link=103, end_date=dt.date(2030, 1, 1)),
        a_res(4, link=104),
        a_res(5),
        a_res(6, backend_id="slurm-account-6"),
    ]
    b = [
        b_res(101, limits={"cpu_k_hours": 512}),
        b_res(102, ResourceState.TERMINATED),
        b_res(103),
        b_res(105),
    ]
    assert kinds(observed(a, b, missing={104})) == {
        "r1": ["limits"], "r2": ["state"], "r3": ["end_date"], "r4": ["missing_on_b"], "r5": ["not_linked"],
        "r6": ["not_linked"], "b105": ["stray_on_b"]}


def test_limits_and_end_dates_are_not_compared_while_an_order_changes_them() -> None:
    a = [a_res(1, ResourceState.UPDATING, link=101, limits={"node_hours": 2}), a_res(2, link=102)]
    b = [b_res(101, limits={"cpu_k_hours": 128}), b_res(102, ResourceState.TERMINATING, end_date=dt.date(2030, 1, 1))]
    comparison = compare(observed(a, b), FAN_OUT, BOTH)
    assert [(r.drift, r.in_transition) for r in comparison.resources] == [((), True), ((), True)]


def test_lone_resources_that_should_not_be_linked_yet_are_not_drift() -> None:
    a = [a_res(1, ResourceState.CREATING), a_res(2, ResourceState.ERRED), a_res(3, ResourceState.TERMINATED, link=103)]
    assert kinds(observed(a, []), include_settled=True) == {"r1": [], "r2": [], "r3": []}


def test_b_resources_being_created_by_a_linked_order_and_terminated_ones_are_not_strays() -> None:
    orders = [a_order(7, link=207)]
    b_orders = [b_order(207, OrderState.EXECUTING, resource=107)]
    b = [b_res(107, ResourceState.CREATING), b_res(108, ResourceState.TERMINATED), b_res(109, ResourceState.ERRED)]
    assert kinds(observed([], b, orders=orders, b_orders=b_orders)) == {"b109": ["stray_on_b"]}
    assert kinds(observed([], b, orders=orders, b_orders=b_orders), include_settled=True) == {
        "b108": [], "b109": ["stray_on_b"]}


def test_a_linked_b_resource_read_alone_is_paired_but_never_a_stray() -> None:
    a = [a_res(1, link=101)]
    b = [b_res(101)]
    assert kinds(observed(a, b, unlisted={101})) == {"r1": []}
    assert kinds(observed([], b, unlisted={101})) == {}


def test_settled_rows_are_hidden_unless_asked_for_but_drifting_ones_never() -> None:
    a = [a_res(1, ResourceState.TERMINATED, link=101), a_res(2, ResourceState.TERMINATED, link=102)]
    b = [b_res(101, ResourceState.TERMINATED), b_res(102)]
    assert kinds(observed(a, b)) == {"r2": ["state"]}
    assert kinds(observed(a, b), include_settled=True) == {"r1": [], "r2": ["state"]}


# --- orders in flight ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("b_state", "note"), [
    (OrderState.PENDING_PROVIDER, "waiting for B (pending-provider)"),
    (OrderState.EXECUTING, "waiting for B (executing)"),
    (OrderState.DONE, "B is done: fedcore completes the A order on its next pass"),
    (OrderState.ERRED, "B is erred: fedcore fails the A order with B's message on its next pass"),
    (OrderState.REJECTED, "B is rejected: fedcore fails the A order with B's message on its next pass"),
])
def test_an_order_in_flight_says_what_fedcore_does_next(b_state: OrderState, note: str) -> None:
    row = order_row(a_order(1, link=201), b_order(201, b_state, error="no quota"), missing=False)
    assert (row.note, row.drift) == (note, ())
    assert row.b is not None
    assert row.b.error_message == "no quota"


def test_orders_not_yet_on_b_and_gone_from_b() -> None:
    assert order_row(a_order(1, state=OrderState.PENDING_PROVIDER), None, missing=False).note.startswith("not yet on B")
    assert order_row(a_order(2), None, missing=False).note.startswith("not yet linked")
    gone = order_row(a_order(3, link=203), None, missing=True)
    assert [d.kind for d in gone.drift] == [DriftKind.B_ORDER_MISSING]


def test_compare_lists_orders_oldest_first_with_their_b_orders_and_counts_all_drift() -> None:
    orders = [a_order(9, link=209), a_order(8, link=208), a_order(7)]
    comparison = compare(observed([a_res(1)], [], orders=orders, b_orders=[b_order(209, OrderState.DONE)],
                                  missing_orders={208}), FAN_OUT, BOTH)
    assert [o.a.uuid for o in comparison.orders] == [uid(7), uid(8), uid(9)]
    assert [o.b.uuid if o.b else None for o in comparison.orders] == [None, None, uid(209)]
    assert comparison.drift_count == 2  # r1 not linked, order 8's B order missing
